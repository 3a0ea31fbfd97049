"""Emoji reactions: any member adds or removes one on any message that is not deleted;
each change is numbered in the timeline (`message.reaction`), so every member sees it live
and catch-up replays it."""

from __future__ import annotations

import uuid

from chatapi.db import UnitOfWork
from chatapi.errors import Unprocessable
from chatapi.media_urls import MediaSigner
from chatapi.models import EventType, Reaction, User
from chatapi.ports import Quota
from chatapi.schemas import EventReaction, MessageRead
from chatapi.services import timeline
from chatapi.services.messages.edit import visible_message
from chatapi.services.messages.emoji import normalize_emoji
from chatapi.services.messages.reads import to_reads


async def react(
    uow: UnitOfWork,
    *,
    user: User,
    message_id: uuid.UUID,
    emoji: str,
    added: bool,
    signer: MediaSigner,
    quota: Quota,
) -> MessageRead:
    """Add (`added`) or remove your `emoji` reaction on a message; idempotent: adding one
    you have, or removing one you do not, changes nothing and numbers nothing. Returns the
    message as it stands, read by `signer`'s viewer."""
    emoji = normalize_emoji(emoji)
    message, _ = await visible_message(uow, user=user, message_id=message_id)
    if message.deleted_at is not None:
        raise Unprocessable("This message was deleted.", code="message_deleted")
    existing = await uow.session.get(Reaction, (message.id, user.id, emoji))
    if added == (existing is not None):
        return (await to_reads(uow, [message], signer=signer))[0]
    await quota.take(str(user.id))
    if existing is None:
        uow.session.add(Reaction(message_id=message.id, user_id=user.id, emoji=emoji))
    else:
        await uow.session.delete(existing)
    event = await timeline.record(
        uow,
        conversation_id=message.conversation_id,
        type=EventType.message_reaction,
        actor_id=user.id,
        message_id=message.id,
        subject_user_id=user.id,
        data={"emoji": emoji, "added": added},
    )
    await uow.session.flush()
    read = (await to_reads(uow, [message], signer=signer))[0]
    # The hub sets each reaction's `me` (and signs media links) for every recipient.
    timeline.announce(
        uow,
        event,
        message=read,
        reaction=EventReaction(message_id=message.id, emoji=emoji, user_id=user.id, added=added),
    )
    return read
