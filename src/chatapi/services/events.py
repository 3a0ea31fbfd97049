"""Catch-up: the conversation timeline after a seq, with the current state of what it names."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.media_urls import MediaSigner
from chatapi.models import Event, EventType, Message, User
from chatapi.ports import OnlineUsers
from chatapi.schemas import (
    EventCall,
    EventConversation,
    EventMember,
    EventReaction,
    EventRead,
    MessageRead,
    UserRead,
)
from chatapi.services import users
from chatapi.services.membership import readable_until, require_reader
from chatapi.services.messages.reads import pending_request, to_reads, withhold

EVENTS_LIMIT_MAX = 500


async def list_events(
    uow: UnitOfWork,
    *,
    viewer: User,
    conversation_id: uuid.UUID,
    after_seq: int,
    signer: MediaSigner,
    presence: OnlineUsers,
    limit: int = 50,
) -> list[EventRead]:
    """Events with `seq > after_seq`, ascending — everything a client missed. A former
    member reads up to their departure (its `member.removed` is the last they see)."""
    reader = await require_reader(uow, user_id=viewer.id, conversation_id=conversation_id)
    found = await load_events(
        uow,
        conversation_id=conversation_id,
        after_seq=after_seq,
        limit=limit,
        signer=signer,
        presence=presence,
        until_seq=readable_until(reader),
    )
    if not pending_request(reader):
        return found
    return [
        e.model_copy(update={"message": withhold([e.message])[0]}) if e.message else e
        for e in found
    ]


async def load_events(
    uow: UnitOfWork,
    *,
    conversation_id: uuid.UUID,
    after_seq: int,
    signer: MediaSigner,
    presence: OnlineUsers,
    limit: int = 50,
    until_seq: int | None = None,
) -> list[EventRead]:
    """The timeline slice (after_seq, until_seq], in at most three queries whatever its
    length: the events joined to the messages they name, those messages' attachments (when
    there are messages), the members they add (when some are added)."""
    stmt = (
        select(Event, Message)
        .outerjoin(Message, col(Message.id) == col(Event.message_id))
        .where(col(Event.conversation_id) == conversation_id, col(Event.seq) > after_seq)
        .order_by(col(Event.seq))
        .limit(min(max(limit, 1), EVENTS_LIMIT_MAX))
    )
    if until_seq is not None:
        stmt = stmt.where(col(Event.seq) <= until_seq)
    pairs = (await uow.session.execute(stmt)).tuples().all()
    rows = [event for event, _ in pairs]
    found = list({m.id: m for _, m in pairs if m is not None}.values())
    messages = {m.id: m for m in await to_reads(uow, found, signer=signer)}
    added = await _added_users(uow, rows, presence=presence, signer=signer)
    return [_read(e, messages, added) for e in rows]


async def _added_users(
    uow: UnitOfWork, rows: Sequence[Event], *, presence: OnlineUsers, signer: MediaSigner
) -> dict[uuid.UUID, UserRead]:
    """The profiles of the users that `member.added` events name."""
    ids = {
        e.subject_user_id for e in rows if e.type == EventType.member_added and e.subject_user_id
    }
    if not ids:
        return {}
    found = (await uow.session.scalars(select(User).where(col(User.id).in_(ids)))).all()
    return {u.id: u for u in await users.to_read(presence, found, signer=signer)}


def _read(
    e: Event, messages: dict[uuid.UUID, MessageRead], added: dict[uuid.UUID, UserRead]
) -> EventRead:
    data = e.data or {}
    member = (
        EventMember(
            user_id=e.subject_user_id,
            role=data.get("role"),
            # Like the live frame: only member.added carries the user's profile.
            user=added.get(e.subject_user_id) if e.type == EventType.member_added else None,
        )
        # A reaction's user is in `reaction`, not a member change.
        if e.subject_user_id is not None and e.type != EventType.message_reaction
        else None
    )
    conversation = (
        EventConversation(id=e.conversation_id, title=data.get("title"))
        if e.type == EventType.conversation_updated
        else None
    )
    reaction = (
        EventReaction(
            message_id=e.message_id,
            emoji=data["emoji"],
            user_id=e.subject_user_id,
            added=bool(data.get("added")),
        )
        if e.type == EventType.message_reaction
        and e.message_id is not None
        and e.subject_user_id is not None
        else None
    )
    call = EventCall.model_validate(data) if e.type == EventType.call_ended and data else None
    return EventRead(
        conversation_id=e.conversation_id,
        seq=e.seq,
        type=e.type,
        created_at=e.created_at,
        actor_id=e.actor_id,
        message=messages.get(e.message_id) if e.message_id else None,
        member=member,
        conversation=conversation,
        reaction=reaction,
        call=call,
    )
