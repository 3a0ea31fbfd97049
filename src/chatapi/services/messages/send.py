"""Sending messages: the rules, checked for a whole batch at once, and the rows.

`send_messages` is the one way a message is stored, for REST and WebSocket alike; it is
called by the group commit (`group_commit.py`), which owns the transaction.

The send path is SQLAlchemy Core on the unit of work's connection, with statements built
once: a batch costs one statement per rule, whatever its size, and no ORM object is made
or reloaded (the rows are written from the requests and the answers built from them).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert, Select, Table, bindparam, exists, insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import ChatError, NotFound, Unprocessable
from chatapi.media_urls import MediaSigner
from chatapi.models import Block, Conversation, Event, EventType, Member, Message
from chatapi.schemas import MAX_BODY_CHARS, EventRead, MessageRead
from chatapi.services import blocks, timeline
from chatapi.services.media import attachments
from chatapi.services.messages import mentions
from chatapi.services.messages.reads import to_reads

# (conversation, sender, client_id): the idempotency key of a send.
RetryKey = tuple[uuid.UUID, uuid.UUID, str]

_MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
_EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
_MEMBERS: Table = Member.__table__  # type: ignore[attr-defined]
_RETRY_KEY = ("conversation_id", "sender_id", "client_id")

_CONVERSATIONS: Table = Conversation.__table__  # type: ignore[attr-defined]
_BLOCKS: Table = Block.__table__  # type: ignore[attr-defined]


def _memberships() -> Select[Any]:
    """Which of these (conversation, user) pairs are members (one expanding IN), and, for
    a direct chat, whether a block stands between the two: the other one blocked the
    sender (`blocked`), or the sender blocked the other one (`blocker`). Blocks ride on
    this statement, so the send path costs no statement more for them."""
    other = _MEMBERS.alias("other")
    conv = _CONVERSATIONS.alias("direct")

    def blocks(blocker: Any, blocked: Any) -> Any:
        return (
            exists()
            .where(
                conv.c.id == _MEMBERS.c.conversation_id,
                conv.c.direct_key.is_not(None),
                other.c.conversation_id == _MEMBERS.c.conversation_id,
                other.c.user_id != _MEMBERS.c.user_id,
                _BLOCKS.c.blocker_id == blocker(other),
                _BLOCKS.c.blocked_id == blocked(other),
            )
            .correlate(_MEMBERS)
        )

    mine = _MEMBERS.c.user_id
    return select(
        _MEMBERS.c.conversation_id,
        mine,
        blocks(lambda o: o.c.user_id, lambda o: mine).label("blocked"),
        blocks(lambda o: mine, lambda o: o.c.user_id).label("blocker"),
    ).where(tuple_(_MEMBERS.c.conversation_id, mine).in_(bindparam("pairs", expanding=True)))


_MEMBERSHIPS = _memberships()
_INSERT_EVENTS = insert(_EVENTS)


def _insert_messages(dialect: str) -> Insert:
    """The messages' INSERT: a row whose client_id key is stored already (a retry that
    came after its message was committed) is skipped, and RETURNING names the rows that
    went in, so retries are found without a query of their own."""
    stmt: Insert
    match dialect:
        case "postgresql":
            stmt = postgresql.insert(_MESSAGES).on_conflict_do_nothing(index_elements=_RETRY_KEY)
        case "sqlite":
            stmt = sqlite.insert(_MESSAGES).on_conflict_do_nothing(index_elements=_RETRY_KEY)
        case _:
            raise RuntimeError(f"no send path for the {dialect} dialect")
    return stmt.returning(_MESSAGES.c.id)


_INSERT_MESSAGES = {name: _insert_messages(name) for name in ("postgresql", "sqlite")}


class RetriesFound(Exception):
    """Some sends of the batch repeat a client_id whose message was committed after the
    batch began (or on another instance): their rows were skipped, but their seqs were
    taken. The caller rolls the transaction back and sends the batch again with
    `check_retries=True`, which looks them up first."""


def clean_body(body: str, *, has_attachments: bool) -> str:
    """A body is 1-4000 characters after trimming; attachment-only messages may be empty."""
    body = body.strip()
    if not body and not has_attachments:
        raise Unprocessable("A message needs text or an attachment.", code="empty_message")
    if len(body) > MAX_BODY_CHARS:
        raise Unprocessable(
            f"A message is at most {MAX_BODY_CHARS} characters (this one has {len(body)}).",
            code="body_too_long",
        )
    return body


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One message to send, as REST and WebSocket handlers receive it."""

    sender_id: uuid.UUID
    conversation_id: uuid.UUID
    body: str
    client_id: str | None = None
    attachment_ids: tuple[uuid.UUID, ...] = ()
    reply_to_id: uuid.UUID | None = None

    @property
    def retry_key(self) -> RetryKey | None:
        if self.client_id is None:
            return None
        return (self.conversation_id, self.sender_id, self.client_id)


