"""Reactions on messages and pinned messages."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Path, Response, status

from chatapi.api import errors
from chatapi.api.deps import CurrentUser, ReadUowDep, StateDep, UowDep
from chatapi.schemas import MessageRead, PinRead
from chatapi.services.messages import pins, reactions

router = APIRouter(tags=["reactions and pins"], responses=errors(401))

EmojiPath = Path(
    description="one emoji, URL-encoded (👍 is %F0%9F%91%8D), or a :shortcode: such as "
    ":thumbsup:; anything else is 422 `invalid_emoji`",
    examples=["%F0%9F%91%8D"],
)


@router.put("/messages/{message_id}/reactions/{emoji}", responses=errors(404, 429))
async def add_reaction(
    message_id: uuid.UUID,
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
    emoji: str = EmojiPath,
) -> MessageRead:
    """React to a message with an emoji (idempotent: once per person and emoji). 422
    `invalid_emoji` for anything but one emoji, 422 `message_deleted` for a deleted
    message; 404 `message_not_found` when you are not in its conversation."""
    message = await reactions.react(
        uow,
        user=user,
        message_id=message_id,
        emoji=emoji,
        added=True,
        signer=state.media_signer.for_viewer(user.id),
        quota=state.quotas.reactions,
    )
    await uow.commit()
    return message


@router.delete("/messages/{message_id}/reactions/{emoji}", responses=errors(404, 429))
async def remove_reaction(
    message_id: uuid.UUID,
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
    emoji: str = EmojiPath,
) -> MessageRead:
    """Take your emoji reaction back (idempotent). Answers the message as it now stands."""
    message = await reactions.react(
        uow,
        user=user,
        message_id=message_id,
        emoji=emoji,
        added=False,
        signer=state.media_signer.for_viewer(user.id),
        quota=state.quotas.reactions,
    )
    await uow.commit()
    return message


@router.get("/conversations/{conversation_id}/pins", responses=errors(404))
async def list_pins(
    conversation_id: uuid.UUID, user: CurrentUser, uow: ReadUowDep, state: StateDep
) -> list[PinRead]:
    """The conversation's pinned messages, newest pin first (at most 200)."""
    return await pins.list_pins(
        uow,
        viewer=user,
        conversation_id=conversation_id,
        signer=state.media_signer.for_viewer(user.id),
    )


@router.put("/conversations/{conversation_id}/pins/{message_id}", responses=errors(403, 404, 429))
async def pin_message(
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
) -> PinRead:
    """Pin a message (idempotent): a group's owners and admins, either person in a direct
    chat. 403 `not_allowed` for a plain member of a group, 422 `message_deleted`."""
    pinned = await pins.pin(
        uow,
        user=user,
        conversation_id=conversation_id,
        message_id=message_id,
        signer=state.media_signer.for_viewer(user.id),
        quota=state.quotas.reactions,
    )
    await uow.commit()
    return pinned


@router.delete(
    "/conversations/{conversation_id}/pins/{message_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(403, 404, 429),
)
async def unpin_message(
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
) -> Response:
    """Unpin a message (idempotent); same rights as pinning."""
    await pins.unpin(
        uow,
        user=user,
        conversation_id=conversation_id,
        message_id=message_id,
        signer=state.media_signer.for_viewer(user.id),
        quota=state.quotas.reactions,
    )
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
