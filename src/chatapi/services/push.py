"""Web Push notifications: the subscriptions people's browsers register, and who gets a
push for a committed message, saying what.

Subscriptions are unique per endpoint (the push service's URL for one browser): posting
one again updates its keys and moves it to whoever posts; each user keeps at most
PUSH_MAX_SUBSCRIPTIONS_PER_USER, the oldest dropped. Each is bound to the login session
that posted it: signing that device out deletes it (`sessions.revoke_session`).

Delivery is off the commit path: the units of work hand committed `message.new` events to
`Pusher.offer`, which only appends to a bounded queue (full: the message's pushes are
dropped and counted, the commit never waits). A worker takes what is queued in batches and
looks the recipients of the whole batch up with one query: every member but the sender who
has a subscription, notifications on, and the conversation not muted — or muted but
mentioned (by name or @all). Members with an open socket on any instance are skipped (the
presence counters). Each push is encrypted for its subscription and POSTed by its own task
(at most `max_in_flight` at once), retried with exponential backoff on 5xx, 429 and
network errors; a subscription its push service answers 404 or 410 to is deleted.
Each instance pushes for the messages it committed, so none is pushed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import Any, cast
from urllib.parse import urlsplit

import httpx2
import orjson
from sqlalchemy import CursorResult, delete, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from chatapi import metrics
from chatapi.db import UnitOfWork
from chatapi.domain import DomainEvent, TimelineAppended
from chatapi.errors import NotFound, Unprocessable
from chatapi.models import Conversation, EventType, Member, PushSubscription, User, UserSettings
from chatapi.ports import OnlineUsers
from chatapi.schemas import EventRead, MessageRead
from chatapi.services.mute import is_muted
from chatapi.webpush import PushAnswer, PushSender, Urgency

log = logging.getLogger(__name__)

# The encrypted payload stays under what every push service takes (4 KiB with the
# encryption's overhead): the JSON is at most this long, the preview cut to fit.
MAX_PAYLOAD_BYTES = 3072
PREVIEW_CHARS = 500
NO_PREVIEW = "New message"
# A trip round the event loop longer than this means other work is waiting (Pusher._turn),
# and then the next push waits this long.
BUSY_LAG = 0.002
BUSY_PAUSE = 0.02


def push_disabled() -> NotFound:
    return NotFound(
        "Push notifications are switched off on this server (PUSH_ENABLED, or no "
        "VAPID_PRIVATE_KEY in production).",
        code="push_disabled",
    )


# --- subscriptions ------------------------------------------------------------------------


def check_endpoint(endpoint: str, *, allow_http_loopback: bool) -> str:
    """A push endpoint must be an https:// URL of a public host (http:// only to a
    loopback address, when allowed): 422 `invalid_push_endpoint` otherwise. Push services
    are on the internet; an address of our own network (10.x, 192.168.x, loopback, ...)
    would make the server POST wherever a user points it."""
    endpoint = endpoint.strip()
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
        _ = parts.port  # a port that does not parse is refused here, not when pushing
    except ValueError:
        host, parts = "", urlsplit("")
    loopback = _loopback(host)
    if allow_http_loopback and loopback and parts.scheme in ("http", "https"):
        return endpoint
    if parts.scheme == "https" and host and not loopback and not _private(host):
        return endpoint
    raise Unprocessable(
        "endpoint must be the https:// URL of a push service, as the browser's "
        "PushSubscription gives it.",
        code="invalid_push_endpoint",
    )


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _private(host: str) -> bool:
    """An address literal that is not a public one (private, link-local, reserved, ...)."""
    try:
        return not ip_address(host).is_global
    except ValueError:
        return False


async def subscribe(
    uow: UnitOfWork,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID | None,
    endpoint: str,
    p256dh: str,
    auth: str,
    max_per_user: int,
    allow_http_loopback: bool = False,
) -> tuple[PushSubscription, bool]:
    """Store (or update) the caller's subscription; returns it and whether it is new. The
    same endpoint posted again — by this user or another one signed in on that browser —
    gets the new keys and belongs to the caller and their session from now on. Beyond
    `max_per_user`, the caller's oldest subscriptions are deleted."""
    endpoint = check_endpoint(endpoint, allow_http_loopback=allow_http_loopback)
    found = await _by_endpoint(uow, endpoint)
    created = found is None
    if found is None:
        found = PushSubscription(
            user_id=user_id, session_id=session_id, endpoint=endpoint, p256dh=p256dh, auth=auth
        )
        try:
            async with uow.savepoint():
                uow.session.add(found)
                await uow.session.flush()
        except IntegrityError:  # the same browser posted it twice at once
            found = await _by_endpoint(uow, endpoint)
            if found is None:
                raise
            created = False
    if not created:
        found.user_id, found.session_id = user_id, session_id
        found.p256dh, found.auth = p256dh, auth
        await uow.session.flush()
    await _keep_newest(uow, user_id=user_id, keep=max_per_user, mine=found.id)
    return found, created