# The message, and whether this send created it (False: a retry of a stored one).
SendResult = tuple[MessageRead, bool]
Outcome = SendResult | ChatError


@dataclass
class _Batch:
    """A batch of requests on its way through the rules: who is refused, who is a retry."""

    requests: Sequence[SendRequest]
    outcomes: list[Outcome | None]
    texts: dict[int, str] = field(default_factory=dict)
    # Accepted requests that mention someone (indexes into `requests`).
    mentioned: dict[int, mentions.Mentions] = field(default_factory=dict)
    # Accepted requests, to be stored (indexes into `requests`).
    accepted: list[int] = field(default_factory=list)
    # A repeat of a client_id within the batch -> the first request with it.
    repeats: dict[int, int] = field(default_factory=dict)
    # Refused before any query (empty or too long).
    invalid: set[int] = field(default_factory=set)

    def open(self) -> list[tuple[int, SendRequest]]:
        """The requests without an outcome yet."""
        return [(i, r) for i, r in enumerate(self.requests) if self.outcomes[i] is None]


async def send_messages(
    uow: UnitOfWork,
    requests: Sequence[SendRequest],
    *,
    signer: MediaSigner,
    check_retries: bool = False,
) -> list[Outcome]:
    """Store many messages in one transaction; one outcome per request, in order.

    The rules are checked for all requests with one statement each (reply targets when
    there are any, seqs, membership); a refused request gets its error and writes
    nothing. The accepted ones take their seqs with one row-level increment per
    conversation and are written with one multi-row INSERT for the messages and one for
    their events. Each request's `message.new` is announced after the commit.

    Retries (a client_id stored already) are found by the messages' INSERT itself, which
    skips them: then `RetriesFound` is raised and the caller sends the batch again in a
    new transaction with `check_retries=True`, which looks the client_ids up first (one
    query) and answers retries with their stored message. Raises (and writes nothing
    usable) also when the transaction itself fails.
    """
    batch = _Batch(requests, [None] * len(requests))
    for i, req in enumerate(requests):
        try:
            batch.texts[i] = clean_body(req.body, has_attachments=bool(req.attachment_ids))
        except ChatError as exc:
            batch.outcomes[i] = exc
            batch.invalid.add(i)
    await _check_replies(uow, batch)
    retried = await _find_retries(uow, batch, signer=signer) if check_retries else {}
    _sort_retries(batch, retried)
    seqs = await _take_seqs(uow, batch)
    await _find_mentions(uow, batch)
    now = datetime.now(UTC)
    ids = await _insert(uow, batch, seqs, now=now)
    for i in batch.accepted:
        req = requests[i]
        found = batch.mentioned.get(i, mentions.NONE)
        attached = await attachments.attach(
            uow, owner_id=req.sender_id, message_id=ids[i], attachment_ids=list(req.attachment_ids)
        )
        read = MessageRead(
            id=ids[i],
            conversation_id=req.conversation_id,
            seq=seqs[i],
            sender_id=req.sender_id,
            body=batch.texts[i],
            client_id=req.client_id,
            reply_to_id=req.reply_to_id,
            attachments=[attachments.to_read(m, signer=signer) for m in attached],
            created_at=now,
            edited_at=None,
            deleted=False,
            mentions=list(found.user_ids),
            mentions_all=found.all,
        )
        batch.outcomes[i] = (read, True)
        timeline.announce_read(
            uow,
            EventRead(
                conversation_id=req.conversation_id,
                seq=seqs[i],
                type=EventType.message_new.value,
                created_at=now,
                actor_id=req.sender_id,
                message=read,
            ),
        )
    for i, first in batch.repeats.items():
        stored = batch.outcomes[first]
        batch.outcomes[i] = (stored[0], False) if isinstance(stored, tuple) else stored
    return [o for o in batch.outcomes if o is not None]


