"""The send batcher: sends that arrive together share one transaction and one commit."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from chatapi import metrics
from chatapi.db import UnitOfWork
from chatapi.errors import ChatError, Overloaded
from chatapi.media_urls import MediaSigner
from chatapi.metrics import SENDS_OVERLOADED
from chatapi.models import User
from chatapi.ports import Quota
from chatapi.services.messages.screen import ALLOW_ALL, Screen, Verdict, enforce
from chatapi.services.messages.send import (
    RetriesFound,
    SendRequest,
    SendResult,
    find_sent,
    send_messages,
)

log = logging.getLogger(__name__)


# How often (seconds) a full send queue is logged while it refuses sends.
_OVERLOAD_LOG_EVERY = 10.0


@dataclass(slots=True)
class _Send:
    request: SendRequest
    future: asyncio.Future[SendResult]


@dataclass
class _Lane:
    """One worker and the sends queued for it."""

    queue: deque[_Send] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    worker: asyncio.Task[None] | None = None


class GroupCommit:
    """Sends that arrive together share one transaction and one commit (group commit).

    It owns the units of work of every send, REST and WebSocket alike. A batch goes
    through `send_messages` — the rules checked with a statement each for the whole
    batch, and multi-row INSERTs — and each caller gets its answer only after the shared
    commit, so an ack still means "stored". A refused send gets its own error without
    touching the others. Nothing waits to fill a batch: a batch is whatever queued while
    the previous one committed, so an idle server commits each send at once. A batch
    holding a retry of a message committed earlier (its client_id key was taken when it
    was inserted) is rolled back and sent again, looking the client_ids up first. If the
    transaction itself fails, every send of the batch is tried again in a transaction of
    its own.

    `workers` batches can be in flight at once (PostgreSQL: one commits while the next
    is built). Conversations are split between the workers by id, so the conversation
    rows one batch locks are never wanted by another worker's batch (no lock waits, no
    deadlocks) and a conversation's messages are numbered in the order they came.

    At most `max_queued` sends wait (all workers together, the batches being committed
    not counted): a send beyond that is refused at once with `Overloaded` (503 / an
    `error` frame `overloaded`), before its quota is charged, and counted in `refused`.
    Under overload the server answers quickly instead of queueing without end; a send
    it took is never dropped.
    """

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        signer: MediaSigner,
        *,
        max_batch: int = 256,
        max_queued: int = 512,
        workers: int = 1,
        quota: Quota | None = None,
        screen: Screen = ALLOW_ALL,
    ) -> None:
        self._uow = uow_factory
        self._quota = quota
        self._screen = screen
        self._signer = signer
        self._max_batch = max_batch
        self._max_queued = max_queued
        self._lanes = [_Lane() for _ in range(max(1, workers))]
        self._queued = 0
        self._in_flight = 0
        self._closed = False
        # Sends refused because the queue was full, since start.
        self.refused = 0
        self._overload_logged = -_OVERLOAD_LOG_EVERY

    @property
    def queued(self) -> int:
        """Sends waiting for a batch (not counting the batches being committed)."""
        return self._queued

    @property
    def in_flight(self) -> int:
        """Sends in the batches being committed."""
        return self._in_flight

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
        """Store a message, committed; returns it and whether it was created (False: a
        retry with the same `client_id` got the first message back). Raises Overloaded
        when the send queue is full."""
        sent = await self.submit(
            sender=sender,
            conversation_id=conversation_id,
            body=body,
            client_id=client_id,
            attachment_ids=attachment_ids,
            reply_to_id=reply_to_id,
        )
        return await sent

    async def submit(
        self,
        *,
        sender: User,
        conversation_id: uuid.UUID,
        body: str,
        client_id: str | None = None,
        attachment_ids: Sequence[uuid.UUID] = (),
        reply_to_id: uuid.UUID | None = None,
    ) -> asyncio.Future[SendResult]:
        """Queue a message; the future resolves (or fails) once its batch has committed.
        Raises at once (Overloaded, RateLimited) when it cannot be queued. A future
        cancelled before its batch is taken is not sent."""
        if self._closed:
            raise RuntimeError("the server is shutting down")
        self._check_room()
        if self._quota is not None:
            # Messages per user (REST and WebSocket alike): 429 `message_rate_limited`.
            await self._quota.take(str(sender.id))
            try:
                self._check_room()  # the queue may have filled while the quota answered
            except Overloaded:
                await self._quota.give_back(str(sender.id))
                raise
        request = SendRequest(
            sender.id, conversation_id, body, client_id, tuple(attachment_ids), reply_to_id
        )
        # The verdict seam (screen.py): judged off the transaction, before queueing.
        verdict = await self._screen.judge(request)
        if verdict is not Verdict.allow:
            if self._quota is not None:
                await self._quota.give_back(str(sender.id))
            enforce(verdict)
        loop = asyncio.get_running_loop()
        item = _Send(request, loop.create_future())
        lanes = self._lanes
        lane = lanes[conversation_id.int % len(lanes)] if len(lanes) > 1 else lanes[0]
        lane.queue.append(item)
        self._queued += 1
        lane.wake.set()
        if lane.worker is None:
            lane.worker = loop.create_task(self._run(lane), name="group-commit")
        return item.future

    def _check_room(self) -> None:
        if self._queued < self._max_queued:
            return
        self.refused += 1
        SENDS_OVERLOADED.inc()
        now = time.monotonic()
        if now - self._overload_logged >= _OVERLOAD_LOG_EVERY:
            self._overload_logged = now
            log.warning(
                "send queue full (%d sends waiting): refusing sends with `overloaded` "
                "(%d refused since start)",
                self._queued,
                self.refused,
            )
        raise Overloaded(
            "The server has too many messages to store right now; send this one again "
            "in a moment (with the same client_id).",
            retry_after=1,
        )

    async def aclose(self) -> None:
        """Finish what is queued, then stop."""
        self._closed = True
        for lane in self._lanes:
            lane.wake.set()
        for lane in self._lanes:
            if lane.worker is not None:
                await lane.worker

    async def _run(self, lane: _Lane) -> None:
        queue = lane.queue
        while not (self._closed and not queue):
            await lane.wake.wait()
            lane.wake.clear()
            while queue:
                count = min(self._max_batch, len(queue))
                batch = [queue.popleft() for _ in range(count)]
                self._queued -= count
                batch = [item for item in batch if not item.future.done()]
                if not batch:
                    continue
                self._in_flight += len(batch)
                started = time.perf_counter()
                try:
                    await self._commit_batch(batch)
                finally:
                    self._in_flight -= len(batch)
                    metrics.COMMIT_SECONDS.observe(time.perf_counter() - started)
                    metrics.COMMIT_BATCH.observe(len(batch))

    async def _commit_batch(self, batch: list[_Send], *, check_retries: bool = False) -> None:
        if len(batch) == 1:
            await self._commit_one(batch[0], check_retries=check_retries)
            return
        try:
            async with self._uow() as uow:
                outcomes = await send_messages(
                    uow,
                    [item.request for item in batch],
                    signer=self._signer,
                    check_retries=check_retries,
                )
                await uow.commit()
        except asyncio.CancelledError:
            raise
        except RetriesFound:
            if not check_retries:  # rolled back: again, answering the retries
                await self._commit_batch(batch, check_retries=True)
                return
            # A retry committed on another connection meanwhile: one by one.
            for item in batch:
                await self._commit_one(item, check_retries=True)
            return
        except Exception:
            # Nothing of the batch is committed: each send is tried on its own.
            log.warning(
                "group commit of %d sends failed; retrying one by one", len(batch), exc_info=True
            )
            for item in batch:
                await self._commit_one(item, check_retries=True)
            return
        for item, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, ChatError):
                _settle(item, exc=outcome)
            else:
                _settle(item, result=outcome)

    async def _commit_one(self, item: _Send, *, check_retries: bool = False) -> None:
        try:
            async with self._uow() as uow:
                (outcome,) = await send_messages(
                    uow, [item.request], signer=self._signer, check_retries=check_retries
                )
                await uow.commit()
        except asyncio.CancelledError:
            raise
        except RetriesFound:
            if not check_retries:
                await self._commit_one(item, check_retries=True)
                return
            # A concurrent retry with the same client_id committed first (on another
            # connection, after this one looked): its message is the answer.
            await self._settle_with_winner(item, None)
            return
        except IntegrityError as exc:
            # A unique key another transaction took first, e.g. the client_id key of a
            # retry committed meanwhile: its message is the answer if there is one.
            await self._settle_with_winner(item, exc)
            return
        except Exception as exc:
            _settle(item, exc=exc)
            return
        if isinstance(outcome, ChatError):
            _settle(item, exc=outcome)
        else:
            _settle(item, result=outcome)

    async def _settle_with_winner(self, item: _Send, exc: Exception | None) -> None:
        key = item.request.retry_key
        found = {}
        if key is not None:
            async with self._uow() as uow:
                found = await find_sent(uow, {key}, signer=self._signer)
        if key is not None and key in found:
            _settle(item, result=(found[key], False))
        else:
            _settle(item, exc=exc or RuntimeError("the send could not be stored; try again"))


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
