"""What the services need from the infrastructure below them, as protocols.

Services depend on these shapes only; `realtime.presence` implements `OnlineUsers`, and
`realtime.outbound.EventPublisher` implements `db.Publisher`, `ratelimit` implements
`Quota` and `LoginAttempts`. So services import nothing from `realtime/` (nor Redis).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Protocol


class OnlineUsers(Protocol):
    """Who of these users has at least one open socket, on any instance."""

    async def online(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]: ...


class Quota(Protocol):
    """At most so much per time window for one key (a user id, a client address), shared
    by every instance (`ratelimit.Quota`)."""

    async def take(self, key: str, cost: int = 1) -> None:
        """Reserve `cost`, or raise RateLimited (429 with its code and Retry-After)."""
        ...

    async def give_back(self, key: str, cost: int = 1) -> None:
        """Return a reservation whose action did not happen."""
        ...


class LoginAttempts(Protocol):
    """Login attempts per username and per client address (`ratelimit.LoginLimiter`)."""

    async def reserve(self, *, username: str, client: str) -> None:
        """Count an attempt before its password is checked, or raise RateLimited."""
        ...

    async def succeeded(self, *, username: str, client: str) -> None:
        """The attempt logged in: only failed attempts count."""
        ...