def _sort_retries(batch: _Batch, retried: dict[RetryKey, MessageRead]) -> None:
    """Retries of a stored message get it back; repeats of a client_id within the batch
    get the first one's outcome; the rest are accepted."""
    first_in_batch: dict[RetryKey, int] = {}
    for i, req in batch.open():
        key = req.retry_key
        if key is not None:
            if key in retried:
                batch.outcomes[i] = (retried[key], False)
                continue
            if key in first_in_batch:
                batch.repeats[i] = first_in_batch[key]
                continue
            first_in_batch[key] = i
        batch.accepted.append(i)


async def _find_mentions(uow: UnitOfWork, batch: _Batch) -> None:
    """The mentions of the accepted requests that write an `@` (one query for the batch,
    none when no body has one); run after membership is settled, under the same locks."""
    asking = [i for i in batch.accepted if "@" in batch.texts[i]]
    if not asking:
        return
    drafts = [
        mentions.Draft(
            batch.requests[i].conversation_id, batch.requests[i].sender_id, batch.texts[i]
        )
        for i in asking
    ]
    for i, found in zip(asking, await mentions.resolve(uow, drafts), strict=True):
        if found is not mentions.NONE:
            batch.mentioned[i] = found


def _per_conversation(batch: _Batch) -> dict[uuid.UUID, list[int]]:
    per_conversation: dict[uuid.UUID, list[int]] = {}
    for i in batch.accepted:
        per_conversation.setdefault(batch.requests[i].conversation_id, []).append(i)
    return per_conversation


async def _take_seqs(uow: UnitOfWork, batch: _Batch) -> dict[int, int]:
    """Each accepted request's seq, for members only, in batch order.

    One UPDATE … RETURNING takes the seqs of every conversation of the batch, and locks
    their rows; only then is membership read. A removal committed before that UPDATE is
    seen, and one that comes after it waits for this commit: no message of a removed
    member is ever numbered after its `member.removed`. Refused sends give their seqs
    back (rare), so the timeline stays gapless, at no extra round trip when none is.
    """
    taken = _per_conversation(batch)
    lasts = await timeline.take_seqs(uow, {c: len(indexes) for c, indexes in taken.items()})
    await _check_membership(uow, batch)
    kept = _per_conversation(batch)
    await timeline.give_back_seqs(
        uow, {c: len(taken[c]) - len(kept.get(c, ())) for c in taken if c in lasts}
    )
    seqs: dict[int, int] = {}
    for conversation_id, indexes in kept.items():
        first = lasts[conversation_id] - len(taken[conversation_id]) + 1
        for offset, i in enumerate(indexes):
            seqs[i] = first + offset
    return seqs


