from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from chatapi.api import errors
from chatapi.api.deps import CurrentUser, ReadUowDep, StateDep, UowDep
from chatapi.schemas import (
    ConversationCreate,
    ConversationRead,
    ConversationSettings,
    ConversationSettingsUpdate,
    ConversationUpdate,
    MemberAdd,
    MemberRead,
    MemberUpdate,
    ReadMarker,
    UtcDatetime,
)
from chatapi.services import blocks, conversation_list, conversations, mute, receipts

router = APIRouter(prefix="/conversations", tags=["conversations"], responses=errors(401))


async def _read_one(
    uow: UowDep, state: StateDep, user: CurrentUser, conversation_id: uuid.UUID
) -> ConversationRead:
    return (
        await conversation_list.read_conversations(
            uow,
            user=user,
            presence=state.presence,
            signer=state.media_signer.for_viewer(user.id),
            conversation_id=conversation_id,
        )
    )[0]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": ConversationRead, "description": "the existing direct chat"},
        **errors(429),
    },
)
async def create_conversation(
    payload: ConversationCreate,
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
    response: Response,
) -> ConversationRead:
    """Start a group, or open the direct chat with someone (the same one every time)."""
    conversation, created = await conversations.create_conversation(
        uow, creator=user, data=payload, adds=state.quotas.member_adds
    )
    await uow.commit()
    if not created:
        response.status_code = status.HTTP_200_OK
    return await _read_one(uow, state, user, conversation.id)


@router.get("")
async def list_conversations(
    user: CurrentUser,
    uow: ReadUowDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=conversation_list.LIST_LIMIT_MAX)] = 100,
    before: Annotated[
        UtcDatetime | None,
        Query(description="cursor: only conversations last active before this time"),
    ] = None,
    include_former: Annotated[
        bool,
        Query(
            description="also list the groups you left or were removed from (with `former` "
            "set; their history stays readable up to your departure)"
        ),
    ] = False,
) -> list[ConversationRead]:
    """Your conversations, most recently active first, with unread counts and last messages."""
    return await conversation_list.read_conversations(
        uow,
        user=user,
        presence=state.presence,
        signer=state.media_signer.for_viewer(user.id),
        limit=limit,
        before=before,
        include_former=include_former,
    )


@router.get("/{conversation_id}", responses=errors(404))
async def read_conversation(
    conversation_id: uuid.UUID, user: CurrentUser, uow: ReadUowDep, state: StateDep
) -> ConversationRead:
    """One conversation you belong to, or one you left or were removed from (`former`)."""
    return await _read_one(uow, state, user, conversation_id)


@router.patch("/{conversation_id}", responses=errors(403, 404))
async def update_conversation(
    conversation_id: uuid.UUID,
    payload: ConversationUpdate,
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
) -> ConversationRead:
    """Rename a group (owner or admin)."""
    await conversations.rename(
        uow, actor=user, conversation_id=conversation_id, title=payload.title
    )
    await uow.commit()
    return await _read_one(uow, state, user, conversation_id)


@router.post("/{conversation_id}/accept", responses=errors(404))
async def accept_request(
    conversation_id: uuid.UUID, user: CurrentUser, uow: UowDep, state: StateDep
) -> ConversationRead:
    """Accept a message request (idempotent): the chat becomes a normal one and its
    attachments are shown. To refuse it, block the sender (`PUT /users/me/blocks/{id}`)
    and/or report it (`POST /reports`)."""
    await blocks.accept_request(uow, user=user, conversation_id=conversation_id)
    await uow.commit()
    return await _read_one(uow, state, user, conversation_id)


@router.patch("/{conversation_id}/settings", responses=errors(404))
async def update_settings(
    conversation_id: uuid.UUID, payload: ConversationSettingsUpdate, user: CurrentUser, uow: UowDep
) -> ConversationSettings:
    """Your own settings for a conversation, on every device of yours: mute it for an hour,
    8 hours, a week or until unmuted (`"always"`), or unmute it (`"off"`). A muted
    conversation notifies you only when a message mentions you."""
    settings = await mute.set_mute(
        uow, user_id=user.id, conversation_id=conversation_id, choice=payload.mute
    )
    await uow.commit()
    return settings


@router.get("/{conversation_id}/members", responses=errors(404))
async def list_members(
    conversation_id: uuid.UUID, user: CurrentUser, uow: ReadUowDep, state: StateDep
) -> list[MemberRead]:
    """Members with their roles and read/delivered markers."""
    return await conversations.list_members(
        uow,
        user=user,
        conversation_id=conversation_id,
        presence=state.presence,
        signer=state.media_signer,
    )


async def _member_read(
    uow: UowDep,
    state: StateDep,
    user: CurrentUser,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
) -> MemberRead:
    members = await conversations.list_members(
        uow,
        user=user,
        conversation_id=conversation_id,
        presence=state.presence,
        signer=state.media_signer,
    )
    return next(m for m in members if m.user.id == user_id)


@router.post(
    "/{conversation_id}/members",
    status_code=status.HTTP_201_CREATED,
    responses=errors(403, 404, 409, 429),
)
async def add_member(
    conversation_id: uuid.UUID,
    payload: MemberAdd,
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
) -> MemberRead:
    """Add someone to a group (owner or admin; only the owner adds admins)."""
    await conversations.add_member(
        uow,
        actor=user,
        conversation_id=conversation_id,
        user_id=payload.user_id,
        role=payload.role,
        presence=state.presence,
        adds=state.quotas.member_adds,
        signer=state.media_signer,
    )
    await uow.commit()
    return await _member_read(uow, state, user, conversation_id, payload.user_id)


@router.patch("/{conversation_id}/members/{user_id}", responses=errors(403, 404, 409))
async def change_role(
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
    payload: MemberUpdate,
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
) -> MemberRead:
    """Change a member's role (owner only). A group always keeps an owner."""
    await conversations.change_role(
        uow, actor=user, conversation_id=conversation_id, user_id=user_id, role=payload.role
    )
    await uow.commit()
    return await _member_read(uow, state, user, conversation_id, user_id)


@router.delete(
    "/{conversation_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(403, 404),
)
async def remove_member(
    conversation_id: uuid.UUID, user_id: uuid.UUID, user: CurrentUser, uow: UowDep
) -> Response:
    """Remove a member (owner or admin), or leave: remove yourself."""
    await conversations.remove_member(
        uow, actor=user, conversation_id=conversation_id, user_id=user_id
    )
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/{conversation_id}/former",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(404),
)
async def forget_former(conversation_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> Response:
    """Delete a conversation you left or were removed from from your list: its history is
    no longer readable to you. (Members leave with DELETE …/members/{your id}.)"""
    await conversations.forget(uow, user=user, conversation_id=conversation_id)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{conversation_id}/read", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404)
)
async def mark_read(
    conversation_id: uuid.UUID, payload: ReadMarker, user: CurrentUser, uow: UowDep
) -> Response:
    """Move your read marker forward to `seq` (never back)."""
    await receipts.mark_read(uow, user=user, conversation_id=conversation_id, seq=payload.seq)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{conversation_id}/delivered", status_code=status.HTTP_204_NO_CONTENT, responses=errors(404)
)
async def mark_delivered(
    conversation_id: uuid.UUID, payload: ReadMarker, user: CurrentUser, uow: UowDep
) -> Response:
    """Move your delivered marker forward to `seq` (never back)."""
    await receipts.mark_delivered(uow, user=user, conversation_id=conversation_id, seq=payload.seq)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
