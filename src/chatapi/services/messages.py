"""Messages: send (idempotent by client_id), edit, delete, history."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import ChatError, Forbidden, NotFound, Unprocessable
from chatapi.models import Conversation, ConversationKind, EventType, Media, Message, User
from chatapi.schemas import MAX_BODY_CHARS, MessageRead
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
) -> tuple[MessageRead, bool]:
    """Store a message in a conversation the sender belongs to and announce it.

    Returns the message and whether it was created: a retry with the same `client_id`
    (same sender, same conversation) returns the first message instead.
    """
    sender_id = sender.id
    await require_member(uow, user_id=sender_id, conversation_id=conversation_id)
    attachment_ids = list(dict.fromkeys(attachment_ids))
    text = clean_body(body, has_attachments=bool(attachment_ids))
    if client_id is not None:
        first = await _by_client_id(
            uow, conversation_id=conversation_id, sender_id=sender_id, client_id=client_id
        )
        if first is not None:
            return (await to_reads(uow, [first], signer=signer))[0], False
    if reply_to_id is not None:
        target = await uow.session.get(Message, reply_to_id)
        if target is None or target.conversation_id != conversation_id:
            raise Unprocessable(
                "reply_to_id is not a message of this conversation.", code="invalid_reply"
            )
    try:
        # A savepoint: a refused send (a bad attachment, a concurrent retry) undoes only its
        # own writes, so sends can share a transaction (see GroupCommit).
        async with uow.session.begin_nested():
            seq = await timeline.next_seq(uow, conversation_id=conversation_id, activity=True)
            message = Message(
                conversation_id=conversation_id,
                seq=seq,
                sender_id=sender_id,
                body=text,
                client_id=client_id,
                reply_to_id=reply_to_id,
            )
            uow.session.add(message)
            await uow.session.flush()  # the message row before the event that points at it
            event = timeline.append(
                uow,
                conversation_id=conversation_id,
                seq=seq,
                type=EventType.message_new,
                actor_id=sender_id,
                message_id=message.id,
            )
            attached = await media.attach(
                uow, owner_id=sender_id, message_id=message.id, attachment_ids=attachment_ids
            )
            await uow.session.flush()
    except IntegrityError:
        # The unique key (conversation, sender, client_id) caught a concurrent retry: the
        # savepoint gave the seq back, and the first message is the answer.
        if client_id is None:
            raise
        first = await _by_client_id(
            uow, conversation_id=conversation_id, sender_id=sender_id, client_id=client_id
        )
        if first is None:
            raise
        return (await to_reads(uow, [first], signer=signer))[0], False
    read = _read(message, attached, signer=signer)
    timeline.announce(uow, event, message=read)
    return read, True


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
    sender: User
    conversation_id: uuid.UUID
    body: str
    client_id: str | None
    attachment_ids: Sequence[uuid.UUID]
    reply_to_id: uuid.UUID | None
    future: asyncio.Future[tuple[MessageRead, bool]]


class GroupCommit:
    """Sends that arrive together share one transaction and one commit (group commit).

    Every send still runs `send_message` — the same rules, in its own savepoint, so a
    refused send undoes only itself — and each caller gets its answer only after the shared
    commit, so an ack still means "stored". Nothing waits to fill a batch: a batch is
    whatever queued while the previous one committed, so an idle server commits each send
    at once. Within a batch, sends are taken in conversation order so that concurrent
    batches (other instances) lock conversation rows in one global order: no deadlocks.
    """

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        signer: MediaSigner,
        *,
        max_batch: int = 128,
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
    ) -> tuple[MessageRead, bool]:
        """`send_message`, committed; returns the message and whether it was created."""
        if self._closed:
            raise RuntimeError("the server is shutting down")
        loop = asyncio.get_running_loop()
        item = _Send(
            sender,
            conversation_id,
            body,
            client_id,
            attachment_ids,
            reply_to_id,
            loop.create_future(),
        )
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
        batch.sort(key=lambda item: item.conversation_id.bytes)  # stable: keeps send order
        stored: list[tuple[_Send, tuple[MessageRead, bool]]] = []
        try:
            async with self._uow() as uow:
                for item in batch:
                    try:
                        result = await self._apply(uow, item)
                    except ChatError as exc:  # refused: nothing of it was written
                        _settle(item, exc=exc)
                        continue
                    stored.append((item, result))
                await uow.commit()
        except asyncio.CancelledError:
            raise
        except Exception:
            # The batch as a whole failed (a lost connection, a conflict with another
            # instance): nothing of it is committed, so each send is tried on its own.
            log.warning(
                "group commit of %d sends failed; retrying one by one", len(batch), exc_info=True
            )
            for item, _ in stored:
                await self._commit_one(item)
            return
        for item, result in stored:
            _settle(item, result=result)

    async def _commit_one(self, item: _Send) -> None:
        try:
            async with self._uow() as uow:
                result = await self._apply(uow, item)
                await uow.commit()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _settle(item, exc=exc)
            return
        _settle(item, result=result)

    async def _apply(self, uow: UnitOfWork, item: _Send) -> tuple[MessageRead, bool]:
        return await send_message(
            uow,
            sender=item.sender,
            conversation_id=item.conversation_id,
            body=item.body,
            signer=self._signer,
            client_id=item.client_id,
            attachment_ids=item.attachment_ids,
            reply_to_id=item.reply_to_id,
        )


def _settle(
    item: _Send,
    *,
    result: tuple[MessageRead, bool] | None = None,
    exc: BaseException | None = None,
) -> None:
    if item.future.done():  # the caller went away (e.g. its socket closed)
        return
    if exc is not None:
        item.future.set_exception(exc)
    else:
        assert result is not None
        item.future.set_result(result)
