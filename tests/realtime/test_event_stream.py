"""`GET /api/v1/events/stream` (Server-Sent Events) against real `chatapi serve` processes:
on SQLite, and on PostgreSQL + Redis when TEST_DATABASE_URL and REDIS_URL are set.

One server per backend is shared by the module (each test makes its own users); the
restart test and the two-instance test start their own.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatapi import security
from helpers import (
    BACKENDS,
    PASSWORD,
    PG_URL,
    REDIS_URL,
    SECRET,
    fresh_database_url,
    prepare_postgres,
)
from servers import Api, Server, SseEvent, SseStream, User, server_env

pytestmark = pytest.mark.slow

KEEPALIVE = 0.5
OUTBOX = 64
STREAM = "/api/v1/events/stream"


def _env(workdir: Path, database_url: str, **settings: Any) -> dict[str, str]:
    redis = REDIS_URL if database_url == PG_URL else None
    return server_env(
        workdir,
        database_url,
        redis_url=redis,
        redis_prefix=f"chatapi-sse-{uuid.uuid4().hex[:10]}",
        sse_keepalive_seconds=KEEPALIVE,
        **settings,
    )


@pytest.fixture(scope="module", params=BACKENDS)
async def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> AsyncIterator[Server]:
    backend = str(request.param)
    workdir = tmp_path_factory.mktemp(f"sse-{backend}")
    if backend != "sqlite":
        await prepare_postgres()
    url = fresh_database_url(backend, workdir, sqlite_template)
    srv = Server(workdir, _env(workdir, url, ws_outbox_size=OUTBOX, ws_outbox_bytes=64 * 1024))
    try:
        await asyncio.to_thread(srv.start)
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def api(server: Server) -> AsyncIterator[Api]:
    client = Api(server.base_url)
    yield client
    await client.aclose()


class Streams:
    """Streams opened by a test, all closed after it."""

    def __init__(self) -> None:
        self.opened: list[SseStream] = []

    async def open(self, server: Server, user: User, **kw: Any) -> SseStream:
        stream = await SseStream.open(server.base_url, user.token, **kw)
        self.opened.append(stream)
        return stream

    async def aclose(self) -> None:
        for stream in self.opened:
            await stream.aclose()


@pytest.fixture
async def streams() -> AsyncIterator[Streams]:
    opened = Streams()
    yield opened
    await opened.aclose()


def _seq(event: SseEvent) -> tuple[str, int]:
    data = event.json()
    return data["conversation_id"], data["seq"]


async def test_events_arrive_live_with_the_rest_events_json_and_a_cursor_id(
    server: Server, api: Api, streams: Streams
) -> None:
    alice, bob = await api.signup(), await api.signup()
    one, two = await api.group(alice, [bob], "one"), await api.group(alice, [bob], "two")
    stream = await streams.open(server, bob)
    await api.post(alice, one, "hello one")
    await api.post(alice, two, "hello two")
    first, second = await stream.events(2)
    assert (first.event, second.event) == ("message.new", "message.new")
    assert first.json() == (await api.events(bob, one))[0]
    assert second.json() == (await api.events(bob, two))[0]
    assert first.json()["message"]["body"] == "hello one"
    # The id is a cursor: this event's conversation and seq first, then the others'.
    assert first.id == f"{one}:1"
    assert second.id == f"{two}:1,{one}:1"
    # A stream of one conversation: `<conversation id>:<seq>`, its events only.
    only = await streams.open(server, bob, conversation_id=one)
    await api.post(alice, two, "not this one")
    await api.post(alice, one, "this one")
    (event,) = await only.events(1)
    assert event.id == f"{one}:2" and event.json()["message"]["body"] == "this one"


async def test_resume_with_last_event_id_loses_and_repeats_nothing_in_any_conversation(
    server: Server, api: Api, streams: Streams
) -> None:
    alice, bob = await api.signup(), await api.signup()
    one, two = await api.group(alice, [bob], "one"), await api.group(alice, [bob], "two")
    stream = await streams.open(server, bob)
    for i in range(3):
        await api.post(alice, one, f"one {i}")
        await api.post(alice, two, f"two {i}")
    seen = await stream.events(6)
    # Hang up after reading only some of it, then more happens in both conversations.
    await stream.aclose()
    last_id = seen[3].id
    assert last_id is not None
    message = await api.post(alice, one, "one 3")
    r = await api.http.patch(
        f"/api/v1/messages/{message['id']}", headers=alice.headers, json={"body": "one 3!"}
    )
    assert r.status_code == 200, r.text
    for i in range(3, 5):
        await api.post(alice, two, f"two {i}")
    resumed = await streams.open(server, bob, last_event_id=last_id)
    rest = await resumed.events(2 + 2 + 2)  # 4th..6th seen before, then 3 new in each
    got: dict[str, list[int]] = defaultdict(list)
    for event in [*seen[:4], *rest]:
        conversation, seq = _seq(event)
        got[conversation].append(seq)
    assert got == {one: [1, 2, 3, 4, 5], two: [1, 2, 3, 4, 5]}
    assert rest[-1].event in ("message.new", "message.edited")
    assert {e.event for e in rest} == {"message.new", "message.edited"}
    # Resuming from the last id: nothing is repeated, the next event is the next one.
    again = await streams.open(server, bob, last_event_id=rest[-1].id)
    await api.post(alice, one, "one 5")
    (event,) = await again.events(1)
    assert _seq(event) == (one, 6)
    # `?after=` resumes one conversation.
    after = await streams.open(server, bob, conversation_id=two, after=3)
    assert [_seq(e)[1] for e in await after.events(2)] == [4, 5]


async def test_a_conversation_joined_mid_stream_is_in_and_a_removed_member_gets_member_removed_last(
    server: Server, api: Api, streams: Streams
) -> None:
    alice, bob, carol = await api.signup(), await api.signup(), await api.signup()
    conv = await api.group(alice, [carol], "later")
    await api.post(alice, conv, "before bob")
    stream = await streams.open(server, bob)
    single_alive = await streams.open(server, carol, conversation_id=conv)
    r = await api.http.post(
        f"/api/v1/conversations/{conv}/members", headers=alice.headers, json={"user_id": bob.id}
    )
    assert r.status_code == 201, r.text
    await api.post(alice, conv, "welcome bob")
    added, welcome = await stream.events(2)
    assert added.event == "member.added" and added.json()["member"]["user_id"] == bob.id
    assert welcome.json()["message"]["body"] == "welcome bob"
    assert welcome.id == f"{conv}:3"
    # Bob is removed: member.removed is the last event he gets from it.
    r = await api.http.delete(
        f"/api/v1/conversations/{conv}/members/{bob.id}", headers=alice.headers
    )
    assert r.status_code == 204, r.text
    await api.post(alice, conv, "after bob")
    other = await api.group(alice, [bob], "still here")
    await api.post(alice, other, "marker")
    removed, marker = await stream.events(2)
    assert removed.event == "member.removed" and removed.json()["member"]["user_id"] == bob.id
    assert marker.json()["message"]["body"] == "marker"
    # Carol, removed from the one conversation she follows: member.removed, then the end.
    r = await api.http.delete(
        f"/api/v1/conversations/{conv}/members/{carol.id}", headers=alice.headers
    )
    assert r.status_code == 204, r.text
    events: list[SseEvent] = []
    while (event := await single_alive.next()) is not None:
        events.append(event)
    assert [e.event for e in events] == [
        "member.added",
        "message.new",
        "member.removed",
        "message.new",
        "member.removed",
        "stream.end",
    ]
    assert events[-2].json()["member"]["user_id"] == carol.id
    assert events[-1].json()["reason"] == "member_removed"


async def test_resume_after_being_removed_and_added_elsewhere_while_away(
    server: Server, api: Api, streams: Streams
) -> None:
    alice, bob = await api.signup(), await api.signup()
    left = await api.group(alice, [bob], "left")
    stream = await streams.open(server, bob)
    await api.post(alice, left, "seen")
    (seen,) = await stream.events(1)
    await stream.aclose()
    # While bob is away: removed from one conversation, added to an older one, and a
    # member of a new one.
    await api.post(alice, left, "before removal")
    r = await api.http.delete(
        f"/api/v1/conversations/{left}/members/{bob.id}", headers=alice.headers
    )
    assert r.status_code == 204, r.text
    await api.post(alice, left, "after removal")
    older = await api.group(alice, [], "older")
    await api.post(alice, older, "before bob joined")
    r = await api.http.post(
        f"/api/v1/conversations/{older}/members", headers=alice.headers, json={"user_id": bob.id}
    )
    assert r.status_code == 201, r.text
    await api.post(alice, older, "bob is in")
    new = await api.group(alice, [bob], "new")
    await api.post(alice, new, "hello new")
    resumed = await streams.open(server, bob, last_event_id=seen.id)
    events = await resumed.events(2 + 2 + 1)
    got: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for event in events:
        conversation, seq = _seq(event)
        got[conversation].append((seq, event.event))
    assert got == {
        # Up to his removal, nothing after it.
        left: [(2, "message.new"), (3, "member.removed")],
        # From the event that added him.
        older: [(2, "member.added"), (3, "message.new")],
        # A founding member: from its start.
        new: [(1, "message.new")],
    }
    # Resuming from the last cursor: quiet in the conversation he left, on in the others.
    again = await streams.open(server, bob, last_event_id=events[-1].id)
    await api.post(alice, left, "still not for bob")
    await api.post(alice, older, "for bob")
    (event,) = await again.events(1)
    assert _seq(event) == (older, 4)


async def test_a_revoked_session_ends_the_stream(
    server: Server, api: Api, streams: Streams
) -> None:
    alice = await api.signup()
    r = await api.http.post(
        "/api/v1/auth/token", data={"username": alice.username, "password": PASSWORD}
    )
    pair = r.json()
    me = User(alice.id, alice.username, pair["access_token"])
    stream = await streams.open(server, me)
    r = await api.http.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 204, r.text
    end = await stream.next()
    assert end is not None and end.event == "stream.end"
    assert end.json()["reason"] == "session_revoked"
    assert await stream.next() is None
    # And the token no longer opens one.
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await SseStream.open(server.base_url, me.token)
    assert refused.value.response.status_code == 401


async def test_the_stream_ends_when_its_token_expires_and_resumes_with_a_fresh_one(
    server: Server, api: Api, streams: Streams
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    short, _ = security.issue_token(
        key=SECRET, subject=uuid.UUID(bob.id), token_type="access", ttl_seconds=2
    )
    stream = await streams.open(server, User(bob.id, bob.username, short), conversation_id=conv)
    await api.post(alice, conv, "in time")
    (seen,) = await stream.events(1)
    end = await stream.next(timeout=8)
    assert end is not None and end.event == "stream.end"
    assert end.json()["reason"] == "token_expired"
    assert await stream.next() is None
    await api.post(alice, conv, "after expiry")
    resumed = await streams.open(server, bob, last_event_id=seen.id)
    (event,) = await resumed.events(1)
    assert _seq(event) == (conv, 2)


async def test_keep_alive_comments_arrive_while_nothing_happens(
    server: Server, api: Api, streams: Streams
) -> None:
    alice = await api.signup()
    stream = await streams.open(server, alice)
    comment = await stream.next(timeout=KEEPALIVE * 6, comments=True)
    assert comment is not None and comment.event == "comment" and comment.data == "keep-alive"


async def test_bad_requests_get_a_status_and_a_code(server: Server, api: Api) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [])
    http = api.http

    async def answer(headers: dict[str, str], **params: Any) -> tuple[int, str]:
        r = await http.get(STREAM, headers=headers, params=params)
        return r.status_code, r.json().get("code")

    assert await answer({}) == (401, "not_authenticated")
    assert (await answer({"Authorization": "Bearer nope"}))[0] == 401
    assert await answer(bob.headers, conversation_id=conv) == (404, "conversation_not_found")
    assert await answer(alice.headers, conversation_id=str(uuid.uuid4())) == (
        404,
        "conversation_not_found",
    )
    assert await answer(alice.headers, after=3) == (400, "after_needs_conversation_id")
    for bad in (
        "7",
        "x:1",
        f"{conv}:-1",
        f"{conv}:1x",
        f"{conv}:99999999999",
        f"{conv}:1,{conv}:2",
    ):
        headers = {**alice.headers, "Last-Event-ID": bad}
        assert await answer(headers) == (400, "invalid_last_event_id"), bad
    other = {**alice.headers, "Last-Event-ID": f"{uuid.uuid4()}:3"}
    assert await answer(other, conversation_id=conv) == (400, "invalid_last_event_id")


class StalledStream:
    """An event stream on a plain socket with a small receive buffer that reads nothing
    until told to (an HTTP client library would keep draining the socket)."""

    def __init__(self, port: int, token: str, last_event_id: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(
            f"GET {STREAM} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nLast-Event-ID: {last_event_id}\r\n\r\n".encode()
        )

    def read_all(self, timeout: float) -> list[SseEvent]:
        """Everything up to the end of the response (a chunked body), as events."""
        self.sock.settimeout(timeout)
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.sock.recv(65536)
        head, _, data = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower(), head
        body = b""
        while True:
            while b"\r\n" not in data:
                data += self.sock.recv(65536)
            size_line, _, data = data.partition(b"\r\n")
            size = int(size_line, 16)
            while len(data) < size + 2:
                data += self.sock.recv(65536)
            body, data = body + data[:size], data[size + 2 :]
            if size == 0:
                break
        self.sock.close()
        events = []
        for block in body.decode().replace("\r\n", "\n").split("\n\n"):
            fields = dict(
                line.split(": ", 1) for line in block.splitlines() if line and line[0] != ":"
            )
            if "event" in fields:
                events.append(SseEvent(fields["event"], fields.get("data", ""), fields.get("id")))
        return events


async def test_a_stream_that_falls_behind_is_ended_and_resumes_with_nothing_lost(
    server: Server, api: Api, request: pytest.FixtureRequest
) -> None:
    alice, slow = await api.signup(), await api.signup()
    conv = await api.group(alice, [slow])
    # From the conversation's start, whenever the server sets the stream up.
    stalled = StalledStream(server.port, slow.token, last_event_id=f"{conv}:0")
    request.addfinalizer(stalled.sock.close)
    total = 300
    body = "\U0001f600" * 3900  # 16 KB events: the kernel's buffers fill sooner
    for i in range(total):
        await api.post(alice, conv, f"{i} {body}")
    events = await asyncio.to_thread(stalled.read_all, 30)
    assert events[-1].event == "stream.end" and events[-1].json()["reason"] == "too_slow"
    got = events[:-1]
    assert [_seq(e)[1] for e in got] == list(range(1, len(got) + 1)) and len(got) < total
    resumed = await SseStream.open(server.base_url, slow.token, last_event_id=got[-1].id)
    try:
        rest = await resumed.events(total - len(got), timeout=20)
    finally:
        await resumed.aclose()
    assert [_seq(e)[1] for e in got + rest] == list(range(1, total + 1))


async def test_a_stream_read_through_a_server_restart_gets_every_seq_exactly_once(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> None:
    backend = BACKENDS[-1]
    workdir = tmp_path_factory.mktemp("sse-restart")
    if backend != "sqlite":
        await prepare_postgres()
    srv = Server(workdir, _env(workdir, fresh_database_url(backend, workdir, sqlite_template)))
    await asyncio.to_thread(srv.start)
    api = Api(srv.base_url)
    total = 40
    got: dict[str, list[int]] = defaultdict(list)
    reconnects = 0
    try:
        alice, bob = await api.signup(), await api.signup()
        convs = [await api.group(alice, [bob], "a"), await api.group(alice, [bob], "b")]
        started = asyncio.Event()
        progress = asyncio.Event()

        async def read() -> None:
            nonlocal reconnects
            last_id: str | None = None
            while sum(map(len, got.values())) < total:
                try:
                    stream = await SseStream.open(srv.base_url, bob.token, last_event_id=last_id)
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)  # the server is restarting: retry interval
                    continue
                started.set()
                try:
                    while sum(map(len, got.values())) < total:
                        event = await stream.next(timeout=30)
                        if event is None or event.event == "stream.end":
                            break
                        conversation, seq = _seq(event)
                        got[conversation].append(seq)
                        last_id = event.id
                        progress.set()
                except httpx.HTTPError:
                    pass  # the server went away mid-read
                finally:
                    await stream.aclose()
                reconnects += 1

        async def post_all() -> None:
            for i in range(total):
                body = {"body": f"m{i}", "client_id": f"c{i}"}
                while True:
                    try:
                        r = await api.http.post(
                            f"/api/v1/conversations/{convs[i % 2]}/messages",
                            headers=alice.headers,
                            json=body,
                        )
                        if r.status_code in (200, 201):
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)  # the server is restarting: retry interval

        reader = asyncio.create_task(read())
        await asyncio.wait_for(started.wait(), 10)
        poster = asyncio.create_task(post_all())
        await asyncio.wait_for(progress.wait(), 10)
        # Killed mid-stream while messages keep coming, then back on the same database.
        await asyncio.to_thread(srv.kill)
        await asyncio.to_thread(srv.start)
        await asyncio.wait_for(poster, 60)
        await asyncio.wait_for(reader, 60)
    finally:
        await api.aclose()
        srv.stop()
    assert reconnects >= 1
    for conv in convs:
        assert got[conv] == list(range(1, total // 2 + 1)), got


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="needs TEST_DATABASE_URL and REDIS_URL")
async def test_a_message_sent_on_one_instance_reaches_a_stream_on_another(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    await prepare_postgres()
    assert PG_URL
    prefix = f"chatapi-sse-{uuid.uuid4().hex[:10]}"
    servers = []
    for name in ("a", "b"):
        workdir = tmp_path_factory.mktemp(f"sse-cluster-{name}")
        servers.append(
            Server(workdir, server_env(workdir, PG_URL, redis_url=REDIS_URL, redis_prefix=prefix))
        )
    try:
        for srv in servers:
            await asyncio.to_thread(srv.start)
        a, b = servers
        async with Api(a.base_url) as api:
            alice, bob = await api.signup(), await api.signup()
            conv = await api.group(alice, [bob])
            stream = await SseStream.open(b.base_url, bob.token, conversation_id=conv)
            try:
                sent = await api.post(alice, conv, "across instances")
                (event,) = await stream.events(1)
            finally:
                await stream.aclose()
        assert event.json()["message"]["id"] == sent["id"]
        assert event.id == f"{conv}:1"
    finally:
        for srv in servers:
            srv.stop()
