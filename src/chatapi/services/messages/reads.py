"""Messages as clients read them: `MessageRead` with attachments, signed links, reactions
and whether they are pinned."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import String, Uuid, cast, null, select, union_all
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.media_urls import MediaSigner
from chatapi.models import FormerMember, Media, Member, Message, Pin, Reaction
from chatapi.schemas import MessageRead, ReactionRead
from chatapi.services.media import attachments


async def to_reads(
    uow: UnitOfWork, messages: Sequence[Message], *, signer: MediaSigner
) -> list[MessageRead]:
    """MessageRead models with attachments, reactions and pins, in two queries for all of
    them. `me` in a reaction is for the signer's viewer (nobody for a broadcast frame: the
    hub sets it per recipient, `realtime/personal.py`)."""
    if not messages:
        return []
    ids = [m.id for m in messages]
    attached = await attachments.attachments_for(uow, message_ids=ids)
    reactions, pinned = await marks_for(uow, message_ids=ids, viewer=signer.viewer)
    return [
        _read(
            m,
            attached.get(m.id, []),
            reactions.get(m.id, []),
            pinned=m.id in pinned,
            signer=signer,
        )
        for m in messages
    ]


async def marks_for(
    uow: UnitOfWork, *, message_ids: Sequence[uuid.UUID], viewer: uuid.UUID | None
) -> tuple[dict[uuid.UUID, list[ReactionRead]], set[uuid.UUID]]:
    """Each message's reactions (by emoji in the order first used, reactors earliest
    first), and which of the messages are pinned: one query (a pin is a row without an
    emoji), so a page of messages costs no more statements with them than without."""
    marks = union_all(
        select(
            col(Reaction.message_id).label("message_id"),
            col(Reaction.emoji).label("emoji"),
            col(Reaction.user_id).label("user_id"),
            col(Reaction.created_at).label("at"),
        ).where(col(Reaction.message_id).in_(message_ids)),
        select(
            col(Pin.message_id),
            cast(null(), String(64)).label("emoji"),
            cast(null(), Uuid()).label("user_id"),
            col(Pin.pinned_at).label("at"),
        ).where(col(Pin.message_id).in_(message_ids)),
    ).subquery()
    stmt = select(marks.c.message_id, marks.c.emoji, marks.c.user_id).order_by(
        marks.c.at, marks.c.user_id
    )
    grouped: dict[uuid.UUID, dict[str, list[uuid.UUID]]] = {}
    pinned: set[uuid.UUID] = set()
    for message_id, emoji, user_id in await uow.session.execute(stmt):
        if emoji is None:
            pinned.add(message_id)
        else:
            grouped.setdefault(message_id, {}).setdefault(emoji, []).append(user_id)
    by_message = {
        message_id: [
            ReactionRead(emoji=e, count=len(users), user_ids=users, me=viewer in users)
            for e, users in by_emoji.items()
        ]
        for message_id, by_emoji in grouped.items()
    }
    return by_message, pinned


def withhold(reads: Sequence[MessageRead]) -> list[MessageRead]:
    """Messages as the recipient of a message request reads them before accepting it:
    without their attachments (`attachments_withheld` says there were some)."""
    return [
        r.model_copy(update={"attachments": [], "attachments_withheld": True})
        if r.attachments
        else r
        for r in reads
    ]


def pending_request(reader: Member | FormerMember) -> bool:
    """Whether the reader is a member with a message request not accepted yet."""
    return isinstance(reader, Member) and reader.request


def withheld_for(reader: Member | FormerMember, reads: list[MessageRead]) -> list[MessageRead]:
    """`withhold` when the reader has a message request pending."""
    return withhold(reads) if pending_request(reader) else reads


def _read(
    message: Message,
    files: Sequence[Media],
    reactions: list[ReactionRead],
    *,
    pinned: bool,
    signer: MediaSigner,
) -> MessageRead:
    deleted = message.deleted_at is not None
    return MessageRead(
        id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        sender_id=message.sender_id,
        body="" if deleted else message.body,
        client_id=message.client_id,
        reply_to_id=message.reply_to_id,
        attachments=[] if deleted else [attachments.to_read(a, signer=signer) for a in files],
        created_at=message.created_at,
        edited_at=message.edited_at,
        deleted=deleted,
        mentions=[] if deleted else [uuid.UUID(u) for u in message.mentions or ()],
        mentions_all=not deleted and message.mentions_all,
        reactions=[] if deleted else reactions,
        pinned=pinned and not deleted,
    )
