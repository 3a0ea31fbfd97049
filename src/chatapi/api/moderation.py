"""Reports (anyone), the review queue and suspensions (moderators), the audit log and
instance administration (admins)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from chatapi.api import errors
from chatapi.api.deps import CurrentUser, ReadUowDep, StateDep, UowDep
from chatapi.models import InstanceRole, Invite, QueueItemStatus
from chatapi.schemas import (
    AuditRead,
    InviteCreate,
    InviteRead,
    ModerationAction,
    QueueItemRead,
    ReportCreate,
    ReportReceipt,
    RoleUpdate,
    SuspensionCreate,
    SuspensionRead,
    UserRead,
    UtcDatetime,
)
from chatapi.services import instance, moderation, users

router = APIRouter(tags=["moderation"], responses=errors(401))

REPORT_THANKS = (
    "Thank you: the report was sent to the server's moderators. The person you reported "
    "is not told who reported them."
)


@router.post("/reports", status_code=status.HTTP_201_CREATED, responses=errors(404, 429))
async def create_report(
    payload: ReportCreate, user: CurrentUser, uow: UowDep, state: StateDep
) -> ReportReceipt:
    """Report a message you can read (`message_id`) or a person (`user_id`) to the
    server's moderators: `reason` spam, abuse or other (with `text`). The reported person
    is not told. 404 `message_not_found` for a message you cannot read; 429
    `report_rate_limited` past REPORT_RATE_LIMIT."""
    item = await moderation.report(
        uow,
        reporter=user,
        message_id=payload.message_id,
        user_id=payload.user_id,
        reason=payload.reason,
        text=payload.text,
        quota=state.quotas.reports,
    )
    await uow.commit()
    return ReportReceipt(id=item.id, created_at=item.created_at, detail=REPORT_THANKS)


# --- moderators -------------------------------------------------------------------------


@router.get("/moderation/queue", responses=errors(403))
async def read_queue(
    user: CurrentUser,
    uow: ReadUowDep,
    state: StateDep,
    status: QueueItemStatus = QueueItemStatus.open,
    before: Annotated[
        UtcDatetime | None,
        Query(description="the `created_at` of the last item of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=moderation.QUEUE_LIMIT_MAX)] = 50,
) -> list[QueueItemRead]:
    """The review queue (moderators and admins; 403 `moderators_only`): open items the
    oldest first, or resolved ones the latest first, each with the reported message and
    the messages around it."""
    views = await moderation.queue(uow, moderator=user, status=status, limit=limit, before=before)
    return await moderation.read_views(
        uow, views, presence=state.presence, signer=state.media_signer.for_viewer(user.id)
    )


@router.post("/moderation/queue/{item_id}/actions", responses=errors(403, 404, 409))
async def act_on_item(
    item_id: uuid.UUID, payload: ModerationAction, user: CurrentUser, uow: UowDep, state: StateDep
) -> QueueItemRead:
    """Act on a queue item (moderators): `dismiss`; `delete_message` (its timeline shows it
    deleted); `suspend` the person (`suspend_hours`, or for good); `mark_spam` /
    `mark_not_spam` (kept to train the spam filter; `mark_spam` leaves the item open).
    Written to the audit log with `reason`. 409 `already_resolved`."""
    view = await moderation.act(
        uow,
        state.storage,
        moderator=user,
        item_id=item_id,
        action=payload.action,
        reason=payload.reason,
        suspend_hours=payload.suspend_hours,
        signer=state.media_signer,
    )
    await uow.commit()
    return (
        await moderation.read_views(
            uow, [view], presence=state.presence, signer=state.media_signer.for_viewer(user.id)
        )
    )[0]


@router.put("/moderation/users/{user_id}/suspension", responses=errors(403, 404))
async def suspend_user(
    user_id: uuid.UUID, payload: SuspensionCreate, user: CurrentUser, uow: UowDep, state: StateDep
) -> SuspensionRead:
    """Suspend an account for `hours` or for good (moderators; a moderator or admin only
    by an admin): its sockets close at once on every instance, its tokens stop working,
    and signing in answers 403 `account_suspended` until it ends."""
    target = await moderation.suspend(
        uow, actor=user, user_id=user_id, hours=payload.hours, reason=payload.reason
    )
    await uow.commit()
    return SuspensionRead(
        user=(await users.to_read(state.presence, [target], signer=state.media_signer))[0],
        suspended_until=target.suspended_until,
    )


@router.delete("/moderation/users/{user_id}/suspension", responses=errors(403, 404))
async def lift_suspension(
    user_id: uuid.UUID,
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
    reason: Annotated[str, Query(max_length=1000)] = "",
) -> SuspensionRead:
    """End a suspension now (moderators; idempotent)."""
    target = await moderation.lift_suspension(uow, actor=user, user_id=user_id, reason=reason)
    await uow.commit()
    return SuspensionRead(
        user=(await users.to_read(state.presence, [target], signer=state.media_signer))[0],
        suspended_until=None,
    )


# --- admins -----------------------------------------------------------------------------


@router.get("/moderation/audit", responses=errors(403))
async def read_audit(
    user: CurrentUser,
    uow: ReadUowDep,
    state: StateDep,
    before: Annotated[
        UtcDatetime | None, Query(description="the `created_at` of the last entry seen")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=instance.AUDIT_LIMIT_MAX)] = 50,
) -> list[AuditRead]:
    """The audit log, newest first (admins; 403 `admins_only`): every moderation and
    administration action — who, what, when, why."""
    entries = await instance.audit_log(uow, actor=user, before=before, limit=limit)
    return await moderation.read_audit(
        uow, entries, presence=state.presence, signer=state.media_signer
    )


@router.put("/admin/users/{user_id}/role", responses=errors(403, 404))
async def set_role(
    user_id: uuid.UUID, payload: RoleUpdate, user: CurrentUser, uow: UowDep, state: StateDep
) -> UserRead:
    """Grant the instance role `admin` or `moderator`, or take it away (`null`); admins."""
    instance.require_admin(user)
    target = await users.get_user(uow, user_id=user_id)
    await instance.set_role(
        uow,
        actor=user,
        target=target,
        role=InstanceRole(payload.role) if payload.role else None,
        reason=payload.reason,
    )
    await uow.commit()
    return (await users.to_read(state.presence, [target], signer=state.media_signer))[0]


def _invite_read(invite: Invite, code: str | None = None) -> InviteRead:
    return InviteRead(
        id=invite.id,
        code=code,
        created_at=invite.created_at,
        expires_at=invite.expires_at,
        max_uses=invite.max_uses,
        uses=invite.uses,
        revoked=invite.revoked_at is not None,
    )


@router.post("/admin/invites", status_code=status.HTTP_201_CREATED, responses=errors(403))
async def create_invite(payload: InviteCreate, user: CurrentUser, uow: UowDep) -> InviteRead:
    """A new invite code for REGISTRATION=invite (admins): good for `max_uses`
    registrations within `expires_in_hours`. The code is in this answer only."""
    invite, code = await instance.create_invite(
        uow,
        actor=user,
        max_uses=payload.max_uses,
        expires_in=timedelta(hours=payload.expires_in_hours),
    )
    await uow.commit()
    return _invite_read(invite, code)


@router.get("/admin/invites", responses=errors(403))
async def list_invites(user: CurrentUser, uow: ReadUowDep) -> list[InviteRead]:
    """Invites, the newest first (admins); their codes are not shown again."""
    return [_invite_read(i) for i in await instance.list_invites(uow, actor=user)]


@router.delete(
    "/admin/invites/{invite_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(403, 404),
)
async def revoke_invite(invite_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> Response:
    """Revoke an invite: it admits nobody more (admins)."""
    await instance.revoke_invite(uow, actor=user, invite_id=invite_id)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
