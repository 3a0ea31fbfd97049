"""Calls through the real WebSocket endpoint of a real server: ringing, answering on one
device, declining, busy, missed, hanging up, rejoining after a reload, the signalling relay
and what it refuses. Timings are short (ring 1.5 s, rejoin 1.5 s) so deadlines fire."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import elapse, eventually
from servers import Api, Client, Server, Sockets, User, server_env

pytestmark = pytest.mark.slow

RING = 1.5
REJOIN = 1.5
SETTINGS: dict[str, Any] = {
    "call_ring_timeout_seconds": RING,
    "call_rejoin_seconds": REJOIN,
    "call_signal_rate_limit": "20/10 seconds",
    "ws_rate_limit": "500/second",
}
OFFER = {"kind": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("ws-calls")
    db = workdir / "chatapi.db"
    shutil.copy(sqlite_template, db)
    env = server_env(
        workdir, f"sqlite+aiosqlite:///{db}", redis_url=None, redis_prefix="unused", **SETTINGS
    )
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


async def direct(api: Api, one: User, other: User) -> str:
    r = await api.http.post(
        "/api/v1/conversations",
        headers=one.headers,
        json={"kind": "direct", "member_ids": [other.id]},
    )
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


async def call_ended(api: Api, user: User, conv: str) -> list[dict[str, Any]]:
    return [e for e in await api.events(user, conv) if e["type"] == "call.ended"]


async def ring(caller: Client, conv: str, *, video: bool = False) -> dict[str, Any]:
    await caller.send({"type": "call.invite", "conversation_id": conv, "video": video})
    ringing = await caller.expect("call.ringing")
    return dict(ringing["call"])


async def test_call_rings_every_device_and_answering_on_one_stops_the_others(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await direct(api, alice, bob)
    a = await sockets.open(server.ws_url, alice.token)
    b1 = await sockets.open(server.ws_url, bob.token)
    b2 = await sockets.open(server.ws_url, bob.token)
    call = await ring(a, conv, video=True)
    assert call["state"] == "ringing" and call["video"] is True
    assert call["ringing_user_ids"] == [bob.id]
    assert [p["user_id"] for p in call["participants"]] == [alice.id]
    for b in (b1, b2):
        invite = await b.expect("call.invite")
        assert invite["call"]["id"] == call["id"] and invite["call"]["started_by"] == alice.id
    await b1.send({"type": "call.accept", "call_id": call["id"], "video": True})
    for c in (a, b1, b2):
        accepted = await c.expect("call.accept", call_id=call["id"])
        assert accepted["user_id"] == bob.id
        assert accepted["call"]["state"] == "active"
        assert accepted["call"]["ringing_user_ids"] == []
        assert {p["user_id"] for p in accepted["call"]["participants"]} == {alice.id, bob.id}
    bob_conn = accepted["connection_id"]
    # The other device cannot take the call while the first one is in it.
    await b2.send({"type": "call.accept", "call_id": call["id"]})
    assert (await b2.expect("error"))["code"] == "call_answered_elsewhere"
    # The one who joined offers to the one in the call; only her socket gets it.
    await b1.send(
        {"type": "call.signal", "call_id": call["id"], "to_user_id": alice.id, "data": OFFER}
    )
    relayed = await a.expect("call.signal")
    assert relayed["from_user_id"] == bob.id and relayed["from_connection_id"] == bob_conn
    assert relayed["data"] == OFFER
    answer = {"kind": "answer", "sdp": "v=0\r\n"}
    await a.send(
        {"type": "call.signal", "call_id": call["id"], "to_user_id": bob.id, "data": answer}
    )
    assert (await b1.expect("call.signal"))["data"] == answer
    candidate = {
        "kind": "candidate",
        "candidate": {
            "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
        },
    }
    await a.send(
        {"type": "call.signal", "call_id": call["id"], "to_user_id": bob.id, "data": candidate}
    )
    assert (await b1.expect("call.signal"))["data"]["candidate"]["sdpMid"] == "0"
    assert [f for f in await b2.quiet(0.3) if f["type"] == "call.signal"] == []
    await b1.send(
        {"type": "call.media", "call_id": call["id"], "audio": False, "video": True, "screen": True}
    )
    media = await a.expect("call.media")
    assert (media["user_id"], media["audio"], media["screen"]) == (bob.id, False, True)
    await elapse(1.1, "the call lasts a second")
    await a.send({"type": "call.hangup", "call_id": call["id"]})
    for c in (b1, b2):
        hung = await c.expect("call.hangup")
        assert hung["user_id"] == alice.id
        ended = await c.expect("call.ended")
        assert ended["call"]["outcome"] == "completed"
    record = ended["call"]
    assert record["call_id"] == call["id"] and record["video"] is True
    assert record["duration_seconds"] >= 1
    assert sorted(record["participant_ids"]) == sorted([alice.id, bob.id])
    # In the timeline, with a seq: catch-up and other devices see it.
    (event,) = await call_ended(api, bob, conv)
    assert event["seq"] == ended["seq"] and event["call"] == record
    r = await api.http.get("/api/v1/calls/active", headers=bob.headers)
    assert r.json() == []


async def test_decline_ends_a_direct_call_as_declined_on_every_device(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await direct(api, alice, bob)
    a = await sockets.open(server.ws_url, alice.token)
    b1 = await sockets.open(server.ws_url, bob.token)
    b2 = await sockets.open(server.ws_url, bob.token)
    call = await ring(a, conv)
    await b1.expect("call.invite")
    await b1.send({"type": "call.decline", "call_id": call["id"]})
    for c in (a, b2):
        declined = await c.expect("call.decline")
        assert declined["user_id"] == bob.id
        ended = await c.expect("call.ended")
        assert ended["call"]["outcome"] == "declined"
        assert ended["call"]["duration_seconds"] is None
    assert ended["call"]["participant_ids"] == [alice.id]


async def test_caller_hanging_up_while_it_rings_is_a_missed_call(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await direct(api, alice, bob)
    a = await sockets.open(server.ws_url, alice.token)
    b = await sockets.open(server.ws_url, bob.token)
    call = await ring(a, conv)
    await b.expect("call.invite")
    await a.send({"type": "call.hangup", "call_id": call["id"]})
    ended = await b.expect("call.ended")
    assert ended["call"]["outcome"] == "missed" and ended["call"]["call_id"] == call["id"]
    # Answering it now is too late.
    await b.send({"type": "call.accept", "call_id": call["id"]})
    assert (await b.expect("error"))["code"] == "call_not_found"


async def test_nobody_answering_in_time_is_a_missed_call(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await direct(api, alice, bob)
    a = await sockets.open(server.ws_url, alice.token)
    b = await sockets.open(server.ws_url, bob.token)
    call = await ring(a, conv)
    await b.expect("call.invite")
    r = await api.http.get("/api/v1/calls/active", headers=bob.headers)
    assert [c["id"] for c in r.json()] == [call["id"]]
    assert r.json()[0]["ringing_user_ids"] == [bob.id]
    loop = asyncio.get_running_loop()
    started = loop.time()
    for c in (a, b):
        ended = await c.expect("call.ended", timeout=RING + 5)
        assert ended["call"]["outcome"] == "missed"
    assert loop.time() - started >= RING - 0.5
    r = await api.http.get("/api/v1/calls/active", headers=bob.headers)
    assert r.json() == []


async def test_calling_someone_in_another_call_is_busy(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob, carol = await api.signup(), await api.signup(), await api.signup()
    ab = await direct(api, alice, bob)
    cb = await direct(api, carol, bob)
    a = await sockets.open(server.ws_url, alice.token)
    b = await sockets.open(server.ws_url, bob.token)
    c = await sockets.open(server.ws_url, carol.token)
    call = await ring(a, ab)
    await b.expect("call.invite")
    await b.send({"type": "call.accept", "call_id": call["id"]})
    await a.expect("call.accept")
    await c.send({"type": "call.invite", "conversation_id": cb})
    busy = await c.expect("call.busy")
    assert busy["user_id"] == bob.id
    ended = await c.expect("call.ended")
    assert ended["call"]["outcome"] == "busy"
    assert [f for f in await b.quiet(0.3) if f["type"] == "call.invite"] == []
    # And someone in a call cannot start another one.
    await b.send({"type": "call.invite", "conversation_id": cb})
    assert (await b.expect("error"))["code"] == "call_busy"
    await a.send({"type": "call.hangup", "call_id": call["id"]})
    assert (await b.expect("call.ended"))["call"]["outcome"] == "completed"


async def test_two_people_calling_each_other_end_up_in_one_call(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await direct(api, alice, bob)
    a = await sockets.open(server.ws_url, alice.token)
    b = await sockets.open(server.ws_url, bob.token)
    call = await ring(a, conv)
    await b.send({"type": "call.invite", "conversation_id": conv})
    joined = await a.expect("call.accept")
    assert joined["call"]["id"] == call["id"] and joined["user_id"] == bob.id
    await b.send({"type": "call.hangup", "call_id": call["id"]})
    assert (await a.expect("call.ended"))["call"]["outcome"] == "completed"


async def test_a_reload_within_the_grace_keeps_the_call_and_a_longer_absence_ends_it(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await direct(api, alice, bob)
    a = await sockets.open(server.ws_url, alice.token)
    b = await sockets.open(server.ws_url, bob.token)
    call = await ring(a, conv)
    await b.send({"type": "call.accept", "call_id": call["id"]})
    await a.expect("call.accept")
    await b.aclose()  # a reload

    async def bob_disconnected() -> bool:
        r = await api.http.get("/api/v1/calls/active", headers=bob.headers)
        (running,) = r.json()
        bob_there = next(p for p in running["participants"] if p["user_id"] == bob.id)
        return bob_there["connected"] is False

    await eventually(bob_disconnected, what="Bob's participant marked disconnected")
    b2 = await sockets.open(server.ws_url, bob.token)
    await b2.send({"type": "call.accept", "call_id": call["id"]})
    back = await a.expect("call.accept", user_id=bob.id)
    assert {p["user_id"] for p in back["call"]["participants"] if p["connected"]} == {
        alice.id,
        bob.id,
    }
    # Well past the grace with both sockets open: the call goes on.
    await elapse(REJOIN + 1.0, "past the rejoin grace")
    assert await call_ended(api, alice, conv) == []
    # Every socket gone longer than the grace: the call ends.
    await a.aclose()
    await b2.aclose()
    observer = await sockets.open(server.ws_url, alice.token)
    ended = await observer.expect("call.ended", timeout=REJOIN + 5)
    assert ended["call"]["outcome"] == "completed"
    assert ended["call"]["duration_seconds"] >= 1


async def test_signals_to_someone_outside_the_call_or_too_large_are_refused_and_not_relayed(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob, mallory = await api.signup(), await api.signup(), await api.signup()
    conv = await direct(api, alice, bob)
    a = await sockets.open(server.ws_url, alice.token)
    b = await sockets.open(server.ws_url, bob.token)
    m = await sockets.open(server.ws_url, mallory.token)
    call = await ring(a, conv)
    await b.send({"type": "call.accept", "call_id": call["id"]})
    await a.expect("call.accept")
    await b.expect("call.accept")

    async def refused(sender: Client, frame: dict[str, Any], code: str) -> None:
        await sender.send(frame)
        error = await sender.expect("error")
        assert error["code"] == code, error

    signal = {"type": "call.signal", "call_id": call["id"], "data": OFFER}
    # To someone who is not in the call.
    await refused(a, {**signal, "to_user_id": mallory.id}, "call_peer_not_in_call")
    # From someone not in the conversation: the call does not exist for them.
    await refused(m, {**signal, "to_user_id": alice.id}, "call_not_found")
    await refused(m, {"type": "call.accept", "call_id": call["id"]}, "call_not_found")
    # An SDP over 32 KiB (the frame itself is within WS_MAX_FRAME_BYTES).
    big = {"kind": "offer", "sdp": "a=x" * 14_000}
    await refused(a, {**signal, "to_user_id": bob.id, "data": big}, "call_signal_too_large")
    huge_candidate = {"kind": "candidate", "candidate": {"candidate": "c" * 2000}}
    await refused(
        a, {**signal, "to_user_id": bob.id, "data": huge_candidate}, "call_signal_too_large"
    )
    await refused(
        a, {**signal, "to_user_id": bob.id, "data": {"kind": "bogus"}}, "validation_error"
    )
    assert [f for f in await b.quiet(0.5) if f["type"] == "call.signal"] == []
    assert [f for f in await m.quiet(0.1) if f["type"].startswith("call.")] == []
    # A 1 MB SDP is beyond any frame's size: that socket is closed (1009), nothing relayed.
    await a.send(
        {**signal, "to_user_id": bob.id, "data": {"kind": "offer", "sdp": "x" * 1_000_000}}
    )
    assert await a.closed() == 1009
    assert [f for f in await b.quiet(0.5) if f["type"] == "call.signal"] == []


async def test_signals_beyond_the_rate_are_dropped_with_an_error(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await direct(api, alice, bob)
    a = await sockets.open(server.ws_url, alice.token)
    b = await sockets.open(server.ws_url, bob.token)
    call = await ring(a, conv)
    await b.send({"type": "call.accept", "call_id": call["id"]})
    await a.expect("call.accept")
    for i in range(25):
        candidate = {
            "kind": "candidate",
            "candidate": {"candidate": f"candidate:{i}", "sdpMid": "0"},
        }
        await a.send(
            {"type": "call.signal", "call_id": call["id"], "to_user_id": bob.id, "data": candidate}
        )
    errors = [f for f in await a.quiet(1.0) if f["type"] == "error"]
    assert len(errors) == 5 and {e["code"] for e in errors} == {"rate_limited"}
    relayed = [f for f in await b.quiet(0.5) if f["type"] == "call.signal"]
    assert [f["data"]["candidate"]["candidate"] for f in relayed] == [
        f"candidate:{i}" for i in range(20)
    ]


async def test_group_calls_ring_everyone_and_go_on_until_the_last_one_leaves(
    sockets: Sockets, server: Server, api: Api
) -> None:
    users = [await api.signup() for _ in range(3)]
    alice, bob, carol = users
    conv = await api.group(alice, [bob, carol])
    a, b, c = [await sockets.open(server.ws_url, u.token) for u in users]
    call = await ring(a, conv)
    assert sorted(call["ringing_user_ids"]) == sorted([bob.id, carol.id])
    await b.send({"type": "call.accept", "call_id": call["id"]})
    # Carol still rings, and hears that Bob answered.
    heard = await c.expect("call.accept")
    assert heard["call"]["ringing_user_ids"] == [carol.id]
    await c.send({"type": "call.decline", "call_id": call["id"]})
    await a.expect("call.decline", user_id=carol.id)
    await a.send({"type": "call.hangup", "call_id": call["id"]})
    await b.expect("call.hangup", user_id=alice.id)
    assert await call_ended(api, alice, conv) == []  # Bob is still in it
    # Carol changes her mind and joins the running call.
    await c.send({"type": "call.accept", "call_id": call["id"]})
    joined = await b.expect("call.accept", user_id=carol.id)
    assert {p["user_id"] for p in joined["call"]["participants"]} == {bob.id, carol.id}
    await b.send({"type": "call.hangup", "call_id": call["id"]})
    await c.send({"type": "call.hangup", "call_id": call["id"]})
    ended = await a.expect("call.ended")
    assert ended["call"]["outcome"] == "completed"
    assert sorted(ended["call"]["participant_ids"]) == sorted(u.id for u in users)


async def test_a_group_of_more_than_six_cannot_call(
    sockets: Sockets, server: Server, api: Api
) -> None:
    users = [await api.signup() for _ in range(7)]
    conv = await api.group(users[0], users[1:])
    a = await sockets.open(server.ws_url, users[0].token)
    await a.send({"type": "call.invite", "conversation_id": conv})
    assert (await a.expect("error"))["code"] == "call_too_large"
    assert await call_ended(api, users[0], conv) == []


async def test_in_a_running_group_call_those_who_never_answer_stop_ringing_in_time(
    sockets: Sockets, server: Server, api: Api
) -> None:
    users = [await api.signup() for _ in range(3)]
    alice, bob, carol = users
    conv = await api.group(alice, [bob, carol])
    a, b, c = [await sockets.open(server.ws_url, u.token) for u in users]
    call = await ring(a, conv)
    await b.send({"type": "call.accept", "call_id": call["id"]})
    await c.expect("call.accept", user_id=bob.id)
    stopped = await c.expect("call.decline", timeout=RING + 5)
    assert stopped["user_id"] == carol.id and stopped["call"]["ringing_user_ids"] == []
    assert stopped["call"]["state"] == "active"
    r = await api.http.get("/api/v1/calls/active", headers=carol.headers)
    assert [x["id"] for x in r.json()] == [call["id"]]  # she may still join it
    await a.send({"type": "call.hangup", "call_id": call["id"]})
    await b.send({"type": "call.hangup", "call_id": call["id"]})
    ended = await c.expect("call.ended")
    assert ended["call"]["outcome"] == "completed"
    assert sorted(ended["call"]["participant_ids"]) == sorted([alice.id, bob.id])


async def test_someone_removed_from_the_group_mid_call_signals_nobody_and_gets_no_signals(
    sockets: Sockets, server: Server, api: Api
) -> None:
    users = [await api.signup() for _ in range(3)]
    alice, bob, carol = users
    conv = await api.group(alice, [bob, carol])
    a, b, c = [await sockets.open(server.ws_url, u.token) for u in users]
    call = await ring(a, conv)
    await b.send({"type": "call.accept", "call_id": call["id"]})
    await c.send({"type": "call.accept", "call_id": call["id"]})
    await a.expect("call.accept", user_id=carol.id)
    r = await api.http.delete(
        f"/api/v1/conversations/{conv}/members/{carol.id}", headers=alice.headers
    )
    assert r.status_code == 204, r.text
    signal = {"type": "call.signal", "call_id": call["id"], "data": OFFER}
    await c.send({**signal, "to_user_id": bob.id})
    assert (await c.expect("error"))["code"] == "call_not_found"
    await b.send({**signal, "to_user_id": carol.id})
    assert (await b.expect("error"))["code"] == "call_peer_not_in_call"
    assert [f for f in await b.quiet(0.3) if f["type"] == "call.signal"] == []
    assert [f for f in await c.quiet(0.3) if f["type"] == "call.signal"] == []
