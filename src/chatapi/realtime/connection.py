"""One WebSocket: its bounded outbox, its writer, its rate limiter, its close code.

Fan-out never awaits a socket: the hub calls `send()`, which only queues. A writer task
writes the queue out; it runs only while the queue holds frames (an idle socket has
none), so a socket costs one task, the one reading it. When the queue holds too many
frames, or too many bytes, the client is not keeping up: the socket is closed with
1013, what it had queued is dropped and nothing more is queued for it, so memory stays
flat and the other sockets are not slowed. (The client catches up from the events
endpoint when it is back.)
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable

from fastapi import WebSocket, WebSocketDisconnect

from chatapi.metrics import OUTBOX_CLOSES
from chatapi.models import User
from chatapi.realtime.protocol import CLOSE_TRY_AGAIN_LATER

log = logging.getLogger(__name__)


class TokenBucket:
    """`amount` frames per `seconds`, with bursts up to `amount`."""

    __slots__ = ("capacity", "rate", "seconds", "stamp", "tokens")

    def __init__(self, amount: float, seconds: float) -> None:
        self.capacity = float(amount)
        self.seconds = seconds
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
    """The gateway's handle on one socket (a `Sink` for the hub once authenticated).

    `on_close` is called when the socket should end without waiting for its next frame:
    a close was asked for (`close()`), or a write failed (the peer is gone).
    """

    __slots__ = (
        "_max_frames",
        "_max_queued",
        "_outbox",
        "_queued",
        "_writer",
        "close_code",
        "close_reason",
        "drain_before_close",
        "on_close",
        "peer_gone",
        "session_id",
        "sid",
        "user",
        "ws",
    )

    def __init__(
        self, websocket: WebSocket, *, outbox_size: int, outbox_bytes: int = 1 << 20
    ) -> None:
        self.ws = websocket
        self.session_id = uuid.uuid4().hex
        self.user: User | None = None
        # The login session of the token it authenticated with (`sid` claim).
        self.sid: uuid.UUID | None = None
        # Frames not yet written; a queue exists only while a writer writes it out.
        self._outbox: deque[str] | None = None
        self._max_frames = outbox_size
        # Characters of the frames queued and not yet written (a frame's text is JSON:
        # bytes for ASCII, at most four bytes each otherwise).
        self._queued = 0
        self._max_queued = outbox_bytes
        self._writer: asyncio.Task[None] | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self.drain_before_close = True
        self.peer_gone = False
        self.on_close: Callable[[], None] | None = None

    @property
    def user_id(self) -> uuid.UUID:
        assert self.user is not None, "only authenticated connections are routed to"
        return self.user.id

    def send(self, text: str) -> None:
        if self.close_code is not None or self.peer_gone:
            return
        outbox = self._outbox
        queued = self._queued + len(text)
        if outbox is None:  # idle: no queue and no writer until there is something to write
            outbox = self._outbox = deque()
            self._writer = asyncio.get_running_loop().create_task(self._write_out(outbox))
        elif (queued > self._max_queued and self._queued) or len(outbox) >= self._max_frames:
            self._overflow()
            return
        outbox.append(text)
        self._queued = queued

    def _overflow(self) -> None:
        log.warning("ws: session %s is not keeping up; closing it (1013)", self.session_id)
        OUTBOX_CLOSES.inc()
        self.close(
            CLOSE_TRY_AGAIN_LATER, "outgoing buffer full: reconnect and catch up", drain=False
        )
        # Let go of what it had queued now: a stalled reader may take a while to close.
        if self._outbox is not None:
            self._outbox.clear()
        self._queued = 0

    def close(self, code: int, reason: str = "", *, drain: bool = True) -> None:
        """Ask for the socket to be closed with `code` (after flushing the outbox if `drain`)."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.close_reason = reason[:120]
        self.drain_before_close = drain
        if self.on_close is not None:
            self.on_close()

    async def _write_out(self, outbox: deque[str]) -> None:
        """Write queued frames until none is left (or the peer is gone)."""
        try:
            while outbox:
                text = outbox.popleft()
                try:
                    await self.ws.send_text(text)
                finally:
                    self._queued = max(0, self._queued - len(text))
        except (WebSocketDisconnect, RuntimeError, OSError):
            # The peer is gone (or the socket closed under us): nothing more can be written.
            self.peer_gone = True
            outbox.clear()
            self._queued = 0
            if self.on_close is not None:
                self.on_close()
        finally:
            self._outbox = None
            self._writer = None

    async def drained(self) -> None:
        """Wait until every queued frame is written."""
        writer = self._writer
        if writer is not None:
            await asyncio.wait((writer,))

    async def stop_writing(self) -> None:
        """Stop the writer, if it runs (frames still queued are dropped)."""
        writer = self._writer
        if writer is not None:
            writer.cancel()
            await asyncio.wait((writer,))
        self._queued = 0
