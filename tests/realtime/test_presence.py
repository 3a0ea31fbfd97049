"""Redis-backed presence against a real Redis (REDIS_URL): several instances' sockets."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

# src imports (module paths may move with the code under test)
from chatapi.realtime.broker import redis_client
from chatapi.realtime.presence import RedisPresence
from helpers import REDIS_URL, eventually

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL"),
]


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    assert REDIS_URL
    value = f"chatapi-test-{uuid.uuid4().hex[:12]}"
    yield value
    client = redis_client(REDIS_URL)
    keys = [k async for k in client.scan_iter(match=f"{value}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


Instance = Callable[..., RedisPresence]


@pytest.fixture
async def instance(prefix: str) -> AsyncIterator[Instance]:
    """`instance(**kwargs)`: a RedisPresence under `prefix` with a Redis client of its own
    (closed after the test), as each server process has."""
    assert REDIS_URL
    clients: list[Redis] = []

    def make(**kwargs: Any) -> RedisPresence:
        assert REDIS_URL
        client = redis_client(REDIS_URL)
        clients.append(client)
        return RedisPresence(client, prefix=prefix, instance_id=uuid.uuid4().hex, **kwargs)

    try:
        yield make
    finally:
        for client in clients:
            await client.aclose()


async def test_presence_online_while_any_instance_has_a_socket(instance: Instance) -> None:
    one, two = instance(), instance()
    user = uuid.uuid4()
    assert await one.connected(user) is True
    assert await two.connected(user) is False
    assert await one.connected(user) is False
    assert await two.online([user, uuid.uuid4()]) == {user}
    assert await one.disconnected(user) is False
    assert await two.disconnected(user) is False
    assert await one.disconnected(user) is True
    assert await two.online([user]) == set()


async def test_presence_dead_instance_users_are_reported_offline(instance: Instance) -> None:
    gone: list[list[uuid.UUID]] = []

    async def offline(user_ids: list[uuid.UUID]) -> None:
        gone.append(user_ids)

    alive = instance(heartbeat_seconds=0.1, on_offline=offline)
    dead = instance(heartbeat_seconds=0.1)
    only_there, also_here = uuid.uuid4(), uuid.uuid4()
    await dead.start()
    await dead.connected(only_there)
    await dead.connected(also_here)
    await alive.connected(also_here)
    assert dead._task is not None
    dead._task.cancel()  # its heartbeat stops, as when the process is killed
    with contextlib.suppress(asyncio.CancelledError):
        await dead._task
    await alive.start()
    try:
        await eventually(lambda: gone, what="the dead instance's users reported offline")
    finally:
        await alive.stop()
    assert gone == [[only_there]]
    assert await alive.online([only_there, also_here]) == set()  # alive stopped too


async def test_presence_heartbeat_repairs_counts_after_an_outage(instance: Instance) -> None:
    one = instance()
    user = uuid.uuid4()
    assert REDIS_URL
    # Sockets counted while Redis was unreachable: only the local counter saw them.
    one._local[user] += 2
    assert await one.online([user]) == set()
    await one._beat()
    assert await one.online([user]) == {user}
    assert await one.disconnected(user) is False
    assert await one.disconnected(user) is True
