"""Read and delivered markers: one pair of numbers per member, only ever moving forward."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.domain import MarkersMoved
from chatapi.models import Conversation, FormerMember, Member, User
from chatapi.services.membership import require_reader


async def mark_read(
    uow: UnitOfWork, *, user: User, conversation_id: uuid.UUID, seq: int
) -> MarkersMoved:
    """Move my read marker forward to `seq` (never back); reading implies delivered."""
    return await _advance(uow, user=user, conversation_id=conversation_id, seq=seq, kind="read")


async def mark_delivered(
    uow: UnitOfWork, *, user: User, conversation_id: uuid.UUID, seq: int
) -> MarkersMoved:
    """Move my delivered marker forward to `seq` (never back)."""
    return await _advance(
        uow, user=user, conversation_id=conversation_id, seq=seq, kind="delivered"
    )


def _greatest(uow: UnitOfWork, *args: object) -> Any:
    return (func.max if uow.dialect == "sqlite" else func.greatest)(*args)


def _least(uow: UnitOfWork, *args: object) -> Any:
    return (func.min if uow.dialect == "sqlite" else func.least)(*args)


async def _advance(
    uow: UnitOfWork,
    *,
    user: User,
    conversation_id: uuid.UUID,
    seq: int,
    kind: Literal["read", "delivered"],
) -> MarkersMoved:
    reader = await require_reader(uow, user_id=user.id, conversation_id=conversation_id)
    if isinstance(reader, FormerMember):
        return _advance_former(reader, seq=seq, kind=kind)
    before = reader
    old = (before.last_read_seq, before.last_delivered_seq)
    last_seq = (
        select(col(Conversation.last_seq))
        .where(col(Conversation.id) == conversation_id)
        .scalar_subquery()
    )
    # Clamp to the timeline's end: a marker never points past what exists.
    target = _least(uow, seq, last_seq)
    values: dict[str, Any] = {
        "last_delivered_seq": _greatest(uow, col(Member.last_delivered_seq), target)
    }
    if kind == "read":
        values["last_read_seq"] = _greatest(uow, col(Member.last_read_seq), target)
    result = await uow.session.execute(
        update(Member)
        .where(col(Member.conversation_id) == conversation_id, col(Member.user_id) == user.id)
        .values(**values)
        .returning(col(Member.last_read_seq), col(Member.last_delivered_seq))
    )
    read_seq, delivered_seq = result.one()
    moved = MarkersMoved(
        conversation_id=conversation_id,
        user_id=user.id,
        read_seq=read_seq,
        delivered_seq=delivered_seq,
    )
    if (read_seq, delivered_seq) != old:
        uow.emit(moved)
    return moved


def _advance_former(
    former: FormerMember, *, seq: int, kind: Literal["read", "delivered"]
) -> MarkersMoved:
    """A former member reading what they may still see: their own read marker moves (up
    to their departure), so their unread count is true; nobody else is told, as they are
    no longer in the conversation. "Delivered" means nothing to the others any more."""
    if kind == "read":
        former.last_read_seq = max(former.last_read_seq, min(seq, former.left_seq))
    return MarkersMoved(
        conversation_id=former.conversation_id,
        user_id=former.user_id,
        read_seq=former.last_read_seq,
        delivered_seq=former.left_seq,
    )
