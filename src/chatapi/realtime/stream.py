"""An event stream (`GET /api/v1/events/stream`, Server-Sent Events) as the hub sees it:
a `Sink` like a socket, with a bounded buffer, that keeps only timeline events.

The hub routes to it what it routes to the user's sockets (membership, seq order,
revocations, per-user media links): this module keeps the timeline events of the
conversations the stream follows, in a buffer bounded like a socket's outbox. A stream
that falls too far behind is ended (`too_slow`) instead of growing memory; its client
resumes with `Last-Event-ID`.

It also holds the stream's cursor, the `id:` of every event it sends: `<conversation
id>:<seq>` of the event, then `,<conversation id>:<seq>` for each other conversation the
stream follows (those at seq 0 left out). Resuming from it loses nothing in any of them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from dataclasses import dataclass

import orjson

from chatapi.realtime.protocol import CLOSE_NOT_AUTHENTICATED
from chatapi.schemas import MAX_SEQ

# The most conversations a Last-Event-ID may name.
MAX_CURSOR_ENTRIES = 10_000


class CursorError(ValueError):
    """A Last-Event-ID that is not a cursor this server wrote."""


def parse_cursor(text: str) -> dict[uuid.UUID, int]:
    """`<conversation id>:<seq>[,<conversation id>:<seq>…]` as conversation -> seq."""
    entries = text.strip().split(",")
    if len(entries) > MAX_CURSOR_ENTRIES:
        raise CursorError(f"names more than {MAX_CURSOR_ENTRIES} conversations")
    cursor: dict[uuid.UUID, int] = {}
    for entry in entries:
        conversation, sep, seq = entry.strip().partition(":")
        if not sep or not seq.isascii() or not seq.isdigit() or len(seq) > 10:
            raise CursorError(f"{entry[:60]!r} is not <conversation id>:<seq>")
        try:
            conversation_id = uuid.UUID(conversation)
        except ValueError:
            raise CursorError(f"{conversation[:40]!r} is not a conversation id") from None
        if int(seq) > MAX_SEQ:
            raise CursorError(f"seq {seq} is out of range (0 to {MAX_SEQ})")
        if conversation_id in cursor:
            raise CursorError(f"conversation {conversation_id} is named twice")
        cursor[conversation_id] = int(seq)
    return cursor


def format_cursor(first: uuid.UUID, positions: dict[uuid.UUID, int]) -> str:
    """The cursor after an event of `first`: it first, then every other conversation."""
    head = f"{first}:{positions[first]}"
    rest = [f"{c}:{s}" for c, s in positions.items() if c != first and s > 0]
    return ",".join([head, *rest]) if rest else head


@dataclass(frozen=True, slots=True)
class Live:
    """A timeline event heard live: its conversation, seq, type and JSON (the frame)."""

    conversation_id: uuid.UUID
    seq: int
    type: str
    data: str
    member_id: uuid.UUID | None


# Why a stream ends (the `reason` of its last event, `stream.end`).
REVOKED = "session_revoked"
TOO_SLOW = "too_slow"
TOKEN_EXPIRED = "token_expired"
MEMBER_REMOVED = "member_removed"
SHUTTING_DOWN = "server_restarting"


class StreamSink:
    """The hub's handle on one event stream. `send` keeps timeline events (of `only`, when
    set) and never blocks; past `max_frames` frames or `max_bytes` characters waiting, the
    stream is ended as `too_slow` and what waited is dropped. `close` (a revoked session)
    ends it too."""

    __slots__ = (
        "_max_bytes",
        "_max_frames",
        "_queued",
        "_wake",
        "buffer",
        "ended",
        "ended_detail",
        "only",
        "sid",
        "user_id",
    )

    def __init__(
        self,
        user_id: uuid.UUID,
        sid: uuid.UUID | None,
        *,
        only: uuid.UUID | None,
        max_frames: int,
        max_bytes: int,
    ) -> None:
        self.user_id = user_id
        self.sid = sid
        self.only = only
        self.buffer: deque[Live] = deque()
        self._queued = 0
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._wake = asyncio.Event()
        self.ended: str | None = None
        self.ended_detail = ""

    def send(self, text: str) -> None:
        if self.ended is not None:
            return
        live = _timeline_event(text)
        if live is None or (self.only is not None and live.conversation_id != self.only):
            return
        queued = self._queued + len(text)
        if len(self.buffer) >= self._max_frames or (queued > self._max_bytes and self._queued):
            self.buffer.clear()
            self._queued = 0
            self.end(TOO_SLOW, "you did not read fast enough: resume with Last-Event-ID")
            return
        self.buffer.append(live)
        self._queued = queued
        self._wake.set()

    def close(self, code: int, reason: str = "") -> None:
        """The hub ends the stream (a revoked session: 4401, as it closes sockets)."""
        self.end(REVOKED if code == CLOSE_NOT_AUTHENTICATED else SHUTTING_DOWN, reason)

    def end(self, reason: str, detail: str = "") -> None:
        if self.ended is None:
            self.ended = reason
            self.ended_detail = detail
        self._wake.set()

    async def take(self, wait_seconds: float | None) -> list[Live]:
        """What waits (at least one event unless the stream ended or `wait_seconds` passed)."""
        if not self.buffer and self.ended is None:
            try:
                async with asyncio.timeout(wait_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
        self._wake.clear()
        taken = list(self.buffer)
        self.buffer.clear()
        self._queued = 0
        return taken


def _timeline_event(text: str) -> Live | None:
    """The frame as a timeline event (it has a conversation and a seq), else None."""
    if '"seq"' not in text:
        return None
    try:
        frame = orjson.loads(text)
        seq = frame.get("seq")
        conversation = frame.get("conversation_id")
        if not isinstance(seq, int) or not isinstance(conversation, str) or "type" not in frame:
            return None
        member = frame.get("member") or {}
        member_id = member.get("user_id") if isinstance(member, dict) else None
        return Live(
            conversation_id=uuid.UUID(conversation),
            seq=seq,
            type=str(frame["type"]),
            data=text,
            member_id=uuid.UUID(member_id) if isinstance(member_id, str) else None,
        )
    except (orjson.JSONDecodeError, ValueError, AttributeError):
        return None
