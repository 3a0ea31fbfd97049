"""Messages: send (idempotent by client_id), edit, delete, history."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import ChatError, Forbidden, NotFound, Unprocessable
from chatapi.models import (
    Conversation,
    ConversationKind,
    Event,
    EventType,
    Media,
    Member,
    Message,
    User,
)
from chatapi.schemas import MAX_BODY_CHARS, EventRead, MessageRead
from chatapi.services import media, timeline
from chatapi.services.conversations import MANAGERS, require_member
from chatapi.services.media import MediaSigner

log = logging.getLogger(__name__)

HISTORY_LIMIT_MAX = 200


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


async def _by_client_id(
    uow: UnitOfWork, *, conversation_id: uuid.UUID, sender_id: uuid.UUID, client_id: str
) -> Message | None:
    stmt = select(Message).where(
        col(Message.conversation_id) == conversation_id,
        col(Message.sender_id) == sender_id,
        col(Message.client_id) == client_id,
    )
    return (await uow.session.scalars(stmt)).first()


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One message to send, as REST and WebSocket handlers receive it."""

    sender_id: uuid.UUID
    conversation_id: uuid.UUID
    body: str
    client_id: str | None = None
    attachment_ids: tuple[uuid.UUID, ...] = ()
    reply_to_id: uuid.UUID | None = None


SendResult = tuple[MessageRead, bool]


async def send_message(
    uow: UnitOfWork,
    *,
    sender: User,
    conversation_id: uuid.UUID,
    body: str,
    signer: MediaSigner,
    client_id: str | None = None,
    attachment_ids: Sequence[uuid.UUID] = (),
    reply_to_id: uuid.UUID | None = None,
) -> SendResult:
    """Store a message in a conversation the sender belongs to and announce it.

    Returns the message and whether it was created: a retry with the same `client_id`
    (same sender, same conversation) returns the first message instead.
    """
    request = SendRequest(
        sender.id, conversation_id, body, client_id, tuple(attachment_ids), reply_to_id
    )
    return await _send_one(uow, request, signer=signer)


async def _send_one(uow: UnitOfWork, request: SendRequest, *, signer: MediaSigner) -> SendResult:
    try:
        (outcome,) = await send_messages(uow, [request], signer=signer)
    except IntegrityError:
        # A concurrent retry with the same client_id committed first (the unique key on
        # conversation + sender + client_id caught it): the first message is the answer.
        await uow.rollback()
        if request.client_id is None:
            raise
        first = await _by_client_id(
            uow,
            conversation_id=request.conversation_id,
            sender_id=request.sender_id,
            client_id=request.client_id,
        )
        if first is None:
            raise
        return (await to_reads(uow, [first], signer=signer))[0], False
    if isinstance(outcome, ChatError):
        raise outcome
    return outcome