async def _by_endpoint(uow: UnitOfWork, endpoint: str) -> PushSubscription | None:
    found = await uow.session.scalar(
        select(PushSubscription).where(col(PushSubscription.endpoint) == endpoint)
    )
    return found


async def _keep_newest(uow: UnitOfWork, *, user_id: uuid.UUID, keep: int, mine: uuid.UUID) -> None:
    count = await uow.session.scalar(
        select(func.count()).where(col(PushSubscription.user_id) == user_id)
    )
    if not count or count <= keep:
        return
    oldest = (
        await uow.session.scalars(
            select(col(PushSubscription.id))
            .where(col(PushSubscription.user_id) == user_id, col(PushSubscription.id) != mine)
            .order_by(col(PushSubscription.created_at), col(PushSubscription.id))
            .limit(count - keep)
        )
    ).all()
    await uow.session.execute(delete(PushSubscription).where(col(PushSubscription.id).in_(oldest)))


async def unsubscribe(uow: UnitOfWork, *, user_id: uuid.UUID, endpoint: str) -> None:
    """Delete the caller's subscription of this endpoint; nothing when there is none (or it
    is someone else's: it is not the caller's to delete)."""
    await uow.session.execute(
        delete(PushSubscription).where(
            col(PushSubscription.endpoint) == endpoint.strip(),
            col(PushSubscription.user_id) == user_id,
        )
    )


async def list_subscriptions(uow: UnitOfWork, *, user_id: uuid.UUID) -> list[PushSubscription]:
    """The user's subscriptions, the newest first."""
    found = await uow.session.scalars(
        select(PushSubscription)
        .where(col(PushSubscription.user_id) == user_id)
        .order_by(col(PushSubscription.created_at).desc(), col(PushSubscription.id))
    )
    return list(found.all())


async def forget(uow: UnitOfWork, *, subscription_id: uuid.UUID, endpoint: str) -> bool:
    """Its push service says the subscription is gone (404/410): delete it, unless the
    browser registered the endpoint anew meanwhile (a new row)."""
    result = await uow.session.execute(
        delete(PushSubscription).where(
            col(PushSubscription.id) == subscription_id,
            col(PushSubscription.endpoint) == endpoint,
        )
    )
    return bool(cast(CursorResult[Any], result).rowcount)


# --- what a push says ---------------------------------------------------------------------


def preview(message: MessageRead) -> str:
    """The text a push shows for a message: its text, else what its first file is."""
    text = " ".join(message.body.split())
    if text:
        return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
    if not message.attachments:
        return NO_PREVIEW
    first = message.attachments[0]
    if first.content_type.startswith("image/"):
        return "📷 Photo"
    if first.content_type.startswith("video/"):
        return "🎥 Video"
    return f"📄 {first.filename}"


