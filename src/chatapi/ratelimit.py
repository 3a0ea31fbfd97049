"""Failed-login rate limiting with the `limits` library.

Counters live in memory by default and in Redis when `REDIS_URL` is set, so several
instances share them.
"""

from __future__ import annotations

import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from chatapi.errors import RateLimited


class LoginLimiter:
    """Counts failed logins per username and per client address."""

    def __init__(self, rate: str, *, redis_url: str | None, key_prefix: str) -> None:
        self.item: RateLimitItem = parse(rate)
        self.storage: Storage
        if redis_url:
            uri = redis_url.replace("redis://", "async+redis://", 1).replace(
                "rediss://", "async+rediss://", 1
            )
            self.storage = RedisStorage(
                uri, implementation="redispy", key_prefix=f"{key_prefix}:limits"
            )
        else:
            self.storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self.storage)

    def _keys(self, username: str, client: str) -> list[tuple[str, str]]:
        return [("login-user", username.lower()), ("login-addr", client)]

    async def check(self, *, username: str, client: str) -> None:
        """Raise RateLimited when either counter is exhausted."""
        for scope, ident in self._keys(username, client):
            if not await self._limiter.test(self.item, scope, ident):
                stats = await self._limiter.get_window_stats(self.item, scope, ident)
                retry = int(stats.reset_time - time.time()) + 1
                raise RateLimited(
                    "Too many failed logins. Wait before trying again.", retry_after=retry
                )

    async def failed(self, *, username: str, client: str) -> None:
        for scope, ident in self._keys(username, client):
            await self._limiter.hit(self.item, scope, ident)

    async def succeeded(self, *, username: str) -> None:
        await self._limiter.clear(self.item, "login-user", username.lower())
