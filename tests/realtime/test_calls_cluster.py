"""Calls across two `chatapi serve` instances on one PostgreSQL and one Redis: call frames
reach sockets on the other instance, a reload onto the other instance keeps the call, and
the deadlines fire when an instance dies (the survivor's sweeper ends what is overdue).
Timings are short (ring 2 s, rejoin 2 s).

Runs when TEST_DATABASE_URL and REDIS_URL are set.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from helpers import PG_URL, REDIS_URL, prepare_postgres
from servers import Api, Server, Sockets, User, server_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="needs TEST_DATABASE_URL and REDIS_URL"),
]

RING = 2.0
REJOIN = 2.0
SETTINGS: dict[str, Any] = {
    "call_ring_timeout_seconds": RING,
    "call_rejoin_seconds": REJOIN,
    "presence_heartbeat_seconds": 0.5,
}
OFFER = {"kind": "offer", "sdp": "v=0\r\n"}


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[list[Server]]:
    await prepare_postgres()
    assert PG_URL and REDIS_URL
    prefix = f"chatapi-test-{uuid.uuid4().hex[:12]}"
    servers = []
    for name in ("a", "b"):
        workdir = tmp_path_factory.mktemp(f"calls-cluster-{name}")
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
    # The instance that survives in the tests that kill one restarts it afterwards.
    client = Api(cluster[0].base_url)
    yield client
    await client.aclose()


async def direct(api: Api, one: User, other: User) -> str:
    r = await api.http.post(
        "/api/v1/conversations",
        headers=one.headers,
        json={"kind": "direct", "member_ids": [other.id]},
    )
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


async def test_a_reload_onto_the_other_instance_keeps_the_call_and_signals_follow(
    sockets: Sockets, cluster: list[Server], api: Api
) -> None:
    one, two = cluster
    alice, bob = await api.signup(), await api.signup()
    conv = await direct(api, alice, bob)
    a = await sockets.open(one.ws_url, alice.token)
    b = await sockets.open(one.ws_url, bob.token)
    b_phone = await sockets.open(two.ws_url, bob.token)
    await a.send({"type": "call.invite", "conversation_id": conv, "video": True})
    call_id = (await a.expect("call.ringing"))["call"]["id"]
    assert (await b_phone.expect("call.invite"))["call"]["id"] == call_id
    await b.send({"type": "call.accept", "call_id": call_id})
    # The phone on the other instance stops ringing: it hears that Bob answered.
    stopped = await b_phone.expect("call.accept")
    assert stopped["user_id"] == bob.id
    await a.expect("call.accept")
    await b.aclose()  # Bob reloads; the page comes back on the other instance
    b2 = await sockets.open(two.ws_url, bob.token)
    await b2.send({"type": "call.accept", "call_id": call_id, "video": True})
    back = await a.expect("call.accept", user_id=bob.id)
    await a.send({"type": "call.signal", "call_id": call_id, "to_user_id": bob.id, "data": OFFER})
    relayed = await b2.expect("call.signal")
    assert relayed["data"] == OFFER and relayed["from_user_id"] == alice.id
    assert [f for f in await b_phone.quiet(0.3) if f["type"] == "call.signal"] == []
    assert {p["connection_id"] for p in back["call"]["participants"]} >= {back["connection_id"]}
    await b2.send({"type": "call.hangup", "call_id": call_id})
    ended = await a.expect("call.ended")
    assert ended["call"]["outcome"] == "completed"
    assert (await b_phone.expect("call.ended"))["seq"] == ended["seq"]


async def test_a_call_started_on_an_instance_that_dies_still_ends_as_missed(
    sockets: Sockets, cluster: list[Server], api: Api
) -> None:
    one, two = cluster
    alice, bob = await api.signup(), await api.signup()
    conv = await direct(api, alice, bob)
    a = await sockets.open(two.ws_url, alice.token)
    b = await sockets.open(one.ws_url, bob.token)
    await a.send({"type": "call.invite", "conversation_id": conv})
    call_id = (await a.expect("call.ringing"))["call"]["id"]
    await b.expect("call.invite")
    two.kill()
    try:
        ended = await b.expect("call.ended", timeout=RING + 10)
        assert ended["call"]["call_id"] == call_id and ended["call"]["outcome"] == "missed"
    finally:
        await asyncio.to_thread(two.start)
    events = [e for e in await api.events(bob, conv) if e["type"] == "call.ended"]
    assert len(events) == 1


async def test_a_participant_on_an_instance_that_died_is_given_up_on_and_the_call_ends(
    sockets: Sockets, cluster: list[Server], api: Api
) -> None:
    one, two = cluster
    alice, bob = await api.signup(), await api.signup()
    conv = await direct(api, alice, bob)
    a = await sockets.open(one.ws_url, alice.token)
    b = await sockets.open(two.ws_url, bob.token)
    await a.send({"type": "call.invite", "conversation_id": conv})
    call_id = (await a.expect("call.ringing"))["call"]["id"]
    await b.expect("call.invite")
    await b.send({"type": "call.accept", "call_id": call_id})
    await a.expect("call.accept")
    # Well past the grace while both are there: nothing ends.
    assert [f for f in await a.quiet(REJOIN + 1.5) if f["type"].startswith("call.")] == []
    two.kill()  # Bob's socket is never closed cleanly: nobody marks him disconnected
    try:
        gone = await a.expect("call.hangup", timeout=REJOIN + 15)
        assert gone["user_id"] == bob.id
        ended = await a.expect("call.ended", timeout=5)
        assert ended["call"]["outcome"] == "completed"
        assert ended["call"]["duration_seconds"] >= 2
    finally:
        await asyncio.to_thread(two.start)
