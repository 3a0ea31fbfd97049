"""Notifications: your settings (on every device) and Web Push subscriptions."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from chatapi.api import errors
from chatapi.api.deps import CurrentSession, CurrentUser, ReadUowDep, StateDep, UowDep
from chatapi.schemas import (
    PushSubscriptionCreate,
    PushSubscriptionDelete,
    PushSubscriptionRead,
    UserSettingsRead,
    UserSettingsUpdate,
    VapidPublicKey,
)
from chatapi.services import push, user_settings

router = APIRouter(tags=["notifications"])


@router.get("/users/me/settings", responses=errors(401))
async def read_settings(user: CurrentUser, uow: ReadUowDep) -> UserSettingsRead:
    """Your settings, the same on every device of yours (all on until you change them)."""
    return await user_settings.read_settings(uow, user_id=user.id)


@router.patch("/users/me/settings", responses=errors(401))
async def update_settings(
    payload: UserSettingsUpdate, user: CurrentUser, uow: UowDep
) -> UserSettingsRead:
    """Change any of your settings (the others stay); answers all of them. Your other open
    sockets get a `settings.updated` frame. `notifications: false` stops pushes to every
    device of yours; `notification_previews: false` makes them say "New message" (still
    naming the sender and the conversation)."""
    settings = await user_settings.update_settings(
        uow, user_id=user.id, changes=payload.model_dump(exclude_none=True)
    )
    await uow.commit()
    return settings


@router.get("/push/vapid-public-key", responses=errors(404))
async def vapid_public_key(state: StateDep) -> VapidPublicKey:
    """The server's VAPID public key, for `PushManager.subscribe({applicationServerKey})`.
    No token needed. 404 `push_disabled` when push is switched off."""
    if state.vapid is None:
        raise push.push_disabled()
    return VapidPublicKey(public_key=state.vapid.public_key)


@router.post(
    "/push/subscriptions",
    status_code=status.HTTP_201_CREATED,
    responses={
        **errors(401, 404),
        200: {
            "model": PushSubscriptionRead,
            "description": "the endpoint was stored already: updated, now yours",
        },
    },
)
async def subscribe(
    payload: PushSubscriptionCreate,
    signed: CurrentSession,
    uow: UowDep,
    state: StateDep,
    response: Response,
) -> PushSubscriptionRead:
    """Register this browser for pushes: the body is `PushSubscription.toJSON()`. 201 when
    new; 200 when the endpoint was stored already (its keys updated, and it is yours and
    this session's from now on). Signing this session out deletes it. Beyond
    PUSH_MAX_SUBSCRIPTIONS_PER_USER your oldest subscription is deleted. 422
    `invalid_push_endpoint` for an endpoint that is not https://; 404 `push_disabled`."""
    if state.vapid is None:
        raise push.push_disabled()
    settings = state.settings
    found, created = await push.subscribe(
        uow,
        user_id=signed.user.id,
        session_id=signed.session_id,
        endpoint=payload.endpoint,
        p256dh=payload.keys.p256dh,
        auth=payload.keys.auth,
        max_per_user=settings.push_max_subscriptions_per_user,
        allow_http_loopback=settings.push_allow_http_loopback,
    )
    await uow.commit()
    if not created:
        response.status_code = status.HTTP_200_OK
    return PushSubscriptionRead.model_validate(found)


@router.get("/push/subscriptions", responses=errors(401))
async def list_subscriptions(user: CurrentUser, uow: ReadUowDep) -> list[PushSubscriptionRead]:
    """Your push subscriptions (one per browser or device), the newest first."""
    found = await push.list_subscriptions(uow, user_id=user.id)
    return [PushSubscriptionRead.model_validate(s) for s in found]


@router.delete("/push/subscriptions", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401))
async def unsubscribe(payload: PushSubscriptionDelete, user: CurrentUser, uow: UowDep) -> Response:
    """Stop pushes to this browser: `{"endpoint": ...}`. 204 also when no subscription of
    yours has it (someone else's is left alone)."""
    await push.unsubscribe(uow, user_id=user.id, endpoint=payload.endpoint)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
