"""Two `chatapi serve` instances on one PostgreSQL and one Redis: everything a client
relies on holds across instances, through a Redis outage and an instance's death.

Runs when TEST_DATABASE_URL and REDIS_URL are set.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import PG_URL, REDIS_URL, eventually, prepare_postgres
from servers import (
    Api,
    Client,
    Receiver,
    Server,
    Sockets,
    free_port,
    send_until_acked,
    server_env,
    start_redis,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="needs TEST_DATABASE_URL and REDIS_URL"),
]

HEARTBEAT = 0.5
SETTINGS: dict[str, Any] = {
    "ws_typing_ttl_seconds": 1.5,
    "presence_heartbeat_seconds": HEARTBEAT,
    "ws_rate_limit": "200/second",
}


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[list[Server]]:
    await prepare_postgres()
    assert PG_URL and REDIS_URL
    prefix = f"chatapi-test-{uuid.uuid4().hex[:12]}"
    servers = []
    for name in ("a", "b"):
        workdir = tmp_path_factory.mktemp(f"cluster-{name}")
        env = server_env(workdir, PG_URL, redis_url=REDIS_URL, redis_prefix=prefix, **SETTINGS)
        servers.append(Server(workdir, env))
    try:
        for srv in servers:
            await asyncio.to_thread(srv.start)
        yield servers
    finally:
        for srv in servers:
            srv.stop()


@pytest.fixture
async def api(cluster: list[Server]) -> AsyncIterator[Api]:
    client = Api(cluster[0].base_url)
    yield client
    await client.aclose()


async def test_ws_message_reaches_second_instance(
    sockets: Sockets, cluster: list[Server], api: Api
) -> None:
    one, two = cluster
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    a1 = await sockets.open(one.ws_url, alice.token)
    a2 = await sockets.open(two.ws_url, alice.token)
    b = await sockets.open(two.ws_url, bob.token)
    await a1.send(
        {"type": "message.send", "conversation_id": conv, "client_id": "x", "body": "across"}
    )
    ack = await a1.expect("message.ack")
    for c in (b, a2):
        new = await c.expect("message.new")
        assert new["message"]["id"] == ack["message"]["id"]
    assert [f for f in await a1.quiet(0.3) if f["type"] == "message.new"] == []


async def test_ws_events_from_many_writers_on_both_instances_arrive_in_seq_order(
    sockets: Sockets, cluster: list[Server], api: Api
) -> None:
    users = [await api.signup() for _ in range(4)]
    conv = await api.group(users[0], users[1:])
    watchers = [await sockets.open(srv.ws_url, users[0].token) for srv in cluster]
    senders = [await sockets.open(cluster[i % 2].ws_url, u.token) for i, u in enumerate(users)]
    per_sender = 15

    async def send_all(i: int, c: Client) -> None:
        for k in range(per_sender):
            await c.send(
                {
                    "type": "message.send",
                    "conversation_id": conv,
                    "client_id": f"{i}-{k}",
                    "body": f"{i}-{k}",
                }
            )
        for _ in range(per_sender):
            await c.expect("message.ack", timeout=20)

    await asyncio.gather(*(send_all(i, c) for i, c in enumerate(senders)))
    total = per_sender * len(senders)
    for w in watchers:
        seqs: list[int] = []
        while len(seqs) < total:
            frame = await w.recv(10)
            if frame["type"] == "message.new":
                seqs.append(frame["seq"])
        assert seqs == list(range(1, total + 1))


async def test_ws_typing_receipts_and_rest_changes_cross_instances(
    sockets: Sockets, cluster: list[Server], api: Api
) -> None:
    one, two = cluster
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    a = await sockets.open(one.ws_url, alice.token)
    b = await sockets.open(two.ws_url, bob.token)
    await a.send({"type": "typing", "conversation_id": conv, "state": "start"})
    assert (await b.expect("typing"))["state"] == "start"
    assert (await b.expect("typing", timeout=5))["state"] == "stop"  # expired on instance one
    msg = await api.post(alice, conv, "hello")
    await b.expect("message.new", seq=1)
    await b.send({"type": "read", "conversation_id": conv, "seq": 1})
    receipt = await a.expect("receipt")
    assert (receipt["user_id"], receipt["read_seq"]) == (bob.id, 1)
    r = await api.http.patch(
        f"/api/v1/messages/{msg['id']}", headers=alice.headers, json={"body": "hello!"}
    )
    assert r.status_code == 200
    edited = await b.expect("message.edited")
    assert edited["seq"] == 2 and edited["message"]["body"] == "hello!"


async def test_ws_removed_member_on_other_instance_stops_receiving(
    sockets: Sockets, cluster: list[Server], api: Api
) -> None:
    one, two = cluster
    alice, bob, carol = await api.signup(), await api.signup(), await api.signup()
    conv = await api.group(alice, [bob, carol])
    c = await sockets.open(two.ws_url, carol.token)
    b = await sockets.open(two.ws_url, bob.token)
    r = await api.http.delete(
        f"/api/v1/conversations/{conv}/members/{carol.id}", headers=alice.headers
    )
    assert r.status_code == 204
    removed = await c.expect("member.removed")
    assert removed["member"]["user_id"] == carol.id
    a = await sockets.open(one.ws_url, alice.token)
    await a.send(
        {"type": "message.send", "conversation_id": conv, "client_id": "after", "body": "after"}
    )
    await b.expect("message.new")
    await a.send({"type": "typing", "conversation_id": conv, "state": "start"})
    await b.expect("typing")
    assert [f for f in await c.quiet(0.5) if f.get("conversation_id") == conv] == []


async def test_ws_presence_counts_sockets_on_every_instance(
    sockets: Sockets, cluster: list[Server], api: Api
) -> None:
    one, two = cluster
    alice, bob = await api.signup(), await api.signup()
    await api.group(alice, [bob])
    a = await sockets.open(one.ws_url, alice.token)
    b2 = await sockets.open(two.ws_url, bob.token)
    assert (await a.expect("presence", user_id=bob.id))["online"] is True
    b1 = await sockets.open(one.ws_url, bob.token)
    r = await api.http.get(f"/api/v1/users/{bob.id}", headers=alice.headers)
    assert r.json()["online"] is True
    await b2.aclose()  # still online on instance one
    assert [f for f in await a.quiet(0.5) if f["type"] == "presence"] == []
    await b1.aclose()
    offline = await a.expect("presence", user_id=bob.id)
    assert offline["online"] is False and offline["last_seen_at"]


@pytest.fixture
async def private_cluster(
    tmp_path: Path, cluster: list[Server]
) -> AsyncIterator[tuple[list[Server], dict[str, Any]]]:
    """Two instances on a Redis of their own, which the test may stop and start."""
    port = free_port()
    box: dict[str, Any] = {"port": port, "proc": start_redis(port)}
    url = f"redis://127.0.0.1:{port}/0"
    assert PG_URL
    servers = []
    for name in ("a", "b"):
        env = server_env(tmp_path / name, PG_URL, redis_url=url, redis_prefix="outage", **SETTINGS)
        servers.append(Server(tmp_path / name, env))
    try:
        for srv in servers:
            await asyncio.to_thread(srv.start)
        yield servers, box
    finally:
        for srv in servers:
            srv.stop()
        box["proc"].kill()
        box["proc"].wait()


@pytest.fixture
async def private_api(
    private_cluster: tuple[list[Server], dict[str, Any]],
) -> AsyncIterator[Api]:
    """The REST API of the private cluster's first instance."""
    api = Api(private_cluster[0][0].base_url)
    try:
        yield api
    finally:
        await api.aclose()


