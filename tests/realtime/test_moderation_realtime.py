"""Moderation seen from open sockets: a suspended account's sockets close at once on
every instance (one server on SQLite; two instances on PostgreSQL + Redis), and a
blocked person's direct message sent over the WebSocket is refused with the same code
as over REST, nothing stored."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from helpers import PASSWORD, PG_URL, REDIS_URL, prepare_postgres
from servers import Api, Client, Server, User, server_env

pytestmark = pytest.mark.slow

CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_WITHIN = 1.0


@pytest.fixture(scope="module")
def one_server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("moderation-one")
    db = workdir / "chatapi.db"
    shutil.copy(sqlite_template, db)
    srv = Server(workdir, server_env(workdir, f"sqlite+aiosqlite:///{db}", redis_url=None,
                                     redis_prefix="unused"))  # fmt: skip
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
async def two_servers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[list[Server]]:
    if not (PG_URL and REDIS_URL):
        pytest.skip("needs TEST_DATABASE_URL and REDIS_URL")
    await prepare_postgres()
    prefix = f"chatapi-test-{uuid.uuid4().hex[:12]}"
    servers = []
    for name in ("a", "b"):
        workdir = tmp_path_factory.mktemp(f"moderation-{name}")
        servers.append(
            Server(workdir, server_env(workdir, PG_URL, redis_url=REDIS_URL, redis_prefix=prefix))
        )
    for srv in servers:
        await asyncio.to_thread(srv.start)
    yield servers
    for srv in servers:
        srv.stop()


@pytest.fixture(params=["one", "two"])
def servers(request: pytest.FixtureRequest) -> list[Server]:
    """One server (SQLite), or two instances (PostgreSQL + Redis)."""
    if request.param == "one":
        return [request.getfixturevalue("one_server")]
    return list(request.getfixturevalue("two_servers"))


async def grant(server: Server, user: User, role: str) -> None:
    """`chatapi admin grant USERNAME ROLE` against the server's database."""
    env = {**os.environ, "DATABASE_URL": server.env["DATABASE_URL"], "ENVIRONMENT": "test"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatapi.cli", "admin", "grant", user.username, role,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()


async def login(api: Api, user: User) -> str:
    r = await api.http.post(
        "/api/v1/auth/token", data={"username": user.username, "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


async def closes_in_time(client: Client) -> None:
    started = time.monotonic()
    code = await client.closed(timeout=CLOSE_WITHIN + 2)
    took = time.monotonic() - started
    assert code == CLOSE_NOT_AUTHENTICATED, code
    assert took < CLOSE_WITHIN, f"closed after {took:.2f}s"


async def test_suspending_an_account_closes_its_sockets_everywhere_at_once(
    servers: list[Server],
) -> None:
    first, last = servers[0], servers[-1]
    api = Api(first.base_url)
    try:
        mallory, mod, alice = await api.signup(), await api.signup(), await api.signup()
        await grant(first, mod, "moderator")
        conv = await api.group(alice, [mallory])
        second_login = await login(api, mallory)
        sockets = [
            await Client.open(first.ws_url, mallory.token),
            await Client.open(last.ws_url, mallory.token),
            await Client.open(last.ws_url, second_login),
        ]
        bystander = await Client.open(last.ws_url, alice.token)
        r = await api.http.put(
            f"/api/v1/moderation/users/{mallory.id}/suspension",
            headers=mod.headers,
            json={"hours": 1, "reason": "spam wave"},
        )
        assert r.status_code == 200, r.text
        await asyncio.gather(*(closes_in_time(s) for s in sockets))
        # Everyone else stays connected.
        await api.post(alice, conv, "still here")
        await bystander.expect("message.new", seq=1)
        for server in servers:
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                r = await http.get("/api/v1/users/me", headers=mallory.headers)
                assert r.status_code == 401 and r.json()["code"] == "account_suspended"
                r = await http.post(
                    "/api/v1/auth/token",
                    data={"username": mallory.username, "password": PASSWORD},
                )
                assert r.status_code == 403 and r.json()["code"] == "account_suspended"
        again = await Client.open(last.ws_url)
        await again.send({"type": "auth", "token": second_login})
        assert await again.closed(timeout=5) == CLOSE_NOT_AUTHENTICATED
        await bystander.aclose()
    finally:
        await api.aclose()


async def test_a_blocked_persons_direct_message_over_the_socket_is_refused(
    servers: list[Server],
) -> None:
    api = Api(servers[0].base_url)
    try:
        alice, mallory = await api.signup(), await api.signup()
        await api.group(alice, [mallory])
        r = await api.http.post(
            "/api/v1/conversations",
            headers=mallory.headers,
            json={"kind": "direct", "member_ids": [alice.id]},
        )
        conv = r.json()["id"]
        r = await api.http.put(f"/api/v1/users/me/blocks/{mallory.id}", headers=alice.headers)
        assert r.status_code == 200, r.text
        ws = await Client.open(servers[-1].ws_url, mallory.token)
        await ws.send(
            {"type": "message.send", "conversation_id": conv, "client_id": "b1", "body": "hey"}
        )
        error = await ws.expect("error")
        assert error["code"] == "blocked" and error["client_id"] == "b1"
        assert await api.events(alice, conv) == []
        await ws.aclose()
    finally:
        await api.aclose()
