"""Pinned messages: the owners and admins of a group (either person in a direct chat) pin
and unpin messages; each change is numbered in the timeline (`message.pinned`,
`message.unpinned`). A deleted message loses its pin (`edit.delete_message`)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import Forbidden, NotFound, Unprocessable
from chatapi.media_urls import MediaSigner
from chatapi.models import ConversationKind, EventType, Message, Pin, User
from chatapi.ports import Quota
from chatapi.schemas import MessageRead, PinRead
from chatapi.services import timeline
from chatapi.services.membership import MANAGERS, get_conversation, require_member
from chatapi.services.messages.edit import visible_message
from chatapi.services.messages.reads import to_reads

PINS_LIMIT_MAX = 200


async def _pinnable(
    uow: UnitOfWork, *, user: User, conversation_id: uuid.UUID, message_id: uuid.UUID
) -> Message:
    """The message (of this conversation, locked like an edit), when the caller may pin in
    it: 404 for a non-member or a message of another conversation, 403 `not_allowed` for a
    plain member of a group."""
    try:
        message, me = await visible_message(uow, user=user, message_id=message_id)
    except NotFound:
        # Not a member of the message's conversation: is the conversation itself visible?
        await require_member(uow, user_id=user.id, conversation_id=conversation_id)
        raise
    if message.conversation_id != conversation_id:
        raise NotFound("No such message in this conversation.", code="message_not_found")
    conversation = await get_conversation(uow, conversation_id)
    if conversation.kind == ConversationKind.group and me.role not in MANAGERS:
        raise Forbidden(
            "Only an owner or admin of this group can pin or unpin messages.",
            code="not_allowed",
        )
    return message


async def pin(
    uow: UnitOfWork,
    *,
    user: User,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    signer: MediaSigner,
    quota: Quota,
) -> PinRead:
    """Pin a message; pinning one already pinned changes nothing."""
    message = await _pinnable(
        uow, user=user, conversation_id=conversation_id, message_id=message_id
    )
    if message.deleted_at is not None:
        raise Unprocessable("This message was deleted.", code="message_deleted")
    existing = await uow.session.get(Pin, message.id)
    if existing is None:
        await quota.take(str(user.id))
        existing = Pin(message_id=message.id, conversation_id=conversation_id, pinned_by=user.id)
        uow.session.add(existing)
        await _record(uow, message, EventType.message_pinned, user=user, signer=signer)
    read = (await to_reads(uow, [message], signer=signer))[0]
    return PinRead(message=read, pinned_by=existing.pinned_by, pinned_at=existing.pinned_at)


async def unpin(
    uow: UnitOfWork,
    *,
    user: User,
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    signer: MediaSigner,
    quota: Quota,
) -> None:
    """Unpin a message; unpinning one not pinned changes nothing."""
    message = await _pinnable(
        uow, user=user, conversation_id=conversation_id, message_id=message_id
    )
    existing = await uow.session.get(Pin, message.id)
    if existing is not None:
        await quota.take(str(user.id))
        await uow.session.delete(existing)
        await _record(uow, message, EventType.message_unpinned, user=user, signer=signer)


async def _record(
    uow: UnitOfWork, message: Message, type: EventType, *, user: User, signer: MediaSigner
) -> MessageRead:
    event = await timeline.record(
        uow,
        conversation_id=message.conversation_id,
        type=type,
        actor_id=user.id,
        message_id=message.id,
    )
    await uow.session.flush()
    read = (await to_reads(uow, [message], signer=signer))[0]
    timeline.announce(uow, event, message=read)
    return read


async def list_pins(
    uow: UnitOfWork, *, viewer: User, conversation_id: uuid.UUID, signer: MediaSigner
) -> list[PinRead]:
    """The conversation's pinned messages, newest pin first."""
    await require_member(uow, user_id=viewer.id, conversation_id=conversation_id)
    stmt = (
        select(Pin, Message)
        .join(Message, col(Message.id) == col(Pin.message_id))
        .where(col(Pin.conversation_id) == conversation_id)
        .order_by(col(Pin.pinned_at).desc(), col(Message.seq).desc())
        .limit(PINS_LIMIT_MAX)
    )
    pairs = (await uow.session.execute(stmt)).tuples().all()
    reads = {m.id: m for m in await to_reads(uow, [m for _, m in pairs], signer=signer)}
    return [
        PinRead(message=reads[m.id], pinned_by=p.pinned_by, pinned_at=p.pinned_at) for p, m in pairs
    ]
