"""Editing and deleting messages: the message changes in place, and the change is
numbered in the timeline so every member (and catch-up) sees it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, exists, select
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import Forbidden, NotFound, Unprocessable
from chatapi.media_urls import MediaSigner
from chatapi.models import (
    ConversationKind,
    EventType,
    Media,
    Member,
    Message,
    Pin,
    Reaction,
    User,
)
from chatapi.schemas import MessageRead
from chatapi.services import timeline
from chatapi.services.media import attachments
from chatapi.services.membership import (
    MANAGERS,
    get_conversation,
    lock_conversation,
    require_member,
)
from chatapi.services.messages import mentions
from chatapi.services.messages.reads import to_reads
from chatapi.services.messages.send import clean_body
from chatapi.storage import MediaStorage


async def visible_message(
    uow: UnitOfWork, *, user: User, message_id: uuid.UUID
) -> tuple[Message, Member]:
    """The message, read again under its conversation's lock (`lock_conversation`), so an
    edit and a delete of it queue and the second sees what the first committed; and the
    caller's membership. A non-member gets 404 as if the message did not exist."""
    message = await uow.session.get(Message, message_id)
    if message is None:
        raise NotFound("No such message.", code="message_not_found")
    try:
        await lock_conversation(uow, message.conversation_id)
        await uow.session.refresh(message)
        me = await require_member(uow, user_id=user.id, conversation_id=message.conversation_id)
    except NotFound:
        raise NotFound("No such message.", code="message_not_found") from None
    return message, me


async def edit_message(
    uow: UnitOfWork, *, user: User, message_id: uuid.UUID, body: str, signer: MediaSigner
) -> MessageRead:
    """Change the text of your own message."""
    message, _ = await visible_message(uow, user=user, message_id=message_id)
    if message.sender_id != user.id:
        raise Forbidden("You can only edit your own messages.", code="not_sender")
    if message.deleted_at is not None:
        raise Unprocessable("This message was deleted.", code="message_deleted")
    attached = await attachments.attachments_for(uow, message_ids=[message.id])
    message.body = clean_body(body, has_attachments=bool(attached.get(message.id)))
    message.edited_at = datetime.now(UTC)
    found = (
        await mentions.resolve(
            uow, [mentions.Draft(message.conversation_id, message.sender_id, message.body)]
        )
    )[0]
    message.mentions = found.stored()
    message.mentions_all = found.all
    await mentions.replace(uow, message_id=message.id, mentions=found)
    return await _record_change(
        uow, message, EventType.message_edited, actor_id=user.id, signer=signer
    )


async def delete_message(
    uow: UnitOfWork,
    storage: MediaStorage,
    *,
    user: User,
    message_id: uuid.UUID,
    signer: MediaSigner,
) -> None:
    """Delete a message (its sender, or a group owner/admin): body and files go, the
    timeline keeps it as deleted."""
    message, me = await visible_message(uow, user=user, message_id=message_id)
    if message.sender_id != user.id:
        conversation = await get_conversation(uow, message.conversation_id)
        if conversation.kind != ConversationKind.group or me.role not in MANAGERS:
            raise Forbidden("You can only delete your own messages.", code="not_allowed")
    if message.deleted_at is not None:
        return
    await _erase(uow, storage, message)
    await _record_change(uow, message, EventType.message_deleted, actor_id=user.id, signer=signer)


async def delete_as_moderator(
    uow: UnitOfWork,
    storage: MediaStorage,
    *,
    message_id: uuid.UUID,
    actor_id: uuid.UUID,
    signer: MediaSigner,
) -> None:
    """An instance moderator deletes a message from the review queue (the caller checked
    the role): as its sender would, with `message.deleted` in the timeline."""
    message = await uow.session.get(Message, message_id)
    if message is None:
        raise NotFound("No such message.", code="message_not_found")
    await lock_conversation(uow, message.conversation_id)
    await uow.session.refresh(message)
    if message.deleted_at is not None:
        return
    await _erase(uow, storage, message)
    await _record_change(uow, message, EventType.message_deleted, actor_id=actor_id, signer=signer)


async def _erase(uow: UnitOfWork, storage: MediaStorage, message: Message) -> None:
    """What deleting a message takes away: its body, mentions, files, pin and reactions
    (its `message.deleted` says `pinned: false` and no reactions)."""
    message.deleted_at = datetime.now(UTC)
    message.body = ""
    message.mentions = None
    message.mentions_all = False
    await mentions.replace(uow, message_id=message.id, mentions=mentions.NONE)
    await uow.session.execute(delete(Pin).where(col(Pin.message_id) == message.id))
    await uow.session.execute(delete(Reaction).where(col(Reaction.message_id) == message.id))
    await attachments.detach_for_deleted_message(uow, storage, message_id=message.id)


async def delete_with_files(
    uow: UnitOfWork, storage: MediaStorage, *, user: User, signer: MediaSigner
) -> int:
    """A closing account's files go: each message of it with attachments is deleted as
    its sender would delete it (`message.deleted`, body too), in every conversation,
    whether or not the person is still in it. Returns how many."""
    with_files = (
        await uow.session.scalars(
            select(Message)
            .where(
                col(Message.sender_id) == user.id,
                col(Message.deleted_at).is_(None),
                exists().where(col(Media.message_id) == col(Message.id)),
            )
            .order_by(col(Message.conversation_id), col(Message.seq))
        )
    ).all()
    for message in with_files:
        await _erase(uow, storage, message)
        await _record_change(
            uow, message, EventType.message_deleted, actor_id=user.id, signer=signer
        )
    return len(with_files)


async def _record_change(
    uow: UnitOfWork,
    message: Message,
    type: EventType,
    *,
    actor_id: uuid.UUID,
    signer: MediaSigner,
) -> MessageRead:
    """Number a change to a message in its timeline and announce it with the message's
    current state."""
    event = await timeline.record(
        uow,
        conversation_id=message.conversation_id,
        type=type,
        actor_id=actor_id,
        message_id=message.id,
    )
    await uow.session.flush()
    read = (await to_reads(uow, [message], signer=signer))[0]
    timeline.announce(uow, event, message=read)
    return read