def payload(
    message: MessageRead,
    *,
    sender_name: str,
    kind: str,
    title: str | None,
    previews: bool,
    mention: bool,
) -> bytes:
    """The JSON a push carries (README "Notifications"), at most MAX_PAYLOAD_BYTES."""
    heading = sender_name if kind == "direct" else f"{sender_name} · {title or 'Group'}"
    body = preview(message) if previews else NO_PREVIEW
    while True:
        data = orjson.dumps(
            {
                "type": "message",
                "conversation_id": str(message.conversation_id),
                "message_id": str(message.id),
                "seq": message.seq,
                "title": heading,
                "body": body,
                "tag": f"conversation:{message.conversation_id}",
                "url": f"/c/{message.conversation_id}",
                "mention": mention,
            }
        )
        if len(data) <= MAX_PAYLOAD_BYTES or len(body) <= 1:
            return data
        body = body[: max(1, len(body) * 2 // 3) - 1] + "…"


# --- delivery -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Push:
    subscription_id: uuid.UUID
    user_id: uuid.UUID
    endpoint: str
    p256dh: str
    auth: str
    payload: bytes
    urgency: Urgency


class Pusher:
    """The push queue and its worker (see the module docstring). `offer` is what units of
    work call after a commit; `start` and `aclose` belong to the app's lifespan."""

    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        read_uow: Callable[[], UnitOfWork],
        presence: OnlineUsers,
        sender: PushSender,
        queue_size: int,
        max_attempts: int,
        retry_base_seconds: float,
        max_in_flight: int = 64,
        max_batch: int = 64,
    ) -> None:
        self._uow = uow
        self._read_uow = read_uow
        self._presence = presence
        self.sender = sender
        self._queue: asyncio.Queue[MessageRead] = asyncio.Queue(maxsize=queue_size)
        self._max_attempts = max_attempts
        self._retry_base = retry_base_seconds
        self._slots = asyncio.Semaphore(max_in_flight)
        self._max_batch = max_batch
        self._worker: asyncio.Task[None] | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self.dropped = 0

    def offer(self, events: Sequence[DomainEvent]) -> None:
        """Queue the new messages of a commit for pushing; never waits (full: dropped)."""
        for event in events:
            if not isinstance(event, TimelineAppended):
                continue
            read: EventRead = event.event
            if read.type != EventType.message_new.value or read.message is None:
                continue
            try:
                self._queue.put_nowait(read.message)
            except asyncio.QueueFull:
                self.dropped += 1
                metrics.PUSH_DROPPED.inc()

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="push")

    async def aclose(self, grace_seconds: float = 2.0) -> None:
        """Stop taking messages; pushes under way get `grace_seconds` to finish."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._deliveries:
            _, pending = await asyncio.wait(set(self._deliveries), timeout=grace_seconds)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        await self.sender.aclose()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                pushes = await self._plan(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("finding the recipients of %d pushed messages failed", len(batch))
                metrics.PUSH_FAILED.inc(len(batch))
                continue
            for push in pushes:
                await self._turn()
                await self._slots.acquire()  # at most max_in_flight pushes at once
                task = asyncio.get_running_loop().create_task(self._deliver(push))
                self._deliveries.add(task)
                task.add_done_callback(self._delivered)

    async def _turn(self) -> None:
        """Pushes are the loop's lowest priority: a push costs about a millisecond of CPU
        (a key pair, ECDH, AES-GCM, the HTTP request), and the process's sockets and
        commits must not wait for them. One trip round the loop tells how much else is
        ready to run; when that took longer than BUSY_LAG, pause BUSY_PAUSE before the next
        push. So a busy server pushes at least 1/BUSY_PAUSE a second (the queue takes the
        rest, then drops), an idle one as fast as the push services answer."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.sleep(0)
        if loop.time() - started > BUSY_LAG:
            await asyncio.sleep(BUSY_PAUSE)

    def _delivered(self, task: asyncio.Task[None]) -> None:
        self._deliveries.discard(task)
        self._slots.release()

    async def _plan(self, batch: list[MessageRead]) -> list[_Push]:
        """The pushes for a batch of committed messages: one query for every candidate
        recipient (members with a subscription and notifications on), one presence look-up,
        one query for the conversations and senders that have any."""
        conversation_ids = {m.conversation_id for m in batch}
        async with self._read_uow() as uow:
            rows = (
                await uow.session.execute(
                    select(
                        col(Member.conversation_id),
                        col(Member.user_id),
                        col(Member.muted_until),
                        col(UserSettings.notification_previews),
                        col(PushSubscription.id),
                        col(PushSubscription.endpoint),
                        col(PushSubscription.p256dh),
                        col(PushSubscription.auth),
                    )
                    .join(PushSubscription, col(PushSubscription.user_id) == col(Member.user_id))
                    .outerjoin(UserSettings, col(UserSettings.user_id) == col(Member.user_id))
                    .where(
                        col(Member.conversation_id).in_(conversation_ids),
                        func.coalesce(col(UserSettings.notifications), true()),
                    )
                )
            ).all()
            if not rows:
                return []
            users = {row[1] for row in rows}
            online = await self._presence.online(users)
            rows = [row for row in rows if row[1] not in online]
            if not rows:
                return []
            wanted = {row[0] for row in rows}
            conversations = {
                c.id: (c.kind, c.title)
                for c in (
                    await uow.session.scalars(
                        select(Conversation).where(col(Conversation.id).in_(wanted))
                    )
                ).all()
            }
            senders = {m.sender_id for m in batch if m.conversation_id in wanted}
            names = {
                uid: display or username
                for uid, display, username in (
                    await uow.session.execute(
                        select(col(User.id), col(User.display_name), col(User.username)).where(
                            col(User.id).in_(senders)
                        )
                    )
                ).tuples()
            }
        by_conversation: dict[uuid.UUID, list[Any]] = {}
        for row in rows:
            by_conversation.setdefault(row[0], []).append(row)
        now = datetime.now(UTC)
        pushes: list[_Push] = []
        for message in batch:
            info = conversations.get(message.conversation_id)
            if info is None:
                continue
            mentioned = set(message.mentions)
            for (
                _,
                user_id,
                muted_until,
                previews,
                sub_id,
                endpoint,
                p256dh,
                auth,
            ) in by_conversation.get(message.conversation_id, ()):
                if user_id == message.sender_id:
                    continue
                mention = message.mentions_all or user_id in mentioned
                if is_muted(muted_until, now=now) and not mention:
                    continue
                data = payload(
                    message,
                    sender_name=names.get(message.sender_id, "Someone"),
                    kind=info[0],
                    title=info[1],
                    previews=previews is not False,
                    mention=mention,
                )
                pushes.append(
                    _Push(
                        sub_id,
                        user_id,
                        endpoint,
                        p256dh,
                        auth,
                        data,
                        "high" if mention else "normal",
                    )
                )
        return pushes

    async def _deliver(self, push: _Push) -> None:
        """POST one push, retried with exponential backoff (and jitter) on 5xx, 429 and
        network errors; 404/410 deletes the subscription."""
        for attempt in range(1, self._max_attempts + 1):
            answer: PushAnswer | None = None
            try:
                answer = await self.sender.send(
                    endpoint=push.endpoint,
                    p256dh=push.p256dh,
                    auth=push.auth,
                    payload=push.payload,
                    urgency=push.urgency,
                )
            except httpx2.HTTPError as exc:
                log.info("push to subscription %s failed: %r", push.subscription_id, exc)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("push to subscription %s failed", push.subscription_id)
                metrics.PUSH_FAILED.inc()
                return
            if answer is not None:
                if 200 <= answer.status < 300:
                    metrics.PUSH_SENT.inc()
                    return
                if answer.status in (404, 410):
                    await self._expired(push)
                    return
                if answer.status != 429 and answer.status < 500:
                    log.warning(
                        "push service refused a push to subscription %s: %d",
                        push.subscription_id,
                        answer.status,
                    )
                    metrics.PUSH_FAILED.inc()
                    return
            if attempt == self._max_attempts:
                break
            delay = self._retry_base * 2 ** (attempt - 1) * (1 + random.random() / 4)
            if answer is not None and answer.retry_after is not None:
                delay = max(delay, min(answer.retry_after, 60.0))
            await asyncio.sleep(delay)
        metrics.PUSH_FAILED.inc()

    async def _expired(self, push: _Push) -> None:
        metrics.PUSH_EXPIRED.inc()
        try:
            async with self._uow() as uow:
                await forget(uow, subscription_id=push.subscription_id, endpoint=push.endpoint)
                await uow.commit()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("deleting expired push subscription %s failed", push.subscription_id)
