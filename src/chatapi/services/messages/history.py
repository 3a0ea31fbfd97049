"""History: a conversation's messages, a page at a time."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.media_urls import MediaSigner
from chatapi.models import Message, User
from chatapi.schemas import MessageRead
from chatapi.services.membership import readable_until, require_reader
from chatapi.services.messages.reads import to_reads, withheld_for

HISTORY_LIMIT_MAX = 200


async def history(
    uow: UnitOfWork,
    *,
    user: User,
    conversation_id: uuid.UUID,
    signer: MediaSigner,
    before_seq: int | None = None,
    around_seq: int | None = None,
    limit: int = 50,
) -> list[MessageRead]:
    """The newest `limit` messages before `before_seq`, ascending (keyset on conversation+seq).
    With `around_seq` instead: up to `limit` messages around that seq (half before it,
    the rest from it on), to open the conversation at one message (a search hit).
    A former member reads only up to their departure."""
    reader = await require_reader(uow, user_id=user.id, conversation_id=conversation_id)
    limit = min(max(limit, 1), HISTORY_LIMIT_MAX)
    stmt = select(Message).where(col(Message.conversation_id) == conversation_id)
    if (until_seq := readable_until(reader)) is not None:
        stmt = stmt.where(col(Message.seq) <= until_seq)
    if around_seq is not None:
        older = stmt.where(col(Message.seq) < around_seq).order_by(col(Message.seq).desc())
        newer = stmt.where(col(Message.seq) >= around_seq).order_by(col(Message.seq))
        before = list((await uow.session.scalars(older.limit(limit // 2))).all())
        after = list((await uow.session.scalars(newer.limit(limit - len(before)))).all())
        before.reverse()
        return withheld_for(reader, await to_reads(uow, before + after, signer=signer))
    if before_seq is not None:
        stmt = stmt.where(col(Message.seq) < before_seq)
    stmt = stmt.order_by(col(Message.seq).desc()).limit(limit)
    rows = list((await uow.session.scalars(stmt)).all())
    rows.reverse()
    return withheld_for(reader, await to_reads(uow, rows, signer=signer))