async def _insert(
    uow: UnitOfWork, batch: _Batch, seqs: dict[int, int], *, now: datetime
) -> dict[int, uuid.UUID]:
    """The message and event rows of the accepted requests, one multi-row INSERT each
    (Core: no per-object ORM bookkeeping); returns the new message ids. Raises
    RetriesFound when a message's client_id key is stored already."""
    ids = {i: uuid.uuid4() for i in batch.accepted}
    if not ids:
        return ids
    rows: list[dict[str, object]] = []
    event_rows: list[dict[str, object]] = []
    for i in batch.accepted:
        req = batch.requests[i]
        found = batch.mentioned.get(i, mentions.NONE)
        rows.append(
            {
                "id": ids[i],
                "conversation_id": req.conversation_id,
                "seq": seqs[i],
                "sender_id": req.sender_id,
                "body": batch.texts[i],
                "client_id": req.client_id,
                "reply_to_id": req.reply_to_id,
                "created_at": now,
                "mentions": found.stored(),
                "mentions_all": found.all,
            }
        )
        event_rows.append(
            {
                "conversation_id": req.conversation_id,
                "seq": seqs[i],
                "type": EventType.message_new.value,
                "actor_id": req.sender_id,
                "created_at": now,
                "message_id": ids[i],
            }
        )
    conn = await uow.session.connection()
    inserted = (await conn.execute(_INSERT_MESSAGES[uow.dialect], rows)).scalars().all()
    if len(inserted) != len(rows):
        raise RetriesFound
    await conn.execute(_INSERT_EVENTS, event_rows)
    await mentions.store(uow, {ids[i]: found for i, found in batch.mentioned.items()})
    return ids


async def _check_membership(uow: UnitOfWork, batch: _Batch) -> None:
    """Refuse (404) every request whose sender is not a member, whatever else it was
    (accepted, a retry, an invalid reply): existence does not leak. Refuse (403 `blocked`
    / `you_blocked`) a member's send to a direct chat where a block stands between the
    two (`services/blocks.py`). Runs under the conversation rows' locks (`_take_seqs`)."""
    checked = [(i, r) for i, r in enumerate(batch.requests) if i not in batch.invalid]
    pairs = {(r.conversation_id, r.sender_id) for _, r in checked}
    if not pairs:
        return
    conn = await uow.session.connection()
    found: dict[tuple[uuid.UUID, uuid.UUID], ChatError | None] = {}
    for c, u, blocked, blocker in await conn.execute(_MEMBERSHIPS, {"pairs": list(pairs)}):
        found[(c, u)] = (
            blocks.blocked_error() if blocked else blocks.you_blocked_error() if blocker else None
        )
    refused: dict[int, ChatError] = {}
    for i, r in checked:
        key = (r.conversation_id, r.sender_id)
        if key not in found:
            refused[i] = NotFound("No such conversation.", code="conversation_not_found")
        elif (error := found[key]) is not None:
            refused[i] = error
    if not refused:
        return
    for i, error in refused.items():
        batch.outcomes[i] = error
    batch.accepted = [i for i in batch.accepted if i not in refused]
    batch.repeats = {i: first for i, first in batch.repeats.items() if i not in refused}


async def _check_replies(uow: UnitOfWork, batch: _Batch) -> None:
    targets = {r.reply_to_id for _, r in batch.open() if r.reply_to_id is not None}
    if not targets:
        return
    stmt = select(col(Message.id), col(Message.conversation_id)).where(
        col(Message.id).in_(list(targets))
    )
    where = dict((await uow.session.execute(stmt)).tuples().all())
    for i, req in batch.open():
        if req.reply_to_id is not None and where.get(req.reply_to_id) != req.conversation_id:
            batch.outcomes[i] = Unprocessable(
                "reply_to_id is not a message of this conversation.", code="invalid_reply"
            )


async def _find_retries(
    uow: UnitOfWork, batch: _Batch, *, signer: MediaSigner
) -> dict[RetryKey, MessageRead]:
    """Messages already stored under the requests' client_ids (one query)."""
    keys = {key for _, r in batch.open() if (key := r.retry_key) is not None}
    return await find_sent(uow, keys, signer=signer)


async def find_sent(
    uow: UnitOfWork, keys: set[RetryKey], *, signer: MediaSigner
) -> dict[RetryKey, MessageRead]:
    """The stored messages of these (conversation, sender, client_id) keys."""
    if not keys:
        return {}
    stmt = select(Message).where(
        tuple_(col(Message.conversation_id), col(Message.sender_id), col(Message.client_id)).in_(
            list(keys)
        )
    )
    reads = await to_reads(uow, (await uow.session.scalars(stmt)).all(), signer=signer)
    return {(m.conversation_id, m.sender_id, m.client_id or ""): m for m in reads}