async def send_messages(
    uow: UnitOfWork, requests: Sequence[SendRequest], *, signer: MediaSigner
) -> list[SendResult | ChatError]:
    """Store many messages in one transaction; one outcome per request, in order.

    The rules are checked for all requests with one query each (membership, retries by
    client_id, reply targets); a refused request gets its error and writes nothing. The
    accepted ones take their seqs with one row-level increment per conversation (taken in
    conversation order, so concurrent transactions lock rows in one global order) and are
    written with one multi-row INSERT for the messages and one for their events. Each
    request's `message.new` is announced after the commit.

    Raises (and writes nothing usable) only when the transaction itself fails, e.g. an
    IntegrityError from a concurrent retry on another connection.
    """
    outcomes: list[SendResult | ChatError | None] = [None] * len(requests)
    texts: dict[int, str] = {}
    for i, req in enumerate(requests):
        try:
            texts[i] = clean_body(req.body, has_attachments=bool(req.attachment_ids))
        except ChatError as exc:
            outcomes[i] = exc
    await _check_membership(uow, requests, outcomes)
    await _check_replies(uow, requests, outcomes)
    retried = await _find_retries(uow, requests, outcomes, signer=signer)

    # Retries of a message already stored, and repeats of a client_id within this batch.
    accepted: list[int] = []
    first_in_batch: dict[tuple[uuid.UUID, uuid.UUID, str], int] = {}
    repeats: dict[int, int] = {}
    for i, req in enumerate(requests):
        if outcomes[i] is not None:
            continue
        if req.client_id is not None:
            key = (req.conversation_id, req.sender_id, req.client_id)
            if key in retried:
                outcomes[i] = (retried[key], False)
                continue
            if key in first_in_batch:
                repeats[i] = first_in_batch[key]
                continue
            first_in_batch[key] = i
        accepted.append(i)

    now = datetime.now(UTC)
    per_conversation: dict[uuid.UUID, list[int]] = {}
    for i in accepted:
        per_conversation.setdefault(requests[i].conversation_id, []).append(i)
    seqs: dict[int, int] = {}
    lasts = await timeline.take_seqs(
        uow, {c: len(indexes) for c, indexes in per_conversation.items()}, activity=True
    )
    for conversation_id, indexes in per_conversation.items():
        first = lasts[conversation_id] - len(indexes) + 1
        for offset, i in enumerate(indexes):
            seqs[i] = first + offset

    rows: list[dict[str, object]] = []
    event_rows: list[dict[str, object]] = []
    ids: dict[int, uuid.UUID] = {}
    for i in accepted:
        req = requests[i]
        ids[i] = uuid.uuid4()
        rows.append(
            {
                "id": ids[i],
                "conversation_id": req.conversation_id,
                "seq": seqs[i],
                "sender_id": req.sender_id,
                "body": texts[i],
                "client_id": req.client_id,
                "reply_to_id": req.reply_to_id,
                "created_at": now,
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
    if rows:
        # Bulk INSERTs (one multi-row statement each): no per-object ORM bookkeeping.
        await uow.session.execute(insert(Message), rows)
        await uow.session.execute(insert(Event), event_rows)

    for i in accepted:
        req = requests[i]
        attached = await media.attach(
            uow, owner_id=req.sender_id, message_id=ids[i], attachment_ids=list(req.attachment_ids)
        )
        read = MessageRead(
            id=ids[i],
            conversation_id=req.conversation_id,
            seq=seqs[i],
            sender_id=req.sender_id,
            body=texts[i],
            client_id=req.client_id,
            reply_to_id=req.reply_to_id,
            attachments=[media.to_read(m, signer=signer) for m in attached],
            created_at=now,
            edited_at=None,
            deleted=False,
        )
        outcomes[i] = (read, True)
        timeline.announce_read(
            uow,
            EventRead(
                conversation_id=req.conversation_id,
                seq=seqs[i],
                type="message.new",
                created_at=now,
                actor_id=req.sender_id,
                message=read,
            ),
        )
    for i, first in repeats.items():
        stored = outcomes[first]
        outcomes[i] = (stored[0], False) if isinstance(stored, tuple) else stored
    return [o for o in outcomes if o is not None]


async def _check_membership(
    uow: UnitOfWork,
    requests: Sequence[SendRequest],
    outcomes: list[SendResult | ChatError | None],
) -> None:
    pairs = {
        (r.conversation_id, r.sender_id)
        for r, o in zip(requests, outcomes, strict=True)
        if o is None
    }
    if not pairs:
        return
    found = set(
        (
            await uow.session.execute(
                select(col(Member.conversation_id), col(Member.user_id)).where(
                    tuple_(col(Member.conversation_id), col(Member.user_id)).in_(list(pairs))
                )
            )
        ).tuples()
    )
    for i, req in enumerate(requests):
        if outcomes[i] is None and (req.conversation_id, req.sender_id) not in found:
            outcomes[i] = NotFound("No such conversation.", code="conversation_not_found")


async def _check_replies(
    uow: UnitOfWork,
    requests: Sequence[SendRequest],
    outcomes: list[SendResult | ChatError | None],
) -> None:
    targets = {
        r.reply_to_id
        for r, o in zip(requests, outcomes, strict=True)
        if o is None and r.reply_to_id is not None
    }
    if not targets:
        return
    stmt = select(col(Message.id), col(Message.conversation_id)).where(
        col(Message.id).in_(list(targets))
    )
    where = dict((await uow.session.execute(stmt)).tuples().all())
    for i, req in enumerate(requests):
        if (
            outcomes[i] is None
            and req.reply_to_id is not None
            and where.get(req.reply_to_id) != req.conversation_id
        ):
            outcomes[i] = Unprocessable(
                "reply_to_id is not a message of this conversation.", code="invalid_reply"
            )


async def _find_retries(
    uow: UnitOfWork,
    requests: Sequence[SendRequest],
    outcomes: list[SendResult | ChatError | None],
    *,
    signer: MediaSigner,
) -> dict[tuple[uuid.UUID, uuid.UUID, str], MessageRead]:
    """Messages already stored under the requests' client_ids (one query)."""
    keys = {
        (r.conversation_id, r.sender_id, r.client_id)
        for r, o in zip(requests, outcomes, strict=True)
        if o is None and r.client_id is not None
    }
    if not keys:
        return {}
    found = (
        await uow.session.scalars(
            select(Message).where(
                tuple_(
                    col(Message.conversation_id), col(Message.sender_id), col(Message.client_id)
                ).in_(list(keys))
            )
        )
    ).all()
    reads = await to_reads(uow, found, signer=signer)
    return {(m.conversation_id, m.sender_id, m.client_id or ""): m for m in reads}


async def _visible_message(uow: UnitOfWork, *, user: User, message_id: uuid.UUID) -> Message:
    message = await uow.session.get(Message, message_id)
    if message is None:
        raise NotFound("No such message.", code="message_not_found")
    try:
        await require_member(uow, user_id=user.id, conversation_id=message.conversation_id)
    except NotFound:
        raise NotFound("No such message.", code="message_not_found") from None
    return message


async def edit_message(
    uow: UnitOfWork, *, user: User, message_id: uuid.UUID, body: str, signer: MediaSigner
) -> MessageRead:
    """Change the text of your own message."""
    message = await _visible_message(uow, user=user, message_id=message_id)
    if message.sender_id != user.id:
        raise Forbidden("You can only edit your own messages.", code="not_sender")
    if message.deleted_at is not None:
        raise Unprocessable("This message was deleted.", code="message_deleted")
    attached = await media.attachments_for(uow, message_ids=[message.id])
    message.body = clean_body(body, has_attachments=bool(attached.get(message.id)))
    message.edited_at = datetime.now(UTC)
    return await _record_change(
        uow, message, EventType.message_edited, actor_id=user.id, signer=signer
    )


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


async def delete_message(
    uow: UnitOfWork, *, user: User, message_id: uuid.UUID, signer: MediaSigner
) -> None:
    """Delete a message (its sender, or a group owner/admin): body and files go, the
    timeline keeps it as deleted."""
    message = await _visible_message(uow, user=user, message_id=message_id)
    if message.sender_id != user.id:
        me = await require_member(uow, user_id=user.id, conversation_id=message.conversation_id)
        conversation = await uow.session.get(Conversation, message.conversation_id)
        if (
            conversation is None
            or conversation.kind != ConversationKind.group
            or me.role not in MANAGERS
        ):
            raise Forbidden("You can only delete your own messages.", code="not_allowed")
    if message.deleted_at is not None:
        return
    message.deleted_at = datetime.now(UTC)
    message.body = ""
    await media.detach_for_deleted_message(uow, message_id=message.id)
    await _record_change(uow, message, EventType.message_deleted, actor_id=user.id, signer=signer)


async def history(
    uow: UnitOfWork,
    *,
    user: User,
    conversation_id: uuid.UUID,
    signer: MediaSigner,
    before_seq: int | None = None,
    limit: int = 50,
) -> list[MessageRead]:
    """The newest `limit` messages before `before_seq`, ascending (keyset on conversation+seq)."""
    await require_member(uow, user_id=user.id, conversation_id=conversation_id)
    stmt = select(Message).where(col(Message.conversation_id) == conversation_id)
    if before_seq is not None:
        stmt = stmt.where(col(Message.seq) < before_seq)
    stmt = stmt.order_by(col(Message.seq).desc()).limit(min(max(limit, 1), HISTORY_LIMIT_MAX))
    rows = list((await uow.session.scalars(stmt)).all())
    rows.reverse()
    return await to_reads(uow, rows, signer=signer)


async def to_reads(
    uow: UnitOfWork, messages: Sequence[Message], *, signer: MediaSigner
) -> list[MessageRead]:
    """MessageRead models with attachments, in one attachment query for all of them."""
    if not messages:
        return []
    attached = await media.attachments_for(uow, message_ids=[m.id for m in messages])
    return [_read(m, attached.get(m.id, []), signer=signer) for m in messages]


def _read(message: Message, attachments: Sequence[Media], *, signer: MediaSigner) -> MessageRead:
    deleted = message.deleted_at is not None
    return MessageRead(
        id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        sender_id=message.sender_id,
        body="" if deleted else message.body,
        client_id=message.client_id,
        reply_to_id=message.reply_to_id,
        attachments=[] if deleted else [media.to_read(a, signer=signer) for a in attachments],
        created_at=message.created_at,
        edited_at=message.edited_at,
        deleted=deleted,
    )


@dataclass(slots=True)
class _Send:
    request: SendRequest
    future: asyncio.Future[SendResult]


class GroupCommit:
    """Sends that arrive together share one transaction and one commit (group commit).

    A batch goes through `send_messages` — the same rules as a single send, checked with a
    query each for the whole batch, and multi-row INSERTs — and each caller gets its answer
    only after the shared commit, so an ack still means "stored". A refused send gets its
    own error without touching the others. Nothing waits to fill a batch: a batch is
    whatever queued while the previous one committed, so an idle server commits each send
    at once. If the transaction itself fails (e.g. a concurrent retry on another instance
    hit the client_id key), every send of the batch is tried again on its own.
    """

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        signer: MediaSigner,
        *,
        max_batch: int = 256,
    ) -> None:
        self._uow = uow_factory
        self._signer = signer
        self._max_batch = max_batch
        self._queue: deque[_Send] = deque()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    async def send(
        self,
        *,
        sender: User,
        conversation_id: uuid.UUID,
        body: str,
        client_id: str | None = None,
        attachment_ids: Sequence[uuid.UUID] = (),
        reply_to_id: uuid.UUID | None = None,
    ) -> SendResult:
        """`send_message`, committed; returns the message and whether it was created."""
        if self._closed:
            raise RuntimeError("the server is shutting down")
        loop = asyncio.get_running_loop()
        request = SendRequest(
            sender.id, conversation_id, body, client_id, tuple(attachment_ids), reply_to_id
        )
        item = _Send(request, loop.create_future())
        self._queue.append(item)
        self._wake.set()
        if self._worker is None:
            self._worker = loop.create_task(self._run(), name="group-commit")
        return await item.future

    async def aclose(self) -> None:
        """Finish what is queued, then stop."""
        self._closed = True
        self._wake.set()
        if self._worker is not None:
            await self._worker

    async def _run(self) -> None:
        while not (self._closed and not self._queue):
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                count = min(self._max_batch, len(self._queue))
                batch = [self._queue.popleft() for _ in range(count)]
                batch = [item for item in batch if not item.future.done()]
                if batch:
                    await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[_Send]) -> None:
        if len(batch) == 1:
            await self._commit_one(batch[0])
            return
        try:
            async with self._uow() as uow:
                outcomes = await send_messages(
                    uow, [item.request for item in batch], signer=self._signer
                )
                await uow.commit()
        except asyncio.CancelledError:
            raise
        except Exception:
            # Nothing of the batch is committed: each send is tried on its own.
            log.warning(
                "group commit of %d sends failed; retrying one by one", len(batch), exc_info=True
            )
            for item in batch:
                await self._commit_one(item)
            return
        for item, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, ChatError):
                _settle(item, exc=outcome)
            else:
                _settle(item, result=outcome)

    async def _commit_one(self, item: _Send) -> None:
        try:
            async with self._uow() as uow:
                result = await _send_one(uow, item.request, signer=self._signer)
                await uow.commit()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _settle(item, exc=exc)
            return
        _settle(item, result=result)


def _settle(
    item: _Send,
    *,
    result: SendResult | None = None,
    exc: BaseException | None = None,
) -> None:
    if item.future.done():  # the caller went away (e.g. its socket closed)
        return
    if exc is not None:
        item.future.set_exception(exc)
    else:
        assert result is not None
        item.future.set_result(result)
