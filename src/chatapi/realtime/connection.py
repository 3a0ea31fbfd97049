"""One WebSocket: its bounded outbox, its writer task, its rate limiter, its close code.

Fan-out never awaits a socket: the hub calls `send()`, which only queues. A writer task
per socket writes the queue out. When the queue holds too many frames, or too many
bytes, the client is not keeping up: the socket is closed with 1013, what it had queued
is dropped and nothing more is queued for it, so memory stays flat and the other
sockets are not slowed. (The client catches up from the events endpoint when it is back.)
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from fastapi import WebSocket

from chatapi.models import User
from chatapi.realtime.protocol import CLOSE_TRY_AGAIN_LATER

log = logging.getLogger(__name__)


class TokenBucket:
    """`amount` frames per `seconds`, with bursts up to `amount`."""

    def __init__(self, amount: int, seconds: float) -> None:
        self.capacity = float(amount)
        self.rate = amount / seconds
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Connection:
    """The gateway's handle on one socket (a `Sink` for the hub once authenticated)."""

    def __init__(
        self, websocket: WebSocket, *, outbox_size: int, outbox_bytes: int = 1 << 20
    ) -> None:
        self.ws = websocket
        self.session_id = uuid.uuid4().hex
        self.user: User | None = None
        # The login session of the token it authenticated with (`sid` claim).
        self.sid: uuid.UUID | None = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=outbox_size)
        # Characters of the frames queued and not yet written (a frame's text is JSON:
        # bytes for ASCII, at most four bytes each otherwise).
        self._queued = 0
        self._max_queued = outbox_bytes
        self.close_code: int | None = None
        self.close_reason = ""
        self.drain_before_close = True
        self.closing = asyncio.Event()
        self.peer_gone = False

    @property
    def user_id(self) -> uuid.UUID:
        assert self.user is not None, "only authenticated connections are routed to"
        return self.user.id

    def send(self, text: str) -> None:
        if self.close_code is not None:
            return
        queued = self._queued + len(text)
        if queued > self._max_queued and self._queued:
            self._overflow()
            return
        try:
            self._outbox.put_nowait(text)
        except asyncio.QueueFull:
            self._overflow()
            return
        self._queued = queued

    def _overflow(self) -> None:
        log.warning("ws: session %s is not keeping up; closing it (1013)", self.session_id)
        self.close(
            CLOSE_TRY_AGAIN_LATER, "outgoing buffer full: reconnect and catch up", drain=False
        )
        # Let go of what it had queued now: a stalled reader may take a while to close.
        while True:
            try:
                self._outbox.get_nowait()
            except asyncio.QueueEmpty:
                break
            self._outbox.task_done()
        self._queued = 0

    def close(self, code: int, reason: str = "", *, drain: bool = True) -> None:
        """Ask for the socket to be closed with `code` (after flushing the outbox if `drain`)."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.close_reason = reason[:120]
        self.drain_before_close = drain
        self.closing.set()

    async def drained(self) -> None:
        await self._outbox.join()

    async def run_writer(self) -> None:
        """Write queued frames until cancelled or the peer goes away."""
        while True:
            text = await self._outbox.get()
            try:
                await self.ws.send_text(text)
            finally:
                self._queued = max(0, self._queued - len(text))
                self._outbox.task_done()
