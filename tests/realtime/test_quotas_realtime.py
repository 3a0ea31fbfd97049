"""Quotas on the WebSocket gateway, with real servers: messages per user are one quota
for REST and WebSocket sends (a refused frame gets an `error` with its client_id), and a
user's open sockets are capped, counted across instances through Redis."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from helpers import PG_URL, REDIS_URL, eventually, prepare_postgres
from servers import Api, Client, Server, server_env

pytestmark = [pytest.mark.slow]

MESSAGES = 3
SOCKETS = 2
QUOTAS = {"message_rate_limit": f"{MESSAGES}/minute", "ws_max_sockets_per_user": SOCKETS}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("ws-quotas")
    db = workdir / "chatapi.db"
    shutil.copy(sqlite_template, db)
    env = server_env(
        workdir, f"sqlite+aiosqlite:///{db}", redis_url=None, redis_prefix="unused", **QUOTAS
    )
    srv = Server(workdir, env)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
async def api(server: Server) -> AsyncIterator[Api]:
    client = Api(server.base_url)
    yield client
    await client.aclose()


async def test_rest_and_websocket_sends_share_one_quota(server: Server, api: Api) -> None:
    alice = await api.signup()
    conv = await api.group(alice, [])
    await api.post(alice, conv, "rest 1")
    await api.post(alice, conv, "rest 2")
    ws = await Client.open(server.ws_url, alice.token)
    frame = {"type": "message.send", "conversation_id": conv, "body": "ws"}
    await ws.send({**frame, "client_id": "ws-1"})
    assert (await ws.expect("message.ack"))["client_id"] == "ws-1"
    await ws.send({**frame, "client_id": "ws-2"})
    error = await ws.expect("error")
    assert error["code"] == "message_rate_limited"
    assert error["client_id"] == "ws-2"
    # The socket stays open; REST is refused too; nothing more was stored.
    await ws.send({"type": "ping"})
    await ws.expect("pong")
    r = await api.http.post(
        f"/api/v1/conversations/{conv}/messages", headers=alice.headers, json={"body": "rest 3"}
    )
    assert r.status_code == 429 and r.json()["code"] == "message_rate_limited"
    assert int(r.headers["retry-after"]) >= 1
    bodies = [e["message"]["body"] for e in await api.events(alice, conv) if e.get("message")]
    assert bodies == ["rest 1", "rest 2", "ws"]
    await ws.aclose()


async def test_one_socket_more_than_allowed_is_closed_4430(server: Server, api: Api) -> None:
    alice, bob = await api.signup(), await api.signup()
    open_ = [await Client.open(server.ws_url, alice.token) for _ in range(SOCKETS)]
    extra = await Client.open(server.ws_url)
    await extra.send({"type": "auth", "token": alice.token})
    assert await extra.closed() == 4430
    # Someone else is not affected; a closed socket makes room again.
    await (await Client.open(server.ws_url, bob.token)).aclose()
    await open_[0].aclose()
    again = await _open_when_room(server, alice.token)
    await again.send({"type": "ping"})
    await again.expect("pong")
    for c in (again, open_[1]):
        await c.aclose()


async def _open_when_room(server: Server, token: str) -> Client:
    """The server counts a closed socket off a moment after the client closed it."""

    async def opened() -> Client | None:
        c = await Client.open(server.ws_url)
        await c.send({"type": "auth", "token": token})
        if (await c.recv())["type"] == "ready":
            return c
        await c.aclose()
        return None

    return await eventually(opened, timeout=5, interval=0.1, what="room for a socket")


# --- across instances -------------------------------------------------------------------


@pytest.fixture(scope="module")
async def pair(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[list[Server]]:
    if not (PG_URL and REDIS_URL):
        pytest.skip("needs TEST_DATABASE_URL and REDIS_URL")
    await prepare_postgres()
    prefix = f"chatapi-test-{uuid.uuid4().hex[:12]}"
    servers = []
    for name in ("a", "b"):
        workdir = tmp_path_factory.mktemp(f"quota-{name}")
        env = server_env(workdir, PG_URL, redis_url=REDIS_URL, redis_prefix=prefix, **QUOTAS)
        servers.append(Server(workdir, env))
    for srv in servers:
        await asyncio.to_thread(srv.start)
    yield servers
    for srv in servers:
        srv.stop()


@pytest.mark.postgres
@pytest.mark.redis
async def test_sockets_are_counted_across_instances(pair: list[Server]) -> None:
    one, two = pair
    api = Api(one.base_url)
    alice = await api.signup()
    on_one = await Client.open(one.ws_url, alice.token)
    on_two = await Client.open(two.ws_url, alice.token)
    for srv in (one, two):
        extra = await Client.open(srv.ws_url)
        await extra.send({"type": "auth", "token": alice.token})
        assert await extra.closed() == 4430
    await on_two.aclose()
    again = await _open_when_room(one, alice.token)
    for c in (again, on_one):
        await c.aclose()
    await api.aclose()
