"""The WebSocket gateway against a real `chatapi serve` process (SQLite, one instance).

One server is shared by the module (each test makes its own users); the tests that stop
or kill a server start their own.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

# src imports (module paths may move with the code under test)
from chatapi import security
from helpers import SECRET, elapse, eventually
from servers import (
    Api,
    RawClient,
    Receiver,
    Server,
    Sockets,
    send_until_acked,
    server_env,
)

pytestmark = pytest.mark.slow

TYPING_TTL = 1.5
AUTH_TIMEOUT = 1.5
OUTBOX = 32
RATE = "20/second"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("ws-gateway")
    db = workdir / "chatapi.db"
    shutil.copy(sqlite_template, db)
    env = server_env(
        workdir,
        f"sqlite+aiosqlite:///{db}",
        redis_url=None,
        redis_prefix="unused",
        ws_typing_ttl_seconds=TYPING_TTL,
        ws_auth_timeout_seconds=AUTH_TIMEOUT,
        ws_outbox_size=OUTBOX,
        ws_rate_limit=RATE,
    )
    srv = Server(workdir, env)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def api(server: Server) -> AsyncIterator[Api]:
    client = Api(server.base_url)
    yield client
    await client.aclose()


async def test_ws_auth_ready_then_send_acks_and_reaches_every_member_socket(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    a1 = await sockets.open(server.ws_url, alice.token)
    a2 = await sockets.open(server.ws_url, alice.token)
    b1 = await sockets.open(server.ws_url, bob.token)

    await a1.send(
        {"type": "message.send", "conversation_id": conv, "client_id": "c-1", "body": "hello"}
    )
    ack = await a1.expect("message.ack")
    assert ack["client_id"] == "c-1"
    assert ack["message"]["body"] == "hello" and ack["message"]["seq"] == 1
    # Acked means committed: the timeline already has it.
    assert [e["seq"] for e in await api.events(alice, conv)] == [1]
    for sock in (a2, b1):
        new = await sock.expect("message.new")
        assert new["seq"] == 1 and new["conversation_id"] == conv
        assert new["message"]["id"] == ack["message"]["id"]
    for c in (a1, a2, b1):
        await c.aclose()


async def test_ws_ready_carries_user_and_session(server: Server, api: Api) -> None:
    alice = await api.signup()
    async with connect(server.ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": alice.token}))
        ready = json.loads(await ws.recv())
    assert ready["type"] == "ready"
    assert ready["user"]["id"] == alice.id and ready["user"]["online"] is True
    assert "password_hash" not in ready["user"]
    assert isinstance(ready["session_id"], str) and ready["session_id"]


async def test_ws_client_id_retry_acks_the_first_message_and_announces_it_once(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    a, b = (
        await sockets.open(server.ws_url, alice.token),
        await sockets.open(server.ws_url, bob.token),
    )
    frame = {"type": "message.send", "conversation_id": conv, "client_id": "same", "body": "x"}
    await a.send(frame)
    first = await a.expect("message.ack")
    await a.send(frame)
    second = await a.expect("message.ack")
    assert first["message"]["id"] == second["message"]["id"]
    news = [f for f in await b.quiet(0.8) if f["type"] == "message.new"]
    assert [f["seq"] for f in news] == [1]


async def test_ws_rest_changes_reach_sockets_in_seq_order(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob, carol = await api.signup(), await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    b = await sockets.open(server.ws_url, bob.token)
    msg = await api.post(alice, conv, "first")
    r = await api.http.patch(
        f"/api/v1/messages/{msg['id']}", headers=alice.headers, json={"body": "edited"}
    )
    assert r.status_code == 200, r.text
    r = await api.http.post(
        f"/api/v1/conversations/{conv}/members", headers=alice.headers, json={"user_id": carol.id}
    )
    assert r.status_code == 201, r.text
    r = await api.http.patch(
        f"/api/v1/conversations/{conv}", headers=alice.headers, json={"title": "renamed"}
    )
    assert r.status_code == 200, r.text
    r = await api.http.delete(f"/api/v1/messages/{msg['id']}", headers=alice.headers)
    assert r.status_code == 204, r.text
    got = [f for f in await b.quiet(1.0) if "seq" in f]
    assert [(f["seq"], f["type"]) for f in got] == [
        (1, "message.new"),
        (2, "message.edited"),
        (3, "member.added"),
        (4, "conversation.updated"),
        (5, "message.deleted"),
    ]
    assert got[1]["message"]["body"] == "edited"


async def test_ws_removed_member_gets_the_removal_then_nothing(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob, carol = await api.signup(), await api.signup(), await api.signup()
    conv = await api.group(alice, [bob, carol])
    c = await sockets.open(server.ws_url, carol.token)
    b = await sockets.open(server.ws_url, bob.token)
    await api.post(alice, conv, "before")
    await c.expect("message.new")
    r = await api.http.delete(
        f"/api/v1/conversations/{conv}/members/{carol.id}", headers=alice.headers
    )
    assert r.status_code == 204, r.text
    removed = await c.expect("member.removed")
    assert removed["member"]["user_id"] == carol.id
    await api.post(alice, conv, "after")
    await b.expect("message.new", seq=3)
    await c.send({"type": "typing", "conversation_id": conv, "state": "start"})
    err = await c.expect("error")
    assert err["code"] == "conversation_not_found"
    await api.post(alice, conv, "later")
    assert [f for f in await c.quiet(0.5) if f.get("conversation_id") == conv] == []


async def test_ws_new_members_receive_at_once_on_open_sockets(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob, carol = await api.signup(), await api.signup(), await api.signup()
    b = await sockets.open(server.ws_url, bob.token)
    c = await sockets.open(server.ws_url, carol.token)
    conv = await api.group(alice, [bob])  # created after bob's socket authenticated
    created = await b.expect("conversation.created")
    assert created["conversation_id"] == conv
    await api.post(alice, conv, "one")
    assert (await b.expect("message.new"))["seq"] == 1
    r = await api.http.post(
        f"/api/v1/conversations/{conv}/members", headers=alice.headers, json={"user_id": carol.id}
    )
    assert r.status_code == 201
    added = await c.expect("member.added")
    assert added["seq"] == 2 and added["member"]["user_id"] == carol.id
    await api.post(alice, conv, "two")
    assert (await c.expect("message.new"))["seq"] == 3


async def test_ws_typing_reaches_others_and_expires_by_itself(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    a, b = (
        await sockets.open(server.ws_url, alice.token),
        await sockets.open(server.ws_url, bob.token),
    )
    await a.send({"type": "typing", "conversation_id": conv, "state": "start"})
    start = await b.expect("typing")
    assert start == {
        "type": "typing",
        "conversation_id": conv,
        "user_id": alice.id,
        "state": "start",
    }
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    stop = await b.expect("typing", timeout=TYPING_TTL + 3)
    assert stop["state"] == "stop" and stop["user_id"] == alice.id
    assert loop.time() - t0 >= TYPING_TTL - 0.3
    # Not echoed to the typist.
    assert [f for f in await a.quiet(0.3) if f["type"] == "typing"] == []


async def test_ws_typing_stop_and_renewal(sockets: Sockets, server: Server, api: Api) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    a, b = (
        await sockets.open(server.ws_url, alice.token),
        await sockets.open(server.ws_url, bob.token),
    )
    start = {"type": "typing", "conversation_id": conv, "state": "start"}
    await a.send(start)
    await b.expect("typing", state="start")
    for _ in range(3):  # renewed before the TTL runs out: no stop
        await elapse(TYPING_TTL / 2, "half the typing TTL")
        await a.send(start)
    assert [f for f in await b.quiet(0.1) if f.get("state") == "stop"] == []
    await a.send({"type": "typing", "conversation_id": conv, "state": "stop"})
    await b.expect("typing", state="stop", timeout=1)


async def test_ws_read_and_delivered_move_markers_and_send_receipts(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    for i in range(3):
        await api.post(alice, conv, f"m{i}")
    a, b = (
        await sockets.open(server.ws_url, alice.token),
        await sockets.open(server.ws_url, bob.token),
    )
    await b.send({"type": "delivered", "conversation_id": conv, "seq": 3})
    receipt = await a.expect("receipt")
    assert receipt == {
        "type": "receipt",
        "conversation_id": conv,
        "user_id": bob.id,
        "read_seq": 0,
        "delivered_seq": 3,
    }
    await b.send({"type": "read", "conversation_id": conv, "seq": 2})
    receipt = await a.expect("receipt")
    assert (receipt["read_seq"], receipt["delivered_seq"]) == (2, 3)
    r = await api.http.get(f"/api/v1/conversations/{conv}/members", headers=alice.headers)
    markers = {m["user"]["id"]: (m["last_read_seq"], m["last_delivered_seq"]) for m in r.json()}
    assert markers[bob.id] == (2, 3)


async def test_ws_a_readers_other_tabs_hear_of_their_own_read(
    sockets: Sockets, server: Server, api: Api
) -> None:
    """A second tab's unread count follows what the first one read."""
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    await api.post(alice, conv, "hello")
    tab1 = await sockets.open(server.ws_url, bob.token)
    tab2 = await sockets.open(server.ws_url, bob.token)
    await tab1.send({"type": "read", "conversation_id": conv, "seq": 1})
    receipt = await tab2.expect("receipt")
    assert (receipt["user_id"], receipt["read_seq"]) == (bob.id, 1)
    r = await api.http.post(
        f"/api/v1/conversations/{conv}/read", headers=bob.headers, json={"seq": 1}
    )
    assert r.status_code == 204  # no move, no frame; a REST read that moves reaches both
    await api.post(alice, conv, "again")
    for tab in (tab1, tab2):
        await tab.expect("message.new")
    r = await api.http.post(
        f"/api/v1/conversations/{conv}/read", headers=bob.headers, json={"seq": 2}
    )
    for tab in (tab1, tab2):
        receipt = await tab.expect("receipt")
        assert (receipt["user_id"], receipt["read_seq"]) == (bob.id, 2)


