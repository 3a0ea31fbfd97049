"""Web Push against real servers: a member with an open socket (on any instance) gets no
push — the open tab shows the message — and gets one once the socket is closed; a
settings change reaches the user's other sockets as `settings.updated`.

The cluster case runs when TEST_DATABASE_URL and REDIS_URL are set."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chatapi.settings import new_vapid_key
from helpers import PG_URL, REDIS_URL, elapse, eventually, prepare_postgres
from servers import Api, BrowserSubscription, PushService, Server, Sockets, User, server_env

pytestmark = pytest.mark.slow

PUSH_SETTINGS: dict[str, Any] = {
    "push_allow_http_loopback": "true",
    "push_retry_base_seconds": "0.05",
    "presence_heartbeat_seconds": "0.5",
}


@pytest.fixture(scope="module")
async def push_service() -> AsyncIterator[PushService]:
    service = PushService()
    await service.start()
    yield service
    await service.aclose()


@pytest.fixture(scope="module")
async def server(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, push_service: PushService
) -> AsyncIterator[Server]:
    workdir = tmp_path_factory.mktemp("ws-push")
    db = workdir / "chatapi.db"
    shutil.copy(sqlite_template, db)
    env = server_env(
        workdir, f"sqlite+aiosqlite:///{db}", redis_url=None, redis_prefix="x", **PUSH_SETTINGS
    )
    srv = Server(workdir, env)
    await asyncio.to_thread(srv.start)
    try:
        async with Api(srv.base_url) as api:
            r = await api.http.get("/api/v1/push/vapid-public-key")
            push_service.vapid_public_key = r.json()["public_key"]
        yield srv
    finally:
        srv.stop()


async def subscribe(api: Api, who: User, service: PushService) -> BrowserSubscription:
    browser = BrowserSubscription(service.endpoint())
    r = await api.http.post("/api/v1/push/subscriptions", json=browser.json(), headers=who.headers)
    assert r.status_code == 201, r.text
    return browser


async def offline(api: Api, viewer: User, who: User) -> None:
    """Wait until `viewer` sees `who` offline (their last socket's close was counted)."""

    async def gone() -> bool:
        r = await api.http.get(f"/api/v1/users/{who.id}", headers=viewer.headers)
        return r.json()["online"] is False

    await eventually(gone, timeout=10, what=f"{who.username} offline")


async def test_a_member_with_an_open_socket_gets_no_push_until_it_closes(
    sockets: Sockets, server: Server, push_service: PushService
) -> None:
    async with Api(server.base_url) as api:
        alice, bob = await api.signup(), await api.signup()
        browser = await subscribe(api, bob, push_service)
        conv = await api.group(alice, [bob], title="Team")
        b = await sockets.open(server.ws_url, bob.token)
        await api.post(alice, conv, "you are here")
        await b.expect("message.new", seq=1)
        # A later message to someone offline: once its push is in, one for bob would be too.
        carol = await api.signup()
        control = await subscribe(api, carol, push_service)
        other = await api.group(alice, [carol], title="Control")
        await api.post(alice, other, "control")
        await eventually(lambda: push_service.to(control.endpoint), what="the control push")
        await elapse(0.2, "a push queued before the control one would have arrived by now")
        assert push_service.to(browser.endpoint) == []

        await b.aclose()
        await offline(api, alice, bob)
        await api.post(alice, conv, "now you are away")
        arrived = await eventually(lambda: push_service.to(browser.endpoint), what="the push")
        (request,) = arrived
        assert request.problems == []
        assert browser.decrypt(request.body)["body"] == "now you are away"


async def test_a_settings_change_reaches_the_users_other_sockets(
    sockets: Sockets, server: Server
) -> None:
    async with Api(server.base_url) as api:
        bob, alice = await api.signup(), await api.signup()
        phone = await sockets.open(server.ws_url, bob.token)
        laptop = await sockets.open(server.ws_url, bob.token)
        not_bob = await sockets.open(server.ws_url, alice.token)
        r = await api.http.patch(
            "/api/v1/users/me/settings",
            json={"notification_previews": False},
            headers=bob.headers,
        )
        assert r.status_code == 200
        expected = {
            "notifications": True,
            "notification_previews": False,
            "notification_sound": True,
        }
        for socket in (phone, laptop):
            frame = await socket.expect("settings.updated")
            assert frame == {"type": "settings.updated", "settings": expected}
        assert await not_bob.quiet(0.3, types=["settings.updated"]) == []


# --- two instances ------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def cluster(
    tmp_path_factory: pytest.TempPathFactory, push_service: PushService
) -> AsyncIterator[list[Server]]:
    if not (PG_URL and REDIS_URL):
        pytest.skip("needs TEST_DATABASE_URL and REDIS_URL")
    await prepare_postgres()
    prefix = f"chatapi-test-{uuid.uuid4().hex[:12]}"
    # Every instance signs with the same key, as in production.
    key = new_vapid_key()
    servers = []
    for name in ("a", "b"):
        workdir = tmp_path_factory.mktemp(f"push-cluster-{name}")
        env = server_env(
            workdir,
            PG_URL,
            redis_url=REDIS_URL,
            redis_prefix=prefix,
            vapid_private_key=key,
            **PUSH_SETTINGS,
        )
        servers.append(Server(workdir, env))
    try:
        for srv in servers:
            await asyncio.to_thread(srv.start)
        yield servers
    finally:
        for srv in servers:
            srv.stop()


@pytest.mark.postgres
@pytest.mark.redis
async def test_two_instances_push_once_and_only_to_members_offline_everywhere(
    sockets: Sockets, cluster: list[Server], push_service: PushService
) -> None:
    one, two = cluster
    async with Api(one.base_url) as api_a, Api(two.base_url) as api_b:
        advertised = {
            (await api.http.get("/api/v1/push/vapid-public-key")).json()["public_key"]
            for api in (api_a, api_b)
        }
        assert len(advertised) == 1
        push_service.vapid_public_key = advertised.pop()
        alice, bob, carol = await api_a.signup(), await api_a.signup(), await api_a.signup()
        browser = await subscribe(api_b, bob, push_service)
        control = await subscribe(api_b, carol, push_service)
        conv = await api_a.group(alice, [bob, carol], title="Team")
        b = await sockets.open(two.ws_url, bob.token)
        # Committed on A; bob is connected to B only: no push for him, one for carol.
        await api_a.post(alice, conv, "bob is on the other instance")
        await b.expect("message.new", seq=1)
        await eventually(lambda: push_service.to(control.endpoint), what="carol's push")
        await elapse(0.3, "a push for bob would have arrived with carol's")
        assert push_service.to(browser.endpoint) == []

        await b.aclose()
        await offline(api_a, alice, bob)
        await api_a.post(alice, conv, "now bob is away")
        (request,) = await eventually(lambda: push_service.to(browser.endpoint), what="the push")
        assert request.problems == []
        assert browser.decrypt(request.body)["body"] == "now bob is away"
        await eventually(lambda: len(push_service.to(control.endpoint)) == 2, what="carol's 2nd")
        await elapse(0.5, "a second instance pushing the same message would have by now")
        assert len(push_service.to(browser.endpoint)) == 1
        assert len(push_service.to(control.endpoint)) == 2
