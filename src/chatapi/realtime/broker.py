"""The broker carries committed events (and ephemeral signals) between processes.

Every publish goes through a broker, even with one process, so local and
cross-instance delivery share one path. Listeners get the `Envelope` itself: nothing is
serialized or parsed for this process's own sockets.

`RedisBroker` delivers to this process's listeners first and then publishes on a Redis
channel for the other instances, serializing each envelope once with this instance as
its `origin` (a commit's envelopes go out in one pipeline: one round trip); an envelope
coming back from Redis with this instance's `origin` is dropped, so each one reaches each
process exactly once. When
Redis is unreachable, local delivery goes on, `healthy` turns false (`/readyz` shows it)
and the subscriber reconnects with backoff; what other instances missed meanwhile is
filled from the database by the hub and by clients' catch-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from chatapi import metrics
from chatapi.realtime.envelope import Envelope

log = logging.getLogger(__name__)

Listener = Callable[[Envelope], None]


class Broker(Protocol):
    @property
    def healthy(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, envelope: Envelope) -> None: ...

    async def publish_many(self, envelopes: Sequence[Envelope]) -> None:
        """Publish in order (what one commit announces)."""
        ...

    def subscribe(self, listener: Listener) -> None:
        """`listener` is called for every envelope, on the event loop; it must not block."""
        ...


class MemoryBroker:
    """One process: an envelope goes straight to this process's listeners."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    @property
    def healthy(self) -> bool:
        return True

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, envelope: Envelope) -> None:
        _deliver(self._listeners, envelope)

    async def publish_many(self, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            _deliver(self._listeners, envelope)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)


def _deliver(listeners: list[Listener], envelope: Envelope) -> None:
    for listener in listeners:
        try:
            listener(envelope)
        except Exception:  # one bad envelope or listener must not stop delivery
            log.exception("a broker listener failed")


def redis_client(url: str, *, timeout: float | None = 2.0) -> Redis:
    """A client that fails fast: no hidden retries that would stall a request on an outage."""
    return Redis.from_url(
        url,
        socket_connect_timeout=2.0,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=5,
    )


class RedisBroker:
    """Several processes: local listeners first, then a Redis pub/sub channel."""

    BACKOFF_MIN = 0.1
    BACKOFF_MAX = 5.0
    # After a failed publish, further publishes are skipped for this long (so an outage
    # costs commits nothing), then tried again.
    RETRY_PUBLISH_AFTER = 1.0
    # The subscription pings Redis this often and reconnects when nothing (not even the
    # pong) came back for three intervals: a silent, hung connection is a dead one.
    PING_INTERVAL = 5.0

    def __init__(
        self,
        url: str,
        *,
        channel: str,
        instance_id: str | None = None,
        on_reconnect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.url = url
        self.channel = channel
        self.instance_id = instance_id or uuid.uuid4().hex
        self.on_reconnect = on_reconnect
        self._listeners: list[Listener] = []
        self._publisher = redis_client(url)
        self._subscribed_ok = False
        self._publish_failed_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._reported_down = False

    @property
    def healthy(self) -> bool:
        return self._subscribed_ok and self._publish_failed_at is None

    @property
    def client(self) -> Redis:
        """The command connection pool (shared with Redis-backed presence)."""
        return self._publisher

    async def start(self) -> None:
        self._task = asyncio.create_task(self._subscriber(), name="redis-broker")
        # Give a reachable Redis a moment so the first events are not missed; an
        # unreachable one does not block start-up (the subscriber keeps retrying).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3.0):
                await self._subscribed.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._subscribed_ok = False
        await self._publisher.aclose()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def publish(self, envelope: Envelope) -> None:
        await self.publish_many((envelope,))

    async def publish_many(self, envelopes: Sequence[Envelope]) -> None:
        # Local sockets never wait for (or depend on) Redis.
        for envelope in envelopes:
            _deliver(self._listeners, envelope)
        now = time.monotonic()
        failed = self._publish_failed_at
        if not envelopes or (failed is not None and now - failed < self.RETRY_PUBLISH_AFTER):
            return
        own = self.instance_id
        try:
            if len(envelopes) == 1:
                await self._publisher.publish(self.channel, envelopes[0].envelope(own))
            else:
                async with self._publisher.pipeline(transaction=False) as pipe:
                    for envelope in envelopes:
                        pipe.publish(self.channel, envelope.envelope(own))
                    await pipe.execute()
        except (RedisError, OSError) as exc:
            metrics.BROKER_PUBLISH_FAILURES.inc()
            self._publish_failed_at = now
            self._report_down(exc)
        else:
            self._publish_failed_at = None

    def _report_down(self, exc: BaseException) -> None:
        if not self._reported_down:
            self._reported_down = True
            log.warning(
                "redis broker: Redis unreachable (%s); delivering locally only", type(exc).__name__
            )

    async def _subscriber(self) -> None:
        backoff = self.BACKOFF_MIN
        was_connected = False
        own = self.instance_id
        loop = asyncio.get_running_loop()
        while True:
            client = redis_client(self.url, timeout=None)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                async with asyncio.timeout(5.0):
                    await pubsub.subscribe(self.channel)
                self._subscribed_ok = True
                self._publish_failed_at = None  # Redis answers again: publish again at once
                self._subscribed.set()
                backoff = self.BACKOFF_MIN
                if was_connected or self._reported_down:
                    log.info("redis broker: subscribed again; catching up")
                    metrics.BROKER_RECONNECTS.inc()
                    self._reported_down = False
                    if self.on_reconnect is not None:
                        await self.on_reconnect()
                was_connected = True
                heard = pinged = loop.time()
                while True:
                    now = loop.time()
                    if now - heard > 3 * self.PING_INTERVAL:
                        raise TimeoutError("no answer from Redis")
                    if now - pinged > self.PING_INTERVAL:
                        pinged = now
                        await pubsub.ping()
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None:
                        continue
                    heard = loop.time()
                    data = message.get("data")
                    if message.get("type") != "message" or not isinstance(data, bytes):
                        continue
                    try:
                        envelope = Envelope.decode(data)
                    except (ValueError, KeyError, TypeError):
                        log.warning("redis broker: dropped a malformed envelope")
                        continue
                    if envelope.origin == own:
                        continue  # delivered locally when it was published
                    _deliver(self._listeners, envelope)
            except (RedisError, OSError, TimeoutError) as exc:
                self._subscribed_ok = False
                self._report_down(exc)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.BACKOFF_MAX)
