"""Who is online: a user with at least one open socket on any instance.

`LocalPresence` counts this process's sockets. `RedisPresence` keeps the same counter and
mirrors it into a per-instance Redis hash, refreshed by a heartbeat with a TTL; the
instances' last heartbeats sit in a sorted set. A user is online while any live
instance counts a socket for them. When an instance dies without cleaning up (SIGKILL),
its heartbeat stops: the first survivor to notice claims the dead instance's hash and
reports its users that are online nowhere else as gone offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import update

from chatapi.db import UnitOfWork
from chatapi.models import User

log = logging.getLogger(__name__)


class Presence(Protocol):
    async def online(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]: ...

    async def connected(self, user_id: uuid.UUID) -> bool:
        """Count one more socket; True when the user just came online."""
        ...

    async def disconnected(self, user_id: uuid.UUID) -> bool:
        """Count one socket less; True when the user just went offline."""
        ...


class LocalPresence:
    """Presence for a single process: a counter of open sockets per user."""

    def __init__(self) -> None:
        self._sockets: Counter[uuid.UUID] = Counter()

    async def online(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return {u for u in user_ids if self._sockets[u] > 0}

    async def connected(self, user_id: uuid.UUID) -> bool:
        self._sockets[user_id] += 1
        return self._sockets[user_id] == 1

    async def disconnected(self, user_id: uuid.UUID) -> bool:
        self._sockets[user_id] -= 1
        if self._sockets[user_id] <= 0:
            del self._sockets[user_id]
            return True
        return False


Offline = Callable[[list[uuid.UUID]], Awaitable[None]]


class RedisPresence:
    """Presence across instances sharing one Redis; falls back to local counts on outages."""

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str,
        instance_id: str,
        heartbeat_seconds: float = 10.0,
        on_offline: Offline | None = None,
    ) -> None:
        self._redis = client
        self._prefix = f"{prefix}:presence"
        self._instances = f"{self._prefix}:instances"
        self.instance_id = instance_id
        self._heartbeat = heartbeat_seconds
        # An instance is dead after three missed heartbeats; its hash lives a bit longer
        # so that whoever notices can still read whom it had.
        self._stale_after = heartbeat_seconds * 3
        self.on_offline = on_offline
        self._local: Counter[uuid.UUID] = Counter()
        self._task: asyncio.Task[None] | None = None

    def _key(self, instance: str) -> str:
        return f"{self._prefix}:{instance}"

    async def start(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._beat()
        self._task = asyncio.create_task(self._heartbeats(), name="presence-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(RedisError, OSError):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(self._key(self.instance_id))
                pipe.zrem(self._instances, self.instance_id)
                await pipe.execute()

    async def _live_others(self) -> list[str]:
        cutoff = time.time() - self._stale_after
        members = await self._redis.zrangebyscore(self._instances, cutoff, "+inf")
        ids = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
        return [i for i in ids if i != self.instance_id]

    async def _online_elsewhere(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        wanted = list(user_ids)
        if not wanted:
            return set()
        others = await self._live_others()
        if not others:
            return set()
        fields = [str(u) for u in wanted]
        async with self._redis.pipeline(transaction=False) as pipe:
            for instance in others:
                pipe.hmget(self._key(instance), fields)
            rows = await pipe.execute()
        found: set[uuid.UUID] = set()
        for row in rows:
            for user_id, count in zip(wanted, row, strict=True):
                if count is not None and int(count) > 0:
                    found.add(user_id)
        return found

    async def online(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        here = {u for u in user_ids if self._local[u] > 0}
        try:
            return here | await self._online_elsewhere([u for u in user_ids if u not in here])
        except (RedisError, OSError):
            return here

    async def connected(self, user_id: uuid.UUID) -> bool:
        self._local[user_id] += 1
        first_here = self._local[user_id] == 1
        try:
            await self._redis.hincrby(self._key(self.instance_id), str(user_id), 1)
            if not first_here:
                return False
            return not await self._online_elsewhere([user_id])
        except (RedisError, OSError):
            return first_here

    async def disconnected(self, user_id: uuid.UUID) -> bool:
        self._local[user_id] -= 1
        last_here = self._local[user_id] <= 0
        if last_here:
            del self._local[user_id]
        try:
            if last_here:
                await self._redis.hdel(self._key(self.instance_id), str(user_id))
                return not await self._online_elsewhere([user_id])
            await self._redis.hincrby(self._key(self.instance_id), str(user_id), -1)
            return False
        except (RedisError, OSError):
            return last_here

    async def _beat(self) -> None:
        # Rewrite the whole hash from the local counter: after an outage Redis may have
        # lost it or hold stale counts.
        key = self._key(self.instance_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if self._local:
                pipe.hset(key, mapping={str(u): n for u, n in self._local.items()})
            pipe.expire(key, int(self._stale_after * 2))
            pipe.zadd(self._instances, {self.instance_id: time.time()})
            await pipe.execute()

    async def _sweep(self) -> None:
        cutoff = time.time() - self._stale_after
        stale = await self._redis.zrangebyscore(self._instances, "-inf", f"({cutoff}")
        for raw in stale:
            instance = raw.decode() if isinstance(raw, bytes) else str(raw)
            # ZREM answers 1 to exactly one instance: that one reports the dead one's users.
            if instance == self.instance_id or not await self._redis.zrem(
                self._instances, instance
            ):
                continue
            fields = await self._redis.hkeys(self._key(instance))
            await self._redis.delete(self._key(instance))
            users = {uuid.UUID(f.decode() if isinstance(f, bytes) else f) for f in fields}
            users -= {u for u in users if self._local[u] > 0}
            gone = users - await self._online_elsewhere(users)
            log.info(
                "presence: instance %s stopped heart-beating; %d users offline", instance, len(gone)
            )
            if gone and self.on_offline is not None:
                await self.on_offline(sorted(gone))

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            try:
                await self._beat()
                await self._sweep()
            except (RedisError, OSError) as exc:
                log.warning("presence: heartbeat failed (%s)", type(exc).__name__)


async def record_last_seen(
    uow: UnitOfWork, *, user_ids: Collection[uuid.UUID], at: datetime
) -> None:
    """Write `users.last_seen_at` when a user's last socket closed."""
    # TODO(services): belongs in services/users.py; kept here until it has a home there.
    await uow.session.execute(
        update(User).where(User.id.in_(list(user_ids))).values(last_seen_at=at)  # type: ignore[attr-defined]
    )