async def test_ws_presence_online_offline_and_last_seen(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    await api.group(alice, [bob])
    a = await sockets.open(server.ws_url, alice.token)
    b1 = await sockets.open(server.ws_url, bob.token)
    online = await a.expect("presence", user_id=bob.id)
    assert online["online"] is True
    b2 = await sockets.open(server.ws_url, bob.token)  # a second tab: no new presence frame
    await b1.aclose()
    assert [f for f in await a.quiet(0.5) if f["type"] == "presence"] == []
    r = await api.http.get(f"/api/v1/users/{bob.id}", headers=alice.headers)
    assert r.json()["online"] is True
    await b2.aclose()
    offline = await a.expect("presence", user_id=bob.id)
    assert offline["online"] is False and offline["last_seen_at"]
    r = await api.http.get(f"/api/v1/users/{bob.id}", headers=alice.headers)
    assert r.json()["online"] is False
    assert r.json()["last_seen_at"] is not None


async def test_ws_ping_pong(sockets: Sockets, server: Server, api: Api) -> None:
    alice = await api.signup()
    a = await sockets.open(server.ws_url, alice.token)
    await a.send({"type": "ping"})
    assert await a.expect("pong") == {"type": "pong"}


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        ('{"no_type": 1}', "invalid_frame"),
        ('{"type": "message.delete"}', "unknown_type"),
        (
            '{"type": "message.send", "client_id": "k1", "body": "no conversation"}',
            "validation_error",
        ),
        ('{"type": "read", "conversation_id": "not-a-uuid", "seq": 1}', "validation_error"),
        (
            '{"type": "read", "conversation_id": "00000000-0000-0000-0000-000000000000", '
            '"seq": 100000000000000000000000}',
            "validation_error",
        ),
        ('{"type": "ping", "deep": ' + "[" * 2000 + "]" * 2000 + "}", "invalid_json"),
        ('{"type": 7}', "invalid_frame"),
        (
            '{"type": "typing", "conversation_id": "00000000-0000-0000-0000-000000000000", '
            '"state": "maybe"}',
            "validation_error",
        ),
    ],
)
async def test_ws_bad_frames_get_error_frames_and_the_socket_stays(
    sockets: Sockets, server: Server, api: Api, raw: str, code: str
) -> None:
    alice = await api.signup()
    a = await sockets.open(server.ws_url, alice.token)
    await a.ws.send(raw)
    err = await a.expect("error")
    assert err["code"] == code and err["detail"]
    if "k1" in raw:
        assert err["client_id"] == "k1"
    await a.send({"type": "ping"})
    await a.expect("pong")


