"""Catch-up: the conversation timeline after a seq, with the current state of what it names."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.models import Event, Message, User
from chatapi.realtime.presence import Presence
from chatapi.schemas import EventConversation, EventMember, EventRead
from chatapi.services import messages, users
from chatapi.services.conversations import require_member
from chatapi.services.media import MediaSigner

EVENTS_LIMIT_MAX = 500


async def list_events(
    uow: UnitOfWork,
    *,
    viewer: User,
    conversation_id: uuid.UUID,
    after_seq: int,
    signer: MediaSigner,
    presence: Presence,
    limit: int = 50,
) -> list[EventRead]:
    """Events with `seq > after_seq`, ascending — everything a client missed."""
    await require_member(uow, user_id=viewer.id, conversation_id=conversation_id)
    return await load_events(
        uow,
        conversation_id=conversation_id,
        after_seq=after_seq,
        limit=limit,
        signer=signer,
        presence=presence,
    )


async def load_events(
    uow: UnitOfWork,
    *,
    conversation_id: uuid.UUID,
    after_seq: int,
    signer: MediaSigner,
    presence: Presence,
    limit: int = 50,
    until_seq: int | None = None,
) -> list[EventRead]:
    """The timeline slice (after_seq, until_seq], in three queries whatever its length."""
    stmt = (
        select(Event)
        .where(col(Event.conversation_id) == conversation_id, col(Event.seq) > after_seq)
        .order_by(col(Event.seq))
        .limit(min(max(limit, 1), EVENTS_LIMIT_MAX))
    )
    if until_seq is not None:
        stmt = stmt.where(col(Event.seq) <= until_seq)
    rows = list((await uow.session.scalars(stmt)).all())
    message_ids = [e.message_id for e in rows if e.message_id is not None]
    msgs = (
        list(
            (
                await uow.session.scalars(select(Message).where(col(Message.id).in_(message_ids)))
            ).all()
        )
        if message_ids
        else []
    )
    reads = {m.id: m for m in await messages.to_reads(uow, msgs, signer=signer)}
    subject_ids = {
        e.subject_user_id for e in rows if e.type == "member.added" and e.subject_user_id
    }
    subjects = (
        list((await uow.session.scalars(select(User).where(col(User.id).in_(subject_ids)))).all())
        if subject_ids
        else []
    )
    user_reads = {u.id: u for u in await users.to_read(presence, subjects)}
    out: list[EventRead] = []
    for e in rows:
        data = e.data or {}
        member = (
            EventMember(
                user_id=e.subject_user_id,
                role=data.get("role"),
                # Like the live frame: only member.added carries the user's profile.
                user=user_reads.get(e.subject_user_id) if e.type == "member.added" else None,
            )
            if e.subject_user_id is not None
            else None
        )
        conversation = (
            EventConversation(id=conversation_id, title=data.get("title"))
            if e.type == "conversation.updated"
            else None
        )
        out.append(
            EventRead(
                conversation_id=e.conversation_id,
                seq=e.seq,
                type=e.type,
                created_at=e.created_at,
                actor_id=e.actor_id,
                message=reads.get(e.message_id) if e.message_id else None,
                member=member,
                conversation=conversation,
            )
        )
    return out
