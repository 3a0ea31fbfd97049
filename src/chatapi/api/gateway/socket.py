"""One socket's life, from the `auth` frame to its close, and its frame handlers: each a
thin call of a service. A frame that writes opens its own unit of work and commits it
(message sends go through the group commit, which owns theirs).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from datetime import UTC, datetime

from fastapi import WebSocket, WebSocketDisconnect
from limits import parse

from chatapi import logs, metrics
from chatapi.api.gateway import calls as call_frames
from chatapi.api.gateway.presence import announce_presence
from chatapi.api.state import AppState
from chatapi.domain import TypingChanged, TypingState
from chatapi.errors import ChatError
from chatapi.models import User
from chatapi.realtime import protocol as p
from chatapi.realtime.connection import Connection, TokenBucket
from chatapi.security import TokenClaims
from chatapi.services import auth as auth_service
from chatapi.services import membership, receipts, sessions, users
from chatapi.services.media import attachments
from chatapi.services.messages.send import SendResult

log = logging.getLogger(__name__)

CLOSE_WAIT_SECONDS = 5.0
# A slow reader's close frame can only be written once it reads again; wait that long.
SLOW_CLOSE_WAIT_SECONDS = 30.0
DRAIN_WAIT_SECONDS = 2.0
BUSY_WAIT_SECONDS = 10.0
# Sends of one socket in the group commit at once; beyond it the socket reads no further
# frame until one is answered.
MAX_SENDING = 32


@functools.cache
def _rate(limit: str) -> tuple[int, float]:
    """WS_RATE_LIMIT (e.g. `50/second`) as frames and seconds, parsed once."""
    item = parse(limit)
    return item.amount, float(item.get_expiry())


class Gateway:
    """Serves one accepted socket until it closes, in the socket's own task: it reads and
    handles frames; the connection's writer runs only while frames are queued; a close
    asked for from elsewhere (the hub, the outbox, the token's deadline) interrupts the
    wait for the next frame (see `_wake`)."""

    __slots__ = (
        "_busy_timer",
        "_deadline_timer",
        "_receiving",
        "_task",
        "_woken",
        "attached",
        "bucket",
        "busy",
        "conn",
        "counted_online",
        "deadline",
        "penalty",
        "sending",
        "settings",
        "signals",
        "state",
        "typing",
        "typing_sent",
        "ws",
    )

    def __init__(self, state: AppState, websocket: WebSocket) -> None:
        self.state = state
        self.settings = state.settings
        self.ws = websocket
        self.conn = Connection(
            websocket,
            outbox_size=state.settings.ws_outbox_size,
            outbox_bytes=state.settings.ws_outbox_bytes,
        )
        amount, seconds = _rate(state.settings.ws_rate_limit)
        self.bucket = TokenBucket(amount, seconds)
        # Frames refused for the rate drain this (made at the first refusal, full: as if
        # it had been there all along); it refills ten times slower. Empty: 4429.
        self.penalty: TokenBucket | None = None
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + state.settings.ws_auth_timeout_seconds
        self.busy = False
        # Sends queued for the group commit and not answered yet (created on first use).
        self.sending: set[asyncio.Future[SendResult]] | None = None
        # conversation -> the timer that announces `stop`, and when `start` was last sent
        # (made with the first `typing` frame: most sockets never send one).
        self.typing: dict[uuid.UUID, asyncio.TimerHandle] | None = None
        self.typing_sent: dict[uuid.UUID, float] | None = None
        # `call.signal` frames' own rate (made with the first one).
        self.signals: TokenBucket | None = None
        self.attached = False
        self.counted_online = False
        self._task: asyncio.Task[None] | None = None
        self._receiving = False
        self._woken = False
        self._deadline_timer: asyncio.TimerHandle | None = None
        self._busy_timer: asyncio.TimerHandle | None = None

    # --- life cycle --------------------------------------------------------------------

    async def serve(self) -> None:
        # Every line logged while serving this socket names it (chatapi.logs).
        logs.session_id.set(self.conn.session_id)
        conn = self.conn
        self._task = asyncio.current_task()
        conn.on_close = self._wake
        self._arm_deadline()
        metrics.SOCKETS_OPEN.inc()
        try:
            await self._read()
            if self.sending:  # the sends in the group commit: their acks belong to them
                await asyncio.wait(self.sending, timeout=BUSY_WAIT_SECONDS)
            if conn.close_code is not None and conn.drain_before_close and not conn.peer_gone:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(DRAIN_WAIT_SECONDS):
                        await conn.drained()
        finally:
            metrics.SOCKETS_OPEN.dec()
            for sent in list(self.sending or ()):
                sent.cancel()  # not taken by a batch yet: not sent (the client resends)
            conn.on_close = None
            for timer in (self._deadline_timer, self._busy_timer):
                if timer is not None:
                    timer.cancel()
            await conn.stop_writing()
            # Cleanup first: a slow reader's close frame may wait a while for it to read.
            await self._cleanup()
            await self._close_socket()

    def _wake(self) -> None:
        """The socket should end (a close was asked for, or the peer is gone): stop
        waiting for its next frame. A frame being handled is let finish first (its commit
        and its ack belong together), for up to BUSY_WAIT_SECONDS."""
        task = self._task
        if task is None or self._woken:
            return
        if self._receiving:
            self._woken = True
            task.cancel()
        elif self.busy and self._busy_timer is None:
            loop = asyncio.get_running_loop()
            self._busy_timer = loop.call_later(BUSY_WAIT_SECONDS, self._interrupt)
        # Otherwise the socket's own task is running: it sees the close code itself.

    def _interrupt(self) -> None:
        self._busy_timer = None
        if self._task is not None and not self._woken and self.busy:
            self._woken = True
            self._task.cancel()

    def _arm_deadline(self) -> None:
        """Time out at `deadline`: no `auth` in time (4408), or the token expired (4401)."""
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
        loop = asyncio.get_running_loop()
        self._deadline_timer = loop.call_at(self.deadline, self._deadline_passed)

    def _deadline_passed(self) -> None:
        self._deadline_timer = None
        if not self.busy:  # a frame being handled (an `auth` renewing it) is checked after
            self._time_out()

    def _time_out(self) -> None:
        if self.conn.user is None:
            self.conn.close(p.CLOSE_AUTH_TIMEOUT, "no auth frame in time")
        else:
            self.conn.close(p.CLOSE_NOT_AUTHENTICATED, "token expired")

    async def _close_socket(self) -> None:
        conn = self.conn
        if conn.close_code is None or conn.peer_gone:
            return
        wait = (
            SLOW_CLOSE_WAIT_SECONDS
            if conn.close_code == p.CLOSE_TRY_AGAIN_LATER
            else CLOSE_WAIT_SECONDS
        )
        with contextlib.suppress(TimeoutError, WebSocketDisconnect, RuntimeError, OSError):
            async with asyncio.timeout(wait):
                await self.ws.close(conn.close_code, conn.close_reason)

    async def _cleanup(self) -> None:
        conn = self.conn
        stopped: list[uuid.UUID] = []
        if self.typing:
            for handle in self.typing.values():
                handle.cancel()
            stopped = list(self.typing)
            self.typing.clear()
        if self.attached:
            self.state.hub.detach(conn)
        if conn.user is None:
            return
        user_id = conn.user.id
        try:
            await call_frames.socket_closed(self.state, conn)
        except Exception:
            log.exception("ws: leaving calls after session %s failed", conn.session_id)
        try:
            for conversation_id in stopped:
                await self._publish_typing(conversation_id, "stop")
            if self.counted_online and await self.state.presence.disconnected(user_id):
                # Written and announced with others closing about now (a deploy, a
                # network blip closes thousands at once).
                self.state.offline.add(user_id)
        except Exception:
            log.exception("ws: cleanup after session %s failed", conn.session_id)

    # --- reading ------------------------------------------------------------------------

    async def _read(self) -> None:
        """Read and handle frames until the socket should end."""
        task = self._task
        assert task is not None
        try:
            await self._read_frames()
        except asyncio.CancelledError:
            # Our own wake-up ends the reading; any other cancellation goes on.
            if not self._woken or task.uncancel() > 0:
                raise
        finally:
            self._receiving = False
            self._woken = True  # from now on, nothing interrupts this task

    async def _read_frames(self) -> None:
        conn = self.conn
        receive = self.ws.receive
        loop = asyncio.get_running_loop()
        limit = self.settings.ws_max_frame_bytes
        while conn.close_code is None and not conn.peer_gone:
            if loop.time() >= self.deadline:
                self._time_out()
                return
            self._receiving = True
            try:
                message = await receive()
            finally:
                self._receiving = False
            if message["type"] == "websocket.disconnect":
                conn.peer_gone = True
                return
            text: str | None = message.get("text")
            if text is None:  # a binary frame: the protocol is JSON text
                conn.close(p.CLOSE_UNSUPPORTED_DATA, "binary frames are not accepted")
                return
            # At most 4 UTF-8 bytes per character: encode only long ones.
            too_big = len(text) * 4 > limit and len(text.encode()) > limit
            if too_big:
                conn.close(p.CLOSE_FRAME_TOO_LARGE, "frame too large", drain=False)
                return
            if not self.bucket.take():
                if self.penalty is None:
                    self.penalty = TokenBucket(self.bucket.capacity, self.bucket.seconds * 10)
                if not self.penalty.take():
                    conn.close(p.CLOSE_RATE_LIMITED, "rate limit exceeded repeatedly")
                    return
                conn.send(
                    p.error_text(
                        "rate_limited", "Too many frames: slow down, this one was dropped."
                    )
                )
                continue
            self.busy = True
            try:
                await self.handle(text)
            finally:
                self.busy = False

    async def handle(self, text: str) -> None:
        client_id: str | None = None
        try:
            frame = p.parse_client_frame(text)
            metrics.FRAMES_IN.labels(frame.type).inc()
            if isinstance(frame, p.MessageSend):
                client_id = frame.client_id
            if isinstance(frame, p.Auth):
                await self.on_auth(frame)
            elif isinstance(frame, p.Ping):
                self.conn.send(p.PONG_TEXT)
            elif self.conn.user is None:
                raise p.FrameError(
                    "not_authenticated", "Send an `auth` frame with your access token first."
                )
            elif isinstance(frame, p.MessageSend):
                await self.on_message_send(self.conn.user, frame)
            elif isinstance(frame, p.Typing):
                await self.on_typing(self.conn.user, frame)
            elif isinstance(frame, p.Read | p.Delivered):
                await self.on_marker(self.conn.user, frame)
            elif isinstance(frame, p.CallSignal):
                if self.signals is None:
                    self.signals = TokenBucket(*_rate(self.settings.call_signal_rate_limit))
                if not self.signals.take():
                    raise p.FrameError(
                        "rate_limited", "Too many call signals: slow down, this one was dropped."
                    )
                await call_frames.on_call_frame(self.state, self.conn, self.conn.user, frame)
            else:
                await call_frames.on_call_frame(self.state, self.conn, self.conn.user, frame)
        except p.FrameError as exc:
            self.conn.send(p.error_text(exc.code, exc.detail, exc.client_id))
        except ChatError as exc:
            self.conn.send(p.error_text(exc.code, exc.detail, client_id))
        except Exception:  # the socket outlives a failed frame; CancelledError passes
            log.exception("ws: frame failed in session %s", self.conn.session_id)
            self.conn.send(
                p.error_text(
                    "internal_error",
                    "The server could not handle this frame; try again.",
                    client_id,
                )
            )

    # --- frames -------------------------------------------------------------------------

    async def on_auth(self, frame: p.Auth) -> None:
        conn = self.conn
        revocations = self.state.revocations
        generation = revocations.generation
        try:
            claims = auth_service.access_claims(frame.token, key=self.state.token_policy.key)
        except ChatError:
            conn.close(p.CLOSE_NOT_AUTHENTICATED, "invalid or expired token")
            return
        # The user's first socket here loads their conversations (and, for the presence
        # announcement, who shares one with them) in the same statement as the user.
        hub = self.state.hub
        loading = conn.user is None and hub.start_loading(claims.sub)
        try:
            try:
                async with self.state.read_uow() as uow:
                    found = await auth_service.authenticate_socket(
                        uow, claims=claims, revocations=revocations, with_circle=loading
                    )
            except ChatError:
                conn.close(p.CLOSE_NOT_AUTHENTICATED, "invalid or expired token")
                return
            user = found.user
            if conn.user is not None and conn.user.id != user.id:
                conn.close(p.CLOSE_NOT_AUTHENTICATED, "a socket stays with one user")
                return
            remaining = (claims.exp - datetime.now(UTC)).total_seconds()
            self.deadline = asyncio.get_running_loop().time() + remaining
            self._arm_deadline()
            conn.sid = claims.sid
            if conn.user is not None:
                conn.send(p.AuthRenewed(expires_at=claims.exp).text())
                await self._recheck_session(claims, generation)
                return
            conn.user = user
            self.counted_online = True
            sockets = await self.state.presence.add_socket(user.id)
            limit = self.settings.ws_max_sockets_per_user
            if limit and sockets > limit:
                conn.close(p.CLOSE_TOO_MANY_SOCKETS, f"more than {limit} open sockets")
                return
            came_online = sockets == 1
            # Yours: with your e-mail address (nobody else's frames carry one).
            me = users.profile(user, self.state.media_signer, online=True).model_copy(
                update={"email": user.email}
            )
            ready = p.Ready(user=me, session_id=conn.session_id).text()
            loaded, loading = (found.conversations if loading else None), False
            try:
                await hub.attach(conn, ready, loaded=loaded)
            except Exception:
                log.exception("ws: loading conversations for session %s failed", conn.session_id)
                conn.close(p.CLOSE_INTERNAL_ERROR, "try again")
                return
        finally:
            if loading:
                hub.abandon_loading(claims.sub)
        self.attached = True
        log.debug("ws: session %s authenticated user %s", conn.session_id, user.id)
        await self._recheck_session(claims, generation)
        if came_online:
            await announce_presence(
                self.state,
                user.id,
                online=True,
                last_seen_at=user.last_seen_at,
                recipients=found.co_members,
            )

    async def _recheck_session(self, claims: TokenClaims, generation: int) -> None:
        """A revocation heard while this socket authenticated may have missed it (the hub
        did not know the socket yet): ask again, from the database if need be."""
        revocations = self.state.revocations
        if revocations.generation == generation:
            return
        async with self.state.read_uow() as uow:
            revoked = await sessions.is_revoked(uow, revocations, claims)
        if revoked:
            self.conn.close(p.CLOSE_NOT_AUTHENTICATED, p.SESSION_REVOKED_REASON)

    async def on_message_send(self, user: User, frame: p.MessageSend) -> None:
        # Queued for the group commit (sends arriving together share one transaction); the
        # socket reads on meanwhile, so a full send queue refuses sends (`overloaded`)
        # instead of letting them wait unseen in the kernel's buffers. The ack is written
        # when the commit answers (`_sent`); sends to one conversation keep their order.
        if self.sending is None:
            self.sending = set()
        sending = self.sending
        if len(sending) >= MAX_SENDING:
            await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
        typing = self.typing.get(frame.conversation_id) if self.typing else None
        received = time.perf_counter()
        sent = await self.state.sends.submit(
            sender=user,
            conversation_id=frame.conversation_id,
            body=frame.body,
            client_id=frame.client_id,
            attachment_ids=frame.attachment_ids,
            reply_to_id=frame.reply_to_id,
        )
        sending.add(sent)
        sent.add_done_callback(functools.partial(self._sent, user, frame, typing, received))

    def _sent(
        self,
        user: User,
        frame: p.MessageSend,
        typing: asyncio.TimerHandle | None,
        received: float,
        sent: asyncio.Future[SendResult],
    ) -> None:
        if self.sending is not None:
            self.sending.discard(sent)
        if sent.cancelled():
            return
        exc = sent.exception()
        if isinstance(exc, ChatError):
            self.conn.send(p.error_text(exc.code, exc.detail, frame.client_id))
            return
        if exc is not None:
            log.error("ws: send failed in session %s", self.conn.session_id, exc_info=exc)
            self.conn.send(
                p.error_text(
                    "internal_error", "The server could not store it; try again.", frame.client_id
                )
            )
            return
        message, _created = sent.result()
        message = attachments.for_viewer(message, self.state.media_signer.for_viewer(user.id))
        self.conn.send(p.MessageAck(client_id=frame.client_id, message=message).text())
        metrics.SEND_ACK_SECONDS.observe(time.perf_counter() - received)
        metrics.FRAMES_OUT.labels("reply").inc()
        # The message ends the typing it followed (not a `start` that came after it).
        conversation_id = frame.conversation_id
        if typing is not None and self.typing and self.typing.get(conversation_id) is typing:
            self.typing.pop(conversation_id).cancel()
            self.state.hub.tasks.spawn(
                self._publish_typing(conversation_id, "stop"), name="typing-sent"
            )

    async def on_marker(self, user: User, frame: p.Read | p.Delivered) -> None:
        mark = receipts.mark_read if isinstance(frame, p.Read) else receipts.mark_delivered
        async with self.state.uow() as uow:
            await mark(uow, user=user, conversation_id=frame.conversation_id, seq=frame.seq)
            await uow.commit()

    async def on_typing(self, user: User, frame: p.Typing) -> None:
        conversation_id = frame.conversation_id
        member = self.state.hub.is_member(user.id, conversation_id)
        if member is None:
            async with self.state.read_uow() as uow:
                await membership.require_member(
                    uow, user_id=user.id, conversation_id=conversation_id
                )
        elif not member:
            raise membership.not_found()
        loop = asyncio.get_running_loop()
        ttl = self.settings.ws_typing_ttl_seconds
        if self.typing is None:
            self.typing, self.typing_sent = {}, {}
        handle = self.typing.pop(conversation_id, None)
        if handle is not None:
            handle.cancel()
        if frame.state == "stop":
            if handle is not None:
                await self._publish_typing(conversation_id, "stop")
            return
        self.typing[conversation_id] = loop.call_later(ttl, self._typing_expired, conversation_id)
        # A start is announced once, and again every half TTL while it is renewed, so
        # that receivers (and sockets that joined meanwhile) never time it out early.
        sent = self.typing_sent.get(conversation_id, 0) if self.typing_sent is not None else 0
        if handle is None or loop.time() - sent >= ttl / 2:
            await self._publish_typing(conversation_id, "start")

    def _typing_expired(self, conversation_id: uuid.UUID) -> None:
        if self.typing and self.typing.pop(conversation_id, None) is not None:
            self.state.hub.tasks.spawn(
                self._publish_typing(conversation_id, "stop"), name="typing-expired"
            )

    async def _publish_typing(self, conversation_id: uuid.UUID, state: TypingState) -> None:
        user_id = self.conn.user_id
        if self.typing_sent is None:
            self.typing_sent = {}
        if state == "start":
            self.typing_sent[conversation_id] = asyncio.get_running_loop().time()
        else:
            self.typing_sent.pop(conversation_id, None)
        await self.state.publisher.publish(TypingChanged(conversation_id, user_id, state))
