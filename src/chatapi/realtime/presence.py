"""Who is online: a user with at least one open socket on any instance.

`LocalPresence` counts this process's sockets. `RedisPresence` counts every instance's
sockets per user in Redis, and each instance's share of them, with a heartbeat. When an
instance dies without cleaning up (SIGKILL), its heartbeat stops: the first survivor to
notice takes the dead instance's sockets off the counts and reports the users that are
now online nowhere as gone offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class Presence(Protocol):
    async def online(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]: ...

    async def add_socket(self, user_id: uuid.UUID) -> int:
        """Count one more socket; the user's open sockets now, on every instance (1: the
        user just came online)."""
        ...

    async def connected(self, user_id: uuid.UUID) -> bool:
        """Count one more socket; True when the user just came online."""
        ...

    async def disconnected(self, user_id: uuid.UUID) -> bool:
        """Count one socket less; True when the user just went offline."""
        ...


class OfflineBatch:
    """Users whose last socket closed, handled together shortly after: a disconnect storm
    costs one write and one look-up per batch instead of per user."""

    def __init__(
        self,
        handle: Callable[[list[uuid.UUID]], Awaitable[None]],
        *,
        presence: Presence,
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
        delay: float = 0.1,
    ) -> None:
        self._handle = handle
        self._presence = presence
        self._spawn = spawn
        self._delay = delay
        self._pending: set[uuid.UUID] = set()
        self._scheduled = False

    def add(self, user_id: uuid.UUID) -> None:
        self._pending.add(user_id)
        if not self._scheduled:
            self._scheduled = True
            self._spawn(self._later())

    async def _later(self) -> None:
        await asyncio.sleep(self._delay)
        await self.drain()

    async def drain(self) -> None:
        """Handle everyone pending now (also on shutdown)."""
        ids, self._pending, self._scheduled = self._pending, set(), False
        if not ids:
            return
        # Someone who came back meanwhile (a reload) is not offline.
        back = await self._presence.online(ids)
        gone = [u for u in ids if u not in back]
        if gone:
            await self._handle(gone)


class LocalPresence:
    """Presence for a single process: a counter of open sockets per user."""

    def __init__(self) -> None:
        self._sockets: Counter[uuid.UUID] = Counter()

    async def online(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return {u for u in user_ids if self._sockets[u] > 0}

    async def add_socket(self, user_id: uuid.UUID) -> int:
        self._sockets[user_id] += 1
        return self._sockets[user_id]

    async def connected(self, user_id: uuid.UUID) -> bool:
        return await self.add_socket(user_id) == 1

    async def disconnected(self, user_id: uuid.UUID) -> bool:
        self._sockets[user_id] -= 1
        if self._sockets[user_id] <= 0:
            del self._sockets[user_id]
            return True
        return False


Offline = Callable[[list[uuid.UUID]], Awaitable[None]]

# Replace this instance's hash of socket counts, moving every user's global counter by
# the difference, in one atomic step: after an outage Redis may hold stale counts.
_SYNC = """
local old = redis.call('HGETALL', KEYS[1])
local prev = {}
for i = 1, #old, 2 do prev[old[i]] = tonumber(old[i + 1]) end
for i = 2, #ARGV, 2 do
  local user, n = ARGV[i], tonumber(ARGV[i + 1])
  local d = n - (prev[user] or 0)
  if d ~= 0 then redis.call('INCRBY', ARGV[1] .. user, d) end
  prev[user] = nil
end
for user, n in pairs(prev) do
  if redis.call('DECRBY', ARGV[1] .. user, n) <= 0 then redis.call('DEL', ARGV[1] .. user) end
end
redis.call('DEL', KEYS[1])
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""

# One socket of a user closed here: its count goes down, and the key goes away at zero
# (atomically, so a concurrent connect elsewhere is never wiped out).
_CLOSE = """
if ARGV[2] == '1' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
end
local n = redis.call('DECR', KEYS[2])
if n <= 0 then redis.call('DEL', KEYS[2]) end
return n
"""

