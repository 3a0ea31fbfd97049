"""What the services need from the infrastructure below them, as protocols.

Services depend on these shapes only; `realtime.presence` implements `OnlineUsers`, and
`realtime.outbound.EventPublisher` implements `db.Publisher`. So services import nothing
from `realtime/`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Protocol


class OnlineUsers(Protocol):
    """Who of these users has at least one open socket, on any instance."""

    async def online(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]: ...
