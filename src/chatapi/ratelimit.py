"""Rate limits and quotas, with the `limits` library.

Every limit is a counter per key (a username, a client address, a user id) in a fixed
window that starts with the key's first hit. A hit *reserves* before the work it pays
for: one atomic increment (in Redis a Lua script, in memory under a lock) that is given
back at once when it went over the limit, so however many requests arrive together, at
most the limit's amount of them get through.

Counters live in this process's memory, or in Redis when `REDIS_URL` is set so that
every instance shares them. While Redis is unreachable they fall back to this process's
memory (each instance then enforces every limit on its own) and go back to Redis, with
fresh counters, as soon as it answers again: an outage never turns a request into a 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from limits import RateLimitItem, RateLimitItemPerDay, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.errors import StorageError
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from chatapi.errors import RateLimited
from chatapi.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

_REDIS_ERRORS = (StorageError, RedisError, OSError, TimeoutError)


class Counters:
    """Fixed-window counters in memory, or in Redis with a fallback to memory."""

    # After a failed Redis call, counters stay in memory this long before Redis is
    # tried again (so an outage costs one failed call per interval, not one per request).
    RETRY_REDIS_AFTER = 2.0

    def __init__(self, *, redis_url: str | None, key_prefix: str) -> None:
        self.memory = MemoryStorage()
        self.redis: Storage | None = None
        if redis_url:
            uri = redis_url.replace("redis://", "async+redis://", 1).replace(
                "rediss://", "async+rediss://", 1
            )
            client_options: dict[str, Any] = {
                # Fail fast: one retry on a fresh connection (a pooled one may be stale
                # after Redis restarted), never a hidden backoff that stalls a request.
                "retry": Retry(NoBackoff(), 1),
                "socket_connect_timeout": 1.0,
                "socket_timeout": 1.0,
                "health_check_interval": 5,
            }
            self.redis = RedisStorage(
                uri,
                implementation="redispy",
                key_prefix=f"{key_prefix}:limits",
                wrap_exceptions=True,
                **client_options,
            )
        self._redis_down_until: float | None = None

    async def aclose(self) -> None:
        """Close the Redis connections the counters opened (on shutdown)."""
        bridge = getattr(self.redis, "bridge", None)
        client = getattr(bridge, "storage", None)
        if client is not None:
            await client.aclose()

    @property
    def using_redis(self) -> bool:
        """True unless there is no Redis or it failed within the last RETRY_REDIS_AFTER."""
        if self.redis is None:
            return False
        return self._redis_down_until is None or time.monotonic() >= self._redis_down_until

    async def _run(self, op: Callable[[Storage], Awaitable[T]]) -> T:
        if self.redis is not None and self.using_redis:
            try:
                result = await op(self.redis)
            except _REDIS_ERRORS as exc:
                if self._redis_down_until is None:
                    log.warning(
                        "rate limits: Redis unreachable (%s); counting in this process "
                        "until it answers again",
                        type(exc).__name__,
                    )
                self._redis_down_until = time.monotonic() + self.RETRY_REDIS_AFTER
            else:
                if self._redis_down_until is not None:
                    log.warning("rate limits: Redis answers again; counting there")
                    self._redis_down_until = None
                return result
        return await op(self.memory)

    async def take(self, item: RateLimitItem, key: str, cost: int) -> float | None:
        """Reserve `cost` in `item`'s window of `key`: None when granted, else the seconds
        until the window ends (nothing is kept of a refused reservation)."""
        expiry = item.get_expiry()

        async def op(storage: Storage) -> float | None:
            if await storage.incr(key, expiry, cost) <= item.amount:
                return None
            await storage.incr(key, expiry, -cost)
            return max(0.0, float(await storage.get_expiry(key)) - time.time())

        return await self._run(op)

    async def give_back(self, item: RateLimitItem, key: str, cost: int) -> None:
        async def op(storage: Storage) -> None:
            await storage.incr(key, item.get_expiry(), -cost)

        await self._run(op)

    async def clear(self, key: str) -> None:
        async def op(storage: Storage) -> None:
            await storage.clear(key)

        await self._run(op)


class Quota:
    """At most `item.amount` per window for each key; `item` None means no limit.

    Implements `ports.Quota`: `take` reserves or raises RateLimited (429, its own code,
    Retry-After), `give_back` returns a reservation that was not used.
    """

    def __init__(
        self,
        counters: Counters,
        item: RateLimitItem | None,
        *,
        scope: str,
        code: str,
        message: str,
        unit: str = "",
    ) -> None:
        self.counters = counters
        self.unit = f" {unit}" if unit else ""
        self.item = item
        self.scope = scope
        self.code = code
        self.message = message

    def _key(self, item: RateLimitItem, key: str) -> str:
        return item.key_for(self.scope, key)

    async def take(self, key: str, cost: int = 1) -> None:
        item = self.item
        if item is None or cost <= 0:
            return
        window = int(item.get_expiry())
        if cost > item.amount:
            raise RateLimited(
                f"{self.message} This needs {cost}{self.unit}, more than the "
                f"{item.amount}{self.unit} allowed in {_duration(window)}.",
                retry_after=window,
                code=self.code,
            )
        wait = await self.counters.take(item, self._key(item, key), cost)
        if wait is not None:
            retry_after = int(wait) + 1
            raise RateLimited(
                f"{self.message} At most {item.amount}{self.unit} in {_duration(window)}; "
                f"try again in {_duration(retry_after)}.",
                retry_after=retry_after,
                code=self.code,
            )

    async def give_back(self, key: str, cost: int = 1) -> None:
        if self.item is not None and cost > 0:
            await self.counters.give_back(self.item, self._key(self.item, key), cost)

    async def clear(self, key: str) -> None:
        if self.item is not None:
            await self.counters.clear(self._key(self.item, key))


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}s" if n != 1 else f"1 {unit}"
    return f"{seconds} seconds" if seconds != 1 else "1 second"


def _rate(value: str) -> RateLimitItem | None:
    return parse(value) if value else None


class LoginLimiter:
    """Failed login attempts per username (`rate`) and per client address (`address_rate`,
    much higher: many people may share one address) (`ports.LoginAttempts`).

    An attempt is reserved on both counters before the password is checked, so parallel
    guesses cannot outrun the limit; a successful login gives its reservations back
    (and clears the username's count), so only failed attempts add up.
    """

    def __init__(self, counters: Counters, rate: str, address_rate: str) -> None:
        self.per_user = Quota(
            counters,
            parse(rate),
            scope="login-user",
            code="rate_limited",
            message="Too many failed logins for this account.",
        )
        self.per_address = Quota(
            counters,
            parse(address_rate),
            scope="login-addr",
            code="rate_limited",
            message="Too many failed logins from your network.",
        )

    async def reserve(self, *, username: str, client: str) -> None:
        await self.per_user.take(_user_key(username))
        try:
            await self.per_address.take(client)
        except RateLimited:
            await self.per_user.give_back(_user_key(username))
            raise

    async def succeeded(self, *, username: str, client: str) -> None:
        await self.per_user.clear(_user_key(username))
        await self.per_address.give_back(client)


def _user_key(username: str) -> str:
    # No account has a longer name (32 characters): a longer one needs no key of its own.
    return username.lower()[:64]


@dataclass(frozen=True, slots=True)
class Quotas:
    """The per-user and per-address quotas of the service (README "Security")."""

    registrations: Quota
    messages: Quota
    member_adds: Quota
    upload_bytes: Quota
    reset_asks: Quota
    reset_mails: Quota
    reactions: Quota
    reports: Quota

    @classmethod
    def from_settings(cls, settings: Settings, counters: Counters) -> Quotas:
        upload = settings.upload_bytes_per_day
        return cls(
            registrations=Quota(
                counters,
                _rate(settings.register_rate_limit),
                scope="register-addr",
                code="registration_rate_limited",
                message="Too many accounts were created from your address.",
            ),
            messages=Quota(
                counters,
                _rate(settings.message_rate_limit),
                scope="send-user",
                code="message_rate_limited",
                message="You are sending messages too fast.",
            ),
            member_adds=Quota(
                counters,
                _rate(settings.member_add_rate_limit),
                scope="member-add-user",
                code="member_add_rate_limited",
                message="You have added too many members to groups.",
            ),
            upload_bytes=Quota(
                counters,
                RateLimitItemPerDay(upload) if upload else None,
                scope="upload-bytes-user",
                code="upload_quota_exceeded",
                message="You have uploaded too much in the last day.",
                unit="bytes",
            ),
            reset_asks=Quota(
                counters,
                _rate(settings.password_reset_rate_limit),
                scope="reset-addr",
                code="rate_limited",
                message="Too many password resets were asked for from your address.",
            ),
            reset_mails=Quota(
                counters,
                _rate(settings.password_reset_rate_limit),
                scope="reset-user",
                code="rate_limited",
                message="Too many reset mails for this account.",
            ),
            reactions=Quota(
                counters,
                _rate(settings.reaction_rate_limit),
                scope="react-user",
                code="reaction_rate_limited",
                message="You are reacting or pinning too fast.",
            ),
            reports=Quota(
                counters,
                _rate(settings.report_rate_limit),
                scope="report-user",
                code="report_rate_limited",
                message="You have sent too many reports.",
            ),
        )
