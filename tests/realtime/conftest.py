"""Fixtures of the realtime tests (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from servers import Sockets


@pytest.fixture
async def sockets() -> AsyncIterator[Sockets]:
    """Open WebSocket clients with `await sockets.open(url, token)`; all closed after the test."""
    opened = Sockets()
    try:
        yield opened
    finally:
        await opened.aclose()
