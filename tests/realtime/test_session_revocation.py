"""Revoked sessions end at once: deleting an account closes every socket of it and
refuses its access tokens, logging out ends that session (its sockets and access token)
and no other — with one server, and with two instances on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from chatapi import security
from chatapi.services import sessions
from helpers import PASSWORD, PG_URL, REDIS_URL, Signup, eventually, prepare_postgres
from servers import Api, Client, Server, free_port, server_env, start_redis

CLOSE_NOT_AUTHENTICATED = 4401
# "Within a second" of the revoking request's answer.
CLOSE_WITHIN = 1.0


@dataclass
class Login:
    user_id: str
    access: str
    refresh: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


async def _login(http: httpx.AsyncClient, username: str) -> Login:
    r = await http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    tokens = r.json()
    me = await http.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    return Login(me.json()["id"], tokens["access_token"], tokens["refresh_token"])


@pytest.fixture(scope="module")
def one_server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("revocation-one")
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
        workdir = tmp_path_factory.mktemp(f"revocation-{name}")
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


async def _status(server: Server, login: Login) -> tuple[int, str | None]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        r = await http.get("/api/v1/users/me", headers=login.headers)
    return r.status_code, r.json().get("code")


async def _closes_in_time(client: Client) -> float:
    started = time.monotonic()
    code = await client.closed(timeout=CLOSE_WITHIN + 2)
    took = time.monotonic() - started
    assert code == CLOSE_NOT_AUTHENTICATED, code
    assert took < CLOSE_WITHIN, f"closed after {took:.2f}s"
    return took


@pytest.mark.slow
async def test_deleting_an_account_closes_its_sockets_and_refuses_its_tokens(
    servers: list[Server],
) -> None:
    first, last = servers[0], servers[-1]
    api = Api(first.base_url)
    try:
        alice, bob = await api.signup(), await api.signup()
        conv = await api.group(bob, [alice])
        one = await _login(api.http, alice.username)
        two = await _login(api.http, alice.username)
        sockets = [
            await Client.open(first.ws_url, one.access),
            await Client.open(last.ws_url, one.access),
            await Client.open(last.ws_url, two.access),
        ]
        r = await api.http.request(
            "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=one.headers
        )
        assert r.status_code == 204, r.text
        await asyncio.gather(*(_closes_in_time(s) for s in sockets))
        await api.post(bob, conv, "after")  # nobody of alice's hears it: all are closed
        for server in servers:
            for login in (one, two):
                assert await _status(server, login) == (401, "invalid_token")
        again = await Client.open(last.ws_url)
        await again.send({"type": "auth", "token": two.access})
        assert await again.closed(timeout=5) == CLOSE_NOT_AUTHENTICATED
    finally:
        await api.aclose()


@pytest.mark.slow
async def test_logout_ends_that_session_and_no_other(servers: list[Server]) -> None:
    first, last = servers[0], servers[-1]
    api = Api(first.base_url)
    try:
        alice, bob = await api.signup(), await api.signup()
        conv = await api.group(bob, [alice])
        leaving = await _login(api.http, alice.username)
        staying = await _login(api.http, alice.username)
        gone = [
            await Client.open(first.ws_url, leaving.access),
            await Client.open(last.ws_url, leaving.access),
        ]
        kept = await Client.open(last.ws_url, staying.access)
        r = await api.http.post("/api/v1/auth/logout", json={"refresh_token": leaving.refresh})
        assert r.status_code == 204, r.text
        await asyncio.gather(*(_closes_in_time(s) for s in gone))
        for server in servers:
            assert await _status(server, leaving) == (401, "invalid_token")
            assert await _status(server, staying) == (200, None)
        # The other session's socket still receives and sends.
        await api.post(bob, conv, "still there?")
        await kept.expect("message.new")
        await kept.send(
            {"type": "message.send", "conversation_id": conv, "client_id": "k", "body": "yes"}
        )
        await kept.expect("message.ack")
        await kept.aclose()
    finally:
        await api.aclose()


@pytest.mark.slow
async def test_a_password_change_closes_every_other_sessions_sockets(
    servers: list[Server],
) -> None:
    first, last = servers[0], servers[-1]
    api = Api(first.base_url)
    try:
        alice = await api.signup()
        here = await _login(api.http, alice.username)
        stolen = await _login(api.http, alice.username)
        gone = [
            await Client.open(first.ws_url, stolen.access),
            await Client.open(last.ws_url, stolen.access),
        ]
        kept = await Client.open(last.ws_url, here.access)
        r = await api.http.post(
            "/api/v1/users/me/password",
            json={"current_password": PASSWORD, "new_password": "a new long passphrase"},
            headers=here.headers,
        )
        assert r.status_code == 204, r.text
        await asyncio.gather(*(_closes_in_time(s) for s in gone))
        for server in servers:
            assert await _status(server, stolen) == (401, "invalid_token")
            assert await _status(server, here) == (200, None)
        await kept.send({"type": "ping"})
        await kept.expect("pong")
        await kept.aclose()
    finally:
        await api.aclose()


# --- in process: the check costs no query once the session is known ---------------------


async def test_a_known_session_is_checked_without_a_query(
    app: Any, client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = app.state.chat.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        first = await client.get("/api/v1/users/me", headers=alice.headers)
        assert first.status_code == 200
        on_first_sight = [s for s in statements if "refresh_tokens" in s]
        assert len(on_first_sight) == 1  # the session's state, loaded once
        statements.clear()
        for _ in range(5):
            r = await client.get("/api/v1/users/me", headers=alice.headers)
            assert r.status_code == 200
        assert [s for s in statements if "refresh_tokens" in s] == []
    finally:
        event.remove(engine, "before_cursor_execute", count)
    r = await client.post("/api/v1/auth/logout", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 204
    r = await client.get("/api/v1/users/me", headers=alice.headers)
    assert (r.status_code, r.json()["code"]) == (401, "invalid_token")
    assert r.headers["www-authenticate"] == "Bearer"


# --- a revocation published while Redis was down -----------------------------------------


async def _broker(server: Server, status: int) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:

        async def answers() -> bool:
            return (await http.get("/readyz")).status_code == status

        await eventually(answers, timeout=10, what=f"/readyz answering {status}")


@pytest.mark.slow
async def test_a_revocation_missed_during_a_redis_outage_closes_sockets_when_it_is_back(
    tmp_path: Path,
) -> None:
    if not (PG_URL and REDIS_URL):
        pytest.skip("needs TEST_DATABASE_URL and REDIS_URL")
    await prepare_postgres()
    port = free_port()
    proc = start_redis(port)
    servers = [
        Server(tmp_path / n, server_env(tmp_path / n, PG_URL,
               redis_url=f"redis://127.0.0.1:{port}/0", redis_prefix="missed"))
        for n in ("a", "b")
    ]  # fmt: skip
    api = Api(servers[0].base_url)
    try:
        for srv in servers:
            await asyncio.to_thread(srv.start)
        alice = await api.signup()
        leaving = await _login(api.http, alice.username)
        staying = await _login(api.http, alice.username)
        remote = await Client.open(servers[1].ws_url, leaving.access)
        kept = await Client.open(servers[1].ws_url, staying.access)
        proc.kill()
        proc.wait()
        for srv in servers:
            await _broker(srv, 503)
        r = await api.http.post("/api/v1/auth/logout", json={"refresh_token": leaving.refresh})
        assert r.status_code == 204
        assert await _status(servers[0], leaving) == (401, "invalid_token")
        proc = start_redis(port)
        await _broker(servers[1], 200)
        assert await remote.closed(timeout=5) == CLOSE_NOT_AUTHENTICATED
        assert await _status(servers[1], leaving) == (401, "invalid_token")
        assert await _status(servers[1], staying) == (200, None)
        await kept.send({"type": "ping"})
        await kept.expect("pong")
        await kept.aclose()
    finally:
        await api.aclose()
        for srv in servers:
            srv.stop()
        proc.kill()
        proc.wait()


# --- ready for a password change: every session but the current one ----------------------


async def test_revoking_all_but_the_current_session(
    app: Any, client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    other = await _login(client, alice.username)
    state = app.state.chat
    current = security.decode_token(alice.access_token, key=state.token_policy.key,
                                    expected_type="access").sid  # fmt: skip
    assert current is not None
    async with state.uow() as uow:
        await sessions.revoke_all(uow, user_id=uuid.UUID(alice.id), keep_session_id=current)
        await uow.commit()
    assert (await client.get("/api/v1/users/me", headers=alice.headers)).status_code == 200
    r = await client.get("/api/v1/users/me", headers=other.headers)
    assert (r.status_code, r.json()["code"]) == (401, "invalid_token")
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": other.refresh})
    assert r.status_code == 401
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert r.status_code == 200