async def test_ws_conversation_you_are_not_in_is_an_error_frame(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob, mallory = await api.signup(), await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    m = await sockets.open(server.ws_url, mallory.token)
    await m.send(
        {"type": "message.send", "conversation_id": conv, "client_id": "x1", "body": "let me in"}
    )
    err = await m.expect("error")
    assert err["code"] == "conversation_not_found" and err["client_id"] == "x1"
    for frame in (
        {"type": "read", "conversation_id": conv, "seq": 1},
        {"type": "typing", "conversation_id": conv, "state": "start"},
        {
            "type": "message.send",
            "conversation_id": str(uuid.uuid4()),
            "client_id": "x2",
            "body": "nowhere",
        },
    ):
        await m.send(frame)
        assert (await m.expect("error"))["code"] == "conversation_not_found"
    assert await api.events(alice, conv) == []


async def test_ws_frames_before_auth_are_refused_with_an_error(
    sockets: Sockets, server: Server, api: Api
) -> None:
    c = await sockets.open(server.ws_url)
    await c.send(
        {
            "type": "message.send",
            "conversation_id": str(uuid.uuid4()),
            "client_id": "x",
            "body": "hi",
        }
    )
    assert (await c.expect("error"))["code"] == "not_authenticated"


async def test_ws_empty_message_is_a_validation_error(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    a = await sockets.open(server.ws_url, alice.token)
    await a.send({"type": "message.send", "conversation_id": conv, "client_id": "e", "body": "   "})
    err = await a.expect("error")
    assert err["code"] == "empty_message" and err["client_id"] == "e"


async def test_ws_frame_over_the_size_limit_closes_1009(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice = await api.signup()
    a = await sockets.open(server.ws_url, alice.token, max_size=None)
    await a.ws.send(json.dumps({"type": "ping", "pad": "x" * (70 * 1024)}))
    assert await a.closed() == 1009


async def test_ws_frame_size_limit_holds_under_plain_uvicorn_too(
    sockets: Sockets, tmp_path: Path, sqlite_template: Path
) -> None:
    # `python -m uvicorn` accepts 16 MiB frames: the gateway enforces its own limit.
    db = tmp_path / "chatapi.db"
    shutil.copy(sqlite_template, db)
    env = server_env(
        tmp_path,
        f"sqlite+aiosqlite:///{db}",
        redis_url=None,
        redis_prefix="x",
        ws_max_frame_bytes=4096,
    )
    srv = Server(tmp_path, env, runner="uvicorn")
    await asyncio.to_thread(srv.start)
    try:
        async with Api(srv.base_url) as api:
            alice = await api.signup()
        a = await sockets.open(srv.ws_url, alice.token, max_size=None)
        await a.send({"type": "ping", "pad": "x" * 3000})
        await a.expect("pong")
        await a.send({"type": "ping", "pad": "x" * 5000})
        assert await a.closed() == 1009
    finally:
        srv.stop()


async def test_ws_flood_gets_rate_limited_then_closed_4429(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice = await api.signup()
    a = await sockets.open(server.ws_url, alice.token)
    for _ in range(200):
        await a.send({"type": "ping"})
    frames: list[dict[str, Any]] = []
    code = None
    try:
        while True:
            frames.append(await a.recv(5))
    except Exception:
        code = a.ws.close_code
    errors = [f for f in frames if f["type"] == "error"]
    assert errors and all(f["code"] == "rate_limited" for f in errors)
    assert code == 4429


async def test_ws_short_burst_is_only_rate_limited(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice = await api.signup()
    a = await sockets.open(server.ws_url, alice.token)
    for _ in range(30):
        await a.send({"type": "ping"})
    frames = await a.quiet(1.0)
    assert {f["type"] for f in frames} == {"pong", "error"}
    await elapse(1.0, f"the rate-limit window ({RATE}) passes")
    await a.send({"type": "ping"})
    await a.expect("pong")


async def test_ws_no_auth_in_time_closes_4408(sockets: Sockets, server: Server) -> None:
    c = await sockets.open(server.ws_url)
    assert await c.closed(AUTH_TIMEOUT + 5) == 4408


async def test_ws_bad_token_closes_4401(sockets: Sockets, server: Server, api: Api) -> None:
    alice = await api.signup()
    c = await sockets.open(server.ws_url)
    await c.send({"type": "auth", "token": alice.token[:-4] + "AAAA"})
    assert await c.closed() == 4401
    forged, _ = security.issue_token(
        key="another key", subject=uuid.UUID(alice.id), token_type="access", ttl_seconds=60
    )
    c = await sockets.open(server.ws_url)
    await c.send({"type": "auth", "token": forged})
    assert await c.closed() == 4401


def _short_token(user_id: str, ttl: int) -> str:
    token, _ = security.issue_token(
        key=SECRET, subject=uuid.UUID(user_id), token_type="access", ttl_seconds=ttl
    )
    return token


async def test_ws_token_expiry_without_reauth_closes_4401(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice = await api.signup()
    c = await sockets.open(server.ws_url, _short_token(alice.id, 2))
    assert await c.closed(8) == 4401


async def test_ws_reauth_with_a_fresh_token_keeps_the_socket(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice = await api.signup()
    c = await sockets.open(server.ws_url, _short_token(alice.id, 2))
    await c.send({"type": "auth", "token": _short_token(alice.id, 60)})
    renewed = await c.expect("auth.renewed")
    assert renewed["expires_at"]
    await elapse(3, "the first token's 2 s lifetime runs out")
    await c.send({"type": "ping"})
    await c.expect("pong")


async def test_ws_reauth_as_someone_else_closes_4401(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    c = await sockets.open(server.ws_url, alice.token)
    await c.send({"type": "auth", "token": bob.token})
    assert await c.closed() == 4401


async def test_ws_foreign_origin_is_refused(server: Server) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(server.ws_url, origin="http://evil.example"):  # type: ignore[arg-type]
            pass
    assert info.value.response.status_code == 403


@pytest.mark.parametrize("origin", [None, "http://allowed.example", "same"])
async def test_ws_allowed_origins(
    sockets: Sockets, server: Server, api: Api, origin: str | None
) -> None:
    alice = await api.signup()
    if origin == "same":
        origin = server.base_url
    kwargs: dict[str, Any] = {} if origin is None else {"origin": origin}
    c = await sockets.open(server.ws_url, alice.token, **kwargs)
    await c.send({"type": "ping"})
    await c.expect("pong")


async def test_ws_slow_reader_is_closed_1013_and_others_keep_receiving(
    sockets: Sockets, server: Server, api: Api, request: pytest.FixtureRequest
) -> None:
    alice, bob, slow = await api.signup(), await api.signup(), await api.signup()
    conv = await api.group(alice, [bob, slow])
    raw = RawClient(server.port)  # authenticates, then never reads again
    request.addfinalizer(raw.close)
    raw.send_text(json.dumps({"type": "auth", "token": slow.token}))
    assert json.loads(await asyncio.to_thread(raw.first_text))["type"] == "ready"
    b = await sockets.open(server.ws_url, bob.token)
    body = "\U0001f600" * 3900  # 16 KB frames: the kernel's buffers fill sooner
    total = 260
    received = 0

    async def bob_reads() -> None:
        nonlocal received
        while received < total:
            frame = await b.recv(10)
            if frame["type"] == "message.new":
                received += 1

    reader = asyncio.create_task(bob_reads())
    for i in range(total):
        await api.post(alice, conv, f"{i} {body}")
    await asyncio.wait_for(reader, 20)
    assert received == total
    texts, code = await asyncio.to_thread(raw.read_all, 20)
    assert code == 1013
    seqs = [json.loads(t).get("seq") for t in texts if '"message.new"' in t[:200]]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) < total


async def test_ws_a_stalled_reader_is_closed_1013_once_its_queued_bytes_pass_the_bound(
    tmp_path: Path, sqlite_template: Path, request: pytest.FixtureRequest
) -> None:
    """The outbox is bounded in bytes, not only in frames: with room for 100,000 frames,
    a stalled reader of 16 KB messages is still closed once 64 KiB wait for it."""
    db = tmp_path / "chatapi.db"
    shutil.copy(sqlite_template, db)
    env = server_env(
        tmp_path, f"sqlite+aiosqlite:///{db}", redis_url=None, redis_prefix="unused",
        ws_outbox_size=100_000, ws_outbox_bytes=64 * 1024,
    )  # fmt: skip
    srv = Server(tmp_path, env)
    srv.start()
    request.addfinalizer(srv.stop)
    async with Api(srv.base_url) as api:
        alice, stalled = await api.signup(), await api.signup()
        conv = await api.group(alice, [stalled])
        raw = RawClient(srv.port)
        request.addfinalizer(raw.close)
        raw.send_text(json.dumps({"type": "auth", "token": stalled.token}))
        assert json.loads(await asyncio.to_thread(raw.first_text))["type"] == "ready"
        body = "\U0001f600" * 3900  # 16 KB frames
        sent = 0
        # Past what the kernel and the transport absorb (a few MB on loopback) plus 64 KiB.
        while sent < 400:
            await api.post(alice, conv, f"{sent} {body}")
            sent += 1
        texts, code = await asyncio.to_thread(raw.read_all, 20)
    assert code == 1013
    seqs = [json.loads(t).get("seq") for t in texts if '"message.new"' in t[:200]]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) < sent
    # LOG_LEVEL=warning (the test servers' setting) governs chatapi's own loggers too.
    log = (tmp_path / f"server-{srv.port}.log").read_text()
    assert "is not keeping up; closing it (1013)" in log
    assert not [line for line in log.splitlines() if line.startswith("INFO chatapi")]


@pytest.fixture
def own_server(tmp_path: Path, sqlite_template: Path) -> Iterator[Server]:
    """A server of the test's own, for stopping and killing."""
    db = tmp_path / "chatapi.db"
    shutil.copy(sqlite_template, db)
    srv = Server(
        tmp_path,
        server_env(tmp_path, f"sqlite+aiosqlite:///{db}", redis_url=None, redis_prefix="unused"),
    )
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


async def test_ws_sigterm_closes_sockets_1012(sockets: Sockets, own_server: Server) -> None:
    async with Api(own_server.base_url) as api:
        alice = await api.signup()
    c = await sockets.open(own_server.ws_url, alice.token)
    proc = own_server.proc
    assert proc is not None
    proc.send_signal(signal.SIGTERM)
    assert await c.closed(10) == 1012
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert await asyncio.to_thread(proc.wait, 15) in (0, -signal.SIGTERM)


async def test_ws_sigkill_mid_stream_then_restart_every_message_once_in_order(
    own_server: Server,
) -> None:
    async with Api(own_server.base_url) as api:
        alice, bob = await api.signup(), await api.signup()
        conv = await api.group(alice, [bob])
    total = 40
    receiver = Receiver([own_server], bob, conv)
    receiving = asyncio.create_task(receiver.run(until=total))
    acked: list[int] = []
    for i in range(total):
        if i == 15:
            cut = receiver.interruptions
            own_server.kill()
            await eventually(
                lambda cut=cut: receiver.interruptions > cut,
                what="the receiver lost its connection to the killed server",
            )
            own_server.start()
        frame = {
            "type": "message.send",
            "conversation_id": conv,
            "client_id": f"m{i}",
            "body": f"m{i}",
        }
        ack = await send_until_acked([own_server], alice.token, frame)
        acked.append(ack["message"]["seq"])
    await asyncio.wait_for(receiving, 30)
    assert acked == list(range(1, total + 1))  # each client_id stored once
    assert receiver.bodies == [f"m{i}" for i in range(total)]
    assert receiver.out_of_order == []


async def test_muting_reaches_every_device_of_the_muter_and_nobody_else(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    phone = await sockets.open(server.ws_url, alice.token)
    laptop = await sockets.open(server.ws_url, alice.token)
    bobs = await sockets.open(server.ws_url, bob.token)
    r = await api.http.patch(
        f"/api/v1/conversations/{conv}/settings", json={"mute": "8h"}, headers=alice.headers
    )
    assert r.status_code == 200, r.text
    for device in (phone, laptop):
        frame = await device.expect("conversation.settings")
        assert frame["conversation_id"] == conv and frame["muted"] is True
        assert frame["muted_until"] == r.json()["muted_until"] is not None
    r = await api.http.patch(
        f"/api/v1/conversations/{conv}/settings", json={"mute": "off"}, headers=alice.headers
    )
    unmuted = await laptop.expect("conversation.settings")
    assert unmuted["muted"] is False and unmuted["muted_until"] is None
    assert await bobs.quiet(0.3, types=["conversation.settings"]) == []
