"""The conversation timeline: gapless per-conversation seqs and the events they number."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Integer, String, Table, Update, Uuid, bindparam, func, update
from sqlalchemy.dialects import postgresql
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.domain import TimelineAppended
from chatapi.models import Conversation, Event, EventType
from chatapi.schemas import (
    EventCall,
    EventConversation,
    EventMember,
    EventReaction,
    EventRead,
    MessageRead,
)

_CONVERSATIONS: Table = Conversation.__table__  # type: ignore[attr-defined]
_C = _CONVERSATIONS.c
# One conversation's seqs (every batch of one), built once: Core, no ORM bookkeeping.
_TAKE_SEQS_ONE = (
    update(_CONVERSATIONS)
    .where(_C.id == bindparam("conversation"))
    .values(
        last_seq=_C.last_seq + bindparam("step", type_=Integer),
        last_activity_at=bindparam("activity", type_=_C.last_activity_at.type),
    )
    .returning(_C.id, _C.last_seq)
)


def _take_seqs_many(dialect: str) -> Update:
    """Several conversations' seqs, each its own count, in one statement of a fixed shape
    (built and compiled once, whatever the number of conversations): the counts travel
    as one parameter, two arrays unnested on PostgreSQL, a JSON object on SQLite (keyed
    by the id as SQLite stores it: 32 hex digits)."""
    if dialect == "postgresql":
        steps = (
            func.unnest(
                bindparam("ids", type_=postgresql.ARRAY(Uuid())),
                bindparam("counts", type_=postgresql.ARRAY(Integer())),
            )
            .table_valued("id", "n")
            .render_derived(name="steps")
        )
        step_id, step = steps.c.id, steps.c.n
    else:
        steps = (
            func.json_each(bindparam("counts", type_=String()))
            .table_valued("key", "value")
            .alias("steps")
        )
        step_id, step = steps.c.key, steps.c.value
    return (
        update(_CONVERSATIONS)
        .where(_C.id == step_id)
        .values(
            last_seq=_C.last_seq + step,
            last_activity_at=bindparam("activity", type_=_C.last_activity_at.type),
        )
        .returning(_C.id, _C.last_seq)
    )


_TAKE_SEQS_MANY = {name: _take_seqs_many(name) for name in ("postgresql", "sqlite")}


def _counts_params(dialect: str, counts: dict[uuid.UUID, int]) -> dict[str, Any]:
    if dialect == "postgresql":
        return {"ids": list(counts), "counts": list(counts.values())}
    return {"counts": orjson.dumps({c.hex: n for c, n in counts.items()}).decode()}


_GIVE_BACK_SEQS = (
    update(_CONVERSATIONS)
    .where(_C.id == bindparam("conversation"))
    .values(last_seq=_C.last_seq - bindparam("step", type_=Integer))
)


async def next_seq(
    uow: UnitOfWork, *, conversation_id: uuid.UUID, activity: bool = False, count: int = 1
) -> int:
    """Take the conversation's next seq with a row-level increment in this transaction.

    The UPDATE locks the conversation row (PostgreSQL) or runs under SQLite's write lock, so
    concurrent writers queue here and each gets the next number; a rollback gives it back.
    With `count` > 1 it takes that many and returns the last of them.
    """
    values: dict[str, Any] = {"last_seq": col(Conversation.last_seq) + count}
    if activity:
        values["last_activity_at"] = datetime.now(UTC)
    result = await uow.session.execute(
        update(Conversation)
        .where(col(Conversation.id) == conversation_id)
        .values(**values)
        .returning(col(Conversation.last_seq))
    )
    return int(result.scalar_one())


async def take_seqs(uow: UnitOfWork, counts: dict[uuid.UUID, int]) -> dict[uuid.UUID, int]:
    """`next_seq` for several conversations at once, in one UPDATE: conversation c takes
    `counts[c]` seqs (and its `last_activity_at` moves to now); returns the last seq taken
    in each (a conversation that does not exist is left out). The rows stay locked until
    the transaction ends."""
    if not counts:
        return {}
    conn = await uow.session.connection()
    now = datetime.now(UTC)
    if len(counts) == 1:
        ((conversation_id, count),) = counts.items()
        params = {"conversation": conversation_id, "step": count, "activity": now}
        result = await conn.execute(_TAKE_SEQS_ONE, params)
    else:
        params = {**_counts_params(uow.dialect, counts), "activity": now}
        result = await conn.execute(_TAKE_SEQS_MANY[uow.dialect], params)
    return {row[0]: row[1] for row in result}


async def give_back_seqs(uow: UnitOfWork, counts: dict[uuid.UUID, int]) -> None:
    """Return the last `counts[c]` seqs taken in this transaction (still holding the
    rows' locks, so nobody took one after them): the timeline stays gapless."""
    given = [{"conversation": c, "step": n} for c, n in counts.items() if n]
    if given:
        conn = await uow.session.connection()
        await conn.execute(_GIVE_BACK_SEQS, given)


async def record(
    uow: UnitOfWork,
    *,
    conversation_id: uuid.UUID,
    type: EventType,
    actor_id: uuid.UUID | None,
    message_id: uuid.UUID | None = None,
    subject_user_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
    activity: bool = False,
) -> Event:
    """Number a change with the next seq and store it in the timeline (same transaction)."""
    seq = await next_seq(uow, conversation_id=conversation_id, activity=activity)
    return append(
        uow,
        conversation_id=conversation_id,
        seq=seq,
        type=type,
        actor_id=actor_id,
        message_id=message_id,
        subject_user_id=subject_user_id,
        data=data,
    )


def append(
    uow: UnitOfWork,
    *,
    conversation_id: uuid.UUID,
    seq: int,
    type: EventType,
    actor_id: uuid.UUID | None,
    message_id: uuid.UUID | None = None,
    subject_user_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> Event:
    """Add the event numbered `seq` (taken with next_seq in this transaction)."""
    event = Event(
        conversation_id=conversation_id,
        seq=seq,
        type=type.value,
        actor_id=actor_id,
        message_id=message_id,
        subject_user_id=subject_user_id,
        data=data,
    )
    uow.session.add(event)
    return event


def announce(
    uow: UnitOfWork,
    event: Event,
    *,
    message: MessageRead | None = None,
    member: EventMember | None = None,
    conversation: EventConversation | None = None,
    reaction: EventReaction | None = None,
    call: EventCall | None = None,
) -> EventRead:
    """Publish a recorded event after commit, as the frame every member gets."""
    read = EventRead(
        conversation_id=event.conversation_id,
        seq=event.seq,
        type=EventType(event.type).value,
        created_at=event.created_at,
        actor_id=event.actor_id,
        message=message,
        member=member,
        conversation=conversation,
        reaction=reaction,
        call=call,
    )
    announce_read(uow, read)
    return read


def announce_read(uow: UnitOfWork, event: EventRead) -> None:
    """Publish an event (already read into its model) after commit."""
    uow.emit(TimelineAppended(event))