async def _ready(http: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    r = await http.get("/readyz")
    return r.status_code, r.json()


async def _ready_with(http: httpx.AsyncClient, status: int) -> tuple[int, dict[str, Any]] | None:
    """The /readyz answer once it has this status code, else None."""
    answer = await _ready(http)
    return answer if answer[0] == status else None


async def test_ws_redis_outage_keeps_local_delivery_and_recovers(
    sockets: Sockets,
    private_cluster: tuple[list[Server], dict[str, Any]],
    private_api: Api,
) -> None:
    (one, two), box = private_cluster
    api = private_api
    alice, bob, carol = await api.signup(), await api.signup(), await api.signup()
    conv = await api.group(alice, [bob, carol])
    b_local = await sockets.open(one.ws_url, bob.token)
    c_remote = await sockets.open(two.ws_url, carol.token)
    await api.post(alice, conv, "before")
    await c_remote.expect("message.new", seq=1)

    box["proc"].kill()
    box["proc"].wait()
    for srv in (one, two):
        async with httpx.AsyncClient(base_url=srv.base_url) as http:
            status, body = await eventually(
                lambda http=http: _ready_with(http, 503), timeout=5, what="broker reported down"
            )
            assert status == 503 and body["checks"]["broker"] == "down"
            assert body["checks"]["database"] == "ok"
    # REST works, and sockets on the same instance still get events at once.
    await api.post(alice, conv, "during")
    await b_local.expect("message.new", seq=2)

    box["proc"] = start_redis(box["port"])
    async with httpx.AsyncClient(base_url=two.base_url) as http:
        await eventually(lambda: _ready_with(http, 200), timeout=10, what="instance two ready")
        assert (await _ready(http))[0] == 200
    # Instance two catches up from the database when Redis is back: no gap, no repeat.
    got = [f["seq"] for f in await c_remote.quiet(2.0) if f.get("type") == "message.new"]
    assert got == [2]
    async with httpx.AsyncClient(base_url=one.base_url) as http:
        await eventually(lambda: _ready_with(http, 200), timeout=10, what="instance one ready")
        assert (await _ready(http))[0] == 200
    await api.post(alice, conv, "after")
    await c_remote.expect("message.new", seq=3)
    await b_local.expect("message.new", seq=3)


async def test_ws_killed_instance_users_go_offline_elsewhere(
    sockets: Sockets,
    private_cluster: tuple[list[Server], dict[str, Any]],
    private_api: Api,
) -> None:
    (one, two), _box = private_cluster
    api = private_api
    alice, bob = await api.signup(), await api.signup()
    await api.group(alice, [bob])
    a = await sockets.open(one.ws_url, alice.token)
    await sockets.open(two.ws_url, bob.token)
    await a.expect("presence", user_id=bob.id, online=True)
    two.kill()
    offline = await a.expect("presence", user_id=bob.id, timeout=HEARTBEAT * 12)
    assert offline["online"] is False
    r = await api.http.get(f"/api/v1/users/{bob.id}", headers=alice.headers)
    assert r.json()["online"] is False


def test_cluster_servers_logged_no_tracebacks(cluster: list[Server]) -> None:
    for srv in cluster:
        assert "Traceback" not in srv.log_tail(2000), srv.log_tail(80)


async def test_ws_instance_killed_mid_stream_clients_move_and_miss_nothing(
    private_cluster: tuple[list[Server], dict[str, Any]],
    private_api: Api,
) -> None:
    (one, two), _box = private_cluster
    api = private_api
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    total = 40
    receiver = Receiver([two, one], bob, conv)  # on the instance that dies
    receiving = asyncio.create_task(receiver.run(until=total))
    acked = []
    for i in range(total):
        if i == 12:
            two.kill()
        if i == 28:
            await asyncio.to_thread(two.start)
        frame = {
            "type": "message.send",
            "conversation_id": conv,
            "client_id": f"m{i}",
            "body": f"m{i}",
        }
        servers = [two, one] if i % 2 else [one, two]
        acked.append((await send_until_acked(servers, alice.token, frame))["message"]["seq"])
    await asyncio.wait_for(receiving, 30)
    assert acked == list(range(1, total + 1))
    assert receiver.bodies == [f"m{i}" for i in range(total)]
    assert receiver.out_of_order == []


async def test_ws_reaction_and_pin_reach_the_other_instance(
    sockets: Sockets, cluster: list[Server], api: Api
) -> None:
    _one, two = cluster
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    b = await sockets.open(two.ws_url, bob.token)
    msg = await api.post(alice, conv, "react to me")
    await b.expect("message.new", seq=1)
    # Both changes are made through instance one; bob's socket is on instance two.
    r = await api.http.put(
        f"/api/v1/messages/{msg['id']}/reactions/%F0%9F%91%8D", headers=bob.headers
    )
    assert r.status_code == 200, r.text
    reacted = await b.expect("message.reaction", seq=2)
    assert reacted["message"]["reactions"] == [
        {"emoji": "👍", "count": 1, "user_ids": [bob.id], "me": True}
    ]
    r = await api.http.put(f"/api/v1/conversations/{conv}/pins/{msg['id']}", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert (await b.expect("message.pinned", seq=3))["message"]["pinned"] is True
