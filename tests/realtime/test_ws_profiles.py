"""Profile changes reach other people live: `user.updated` to every socket of everyone who
shares a conversation with the changed user (and the user's own other sockets), never to
strangers; across instances through Redis."""

from __future__ import annotations

import asyncio
import io
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from helpers import PASSWORD, PG_URL, REDIS_URL, prepare_postgres
from servers import Api, Server, Sockets, User, server_env

pytestmark = pytest.mark.slow


def png(colour: str = "purple") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (90, 70), colour).save(buf, "PNG")
    return buf.getvalue()


async def put_avatar(http: httpx.AsyncClient, who: User) -> dict[str, Any]:
    r = await http.put(
        "/api/v1/users/me/avatar",
        headers=who.headers,
        files={"file": ("me.png", png(), "image/png")},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("ws-profiles")
    db = workdir / "chatapi.db"
    shutil.copy(sqlite_template, db)
    env = server_env(workdir, f"sqlite+aiosqlite:///{db}", redis_url=None, redis_prefix="unused")
    srv = Server(workdir, env)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def api(server: Server) -> AsyncIterator[Api]:
    async with Api(server.base_url) as client:
        yield client


async def test_ws_new_picture_reaches_co_members_and_own_sockets_not_strangers(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob, carol, stranger = [await api.signup() for _ in range(4)]
    await api.group(alice, [bob])
    await api.group(carol, [alice])
    alice_phone = await sockets.open(server.ws_url, alice.token)
    b = await sockets.open(server.ws_url, bob.token)
    c = await sockets.open(server.ws_url, carol.token)
    s = await sockets.open(server.ws_url, stranger.token)

    answer = await put_avatar(api.http, alice)
    for client in (b, c, alice_phone):
        frame = await client.expect("user.updated")
        user = frame["user"]
        assert user["id"] == alice.id
        assert user["avatar_url"] == answer["avatar_url"]
        assert user["avatar_thumb_url"] == answer["avatar_thumb_url"]
        assert user["email"] is None  # never another person's address
    # The link in the frame works for anyone who got it, without a header.
    r = await api.http.get(frame["user"]["avatar_thumb_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    assert await s.quiet(0.5, types=["user.updated"]) == []

    r = await api.http.delete("/api/v1/users/me/avatar", headers=alice.headers)
    assert r.status_code == 200, r.text
    removed = await b.expect("user.updated")
    assert removed["user"]["avatar_url"] is None and removed["user"]["avatar_thumb_url"] is None
    assert await s.quiet(0.3, types=["user.updated"]) == []


async def test_ws_rename_reaches_co_members_and_an_email_change_does_not(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob, stranger = [await api.signup() for _ in range(3)]
    await api.group(bob, [alice])
    b = await sockets.open(server.ws_url, bob.token)
    s = await sockets.open(server.ws_url, stranger.token)
    r = await api.http.patch(
        "/api/v1/users/me", headers=alice.headers, json={"display_name": "Alice Liddell"}
    )
    assert r.status_code == 200, r.text
    frame = await b.expect("user.updated")
    assert frame["user"]["id"] == alice.id and frame["user"]["display_name"] == "Alice Liddell"
    # Nothing others can see changed: no frame.
    for change in ({"email": f"{alice.username}@example.com"}, {"display_name": "Alice Liddell"}):
        r = await api.http.patch("/api/v1/users/me", headers=alice.headers, json=change)
        assert r.status_code == 200, r.text
    assert await b.quiet(0.5, types=["user.updated"]) == []
    assert await s.quiet(0.1, types=["user.updated"]) == []


async def test_ws_closing_an_account_tells_co_members(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    await api.group(bob, [alice])
    await put_avatar(api.http, alice)
    b = await sockets.open(server.ws_url, bob.token)
    r = await api.http.request(
        "DELETE", "/api/v1/users/me", headers=alice.headers, json={"password": PASSWORD}
    )
    assert r.status_code == 204, r.text
    frame = await b.expect("user.updated")
    assert frame["user"]["id"] == alice.id
    assert frame["user"]["display_name"] == "Deleted account"
    assert frame["user"]["avatar_url"] is None


async def test_ws_ready_carries_my_picture_and_my_email(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice = await api.signup()
    address = f"{alice.username}@example.com"
    r = await api.http.patch("/api/v1/users/me", headers=alice.headers, json={"email": address})
    assert r.status_code == 200, r.text
    answer = await put_avatar(api.http, alice)
    socket = await sockets.open(server.ws_url)
    await socket.send({"type": "auth", "token": alice.token})
    ready = await socket.expect("ready")
    assert ready["user"]["email"] == address
    assert ready["user"]["avatar_url"] == answer["avatar_url"]
    assert ready["user"]["avatar_thumb_url"] == answer["avatar_thumb_url"]


# --- two instances ----------------------------------------------------------------------


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[list[Server]]:
    if not (PG_URL and REDIS_URL):
        pytest.skip("needs TEST_DATABASE_URL and REDIS_URL")
    await prepare_postgres()
    prefix = f"chatapi-test-{uuid.uuid4().hex[:12]}"
    servers = []
    for name in ("a", "b"):
        workdir = tmp_path_factory.mktemp(f"profiles-{name}")
        env = server_env(workdir, PG_URL, redis_url=REDIS_URL, redis_prefix=prefix)
        servers.append(Server(workdir, env))
    try:
        for srv in servers:
            await asyncio.to_thread(srv.start)
        yield servers
    finally:
        for srv in servers:
            await asyncio.to_thread(srv.stop)


@pytest.mark.postgres
@pytest.mark.redis
async def test_ws_user_updated_crosses_instances(sockets: Sockets, cluster: list[Server]) -> None:
    one, two = cluster
    async with Api(one.base_url) as api:
        alice, bob, stranger = [await api.signup() for _ in range(3)]
        await api.group(alice, [bob])
        b = await sockets.open(two.ws_url, bob.token)
        s = await sockets.open(two.ws_url, stranger.token)
        alice_elsewhere = await sockets.open(two.ws_url, alice.token)
        answer = await put_avatar(api.http, alice)
        frame = await b.expect("user.updated")
        assert frame["user"]["avatar_url"] == answer["avatar_url"]
        assert (await alice_elsewhere.expect("user.updated"))["user"]["id"] == alice.id
        r = await api.http.patch(
            "/api/v1/users/me", headers=alice.headers, json={"display_name": "A. from one"}
        )
        assert r.status_code == 200, r.text
        assert (await b.expect("user.updated"))["user"]["display_name"] == "A. from one"
        assert await s.quiet(0.5, types=["user.updated"]) == []