# Claim a dead instance (exactly one survivor wins the ZREM), take its sockets off the
# global counters, and return the users that are now online nowhere.
_REAP = """
if redis.call('ZREM', KEYS[2], ARGV[2]) == 0 then return {} end
local old = redis.call('HGETALL', KEYS[1])
local gone = {}
for i = 1, #old, 2 do
  if redis.call('DECRBY', ARGV[1] .. old[i], tonumber(old[i + 1])) <= 0 then
    redis.call('DEL', ARGV[1] .. old[i])
    table.insert(gone, old[i])
  end
end
redis.call('DEL', KEYS[1])
return gone
"""


class RedisPresence:
    """Presence across instances sharing one Redis; falls back to local counts on outages.

    Keys: `<prefix>:presence:n:<user>` counts the user's sockets on all instances (so
    "came online"/"went offline" are atomic INCR/DECR answers); `<prefix>:presence:<id>`
    is each instance's own share of those counts, kept to take a dead instance's sockets
    off; `<prefix>:presence:instances` holds each instance's last heartbeat.
    """

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
        self._count = f"{self._prefix}:n:"
        self._instances = f"{self._prefix}:instances"
        self.instance_id = instance_id
        self._own = self._key(instance_id)
        self._heartbeat = heartbeat_seconds
        # An instance is dead after three missed heartbeats.
        self._stale_after = heartbeat_seconds * 3
        self.on_offline = on_offline
        self._local: Counter[uuid.UUID] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._sync = client.register_script(_SYNC)
        self._reap = client.register_script(_REAP)
        self._close = client.register_script(_CLOSE)

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
        self._local.clear()
        with contextlib.suppress(RedisError, OSError):
            await self._sync(keys=[self._own], args=[self._count])
            await self._redis.zrem(self._instances, self.instance_id)

    async def online(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        wanted = list(user_ids)
        if not wanted:
            return set()
        try:
            counts = await self._redis.mget([f"{self._count}{u}" for u in wanted])
        except (RedisError, OSError):
            return {u for u in wanted if self._local[u] > 0}
        return {u for u, n in zip(wanted, counts, strict=True) if n is not None and int(n) > 0}

    async def add_socket(self, user_id: uuid.UUID) -> int:
        self._local[user_id] += 1
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(self._own, str(user_id), 1)
                pipe.incr(f"{self._count}{user_id}")
                _, total = await pipe.execute()
            return int(total)
        except (RedisError, OSError):
            return self._local[user_id]

    async def connected(self, user_id: uuid.UUID) -> bool:
        return await self.add_socket(user_id) == 1

    async def disconnected(self, user_id: uuid.UUID) -> bool:
        self._local[user_id] -= 1
        last_here = self._local[user_id] <= 0
        if last_here:
            del self._local[user_id]
        try:
            total = await self._close(
                keys=[self._own, f"{self._count}{user_id}"],
                args=[str(user_id), "1" if last_here else "0"],
            )
            return int(total) <= 0
        except (RedisError, OSError):
            return last_here

    async def _beat(self) -> None:
        args: list[str | int] = [self._count]
        for user_id, n in self._local.items():
            args += [str(user_id), n]
        await self._sync(keys=[self._own], args=args)
        await self._redis.zadd(self._instances, {self.instance_id: time.time()})

    async def _sweep(self) -> None:
        cutoff = time.time() - self._stale_after
        stale = await self._redis.zrangebyscore(self._instances, "-inf", f"({cutoff}")
        for raw in stale:
            instance = raw.decode() if isinstance(raw, bytes) else str(raw)
            if instance == self.instance_id:
                continue
            gone = await self._reap(
                keys=[self._key(instance), self._instances], args=[self._count, instance]
            )
            users = [uuid.UUID(g.decode() if isinstance(g, bytes) else g) for g in gone]
            log.info(
                "presence: instance %s stopped heart-beating; %d users offline",
                instance,
                len(users),
            )
            if users and self.on_offline is not None:
                await self.on_offline(sorted(users))

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            try:
                await self._beat()
                await self._sweep()
            except (RedisError, OSError) as exc:
                log.warning("presence: heartbeat failed (%s)", type(exc).__name__)
