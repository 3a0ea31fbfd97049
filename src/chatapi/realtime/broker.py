"""The broker carries committed events (and ephemeral signals) between processes.

Every publish goes through a broker, even with one process, so local and
cross-instance delivery share one path. Envelopes are opaque bytes to the broker.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Listener = Callable[[bytes], None]


class Broker(Protocol):
    @property
    def healthy(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, envelope: bytes) -> None: ...

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

    async def publish(self, envelope: bytes) -> None:
        for listener in self._listeners:
            listener(envelope)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)
