"""Who is online: a user with at least one open socket on any instance."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection
from typing import Protocol


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
