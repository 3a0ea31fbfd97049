"""The WebSocket gateway refuses what it cannot store as clearly as REST does: NUL
characters and seqs past the database's integers are `validation_error` frames (the
socket stays open), on SQLite and PostgreSQL alike; a binary frame closes with 1003.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatapi.schemas import MAX_SEQ
from helpers import BACKENDS, fresh_database_url, prepare_postgres
from servers import Api, Client, Server, server_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=BACKENDS)
async def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> AsyncIterator[Server]:
    workdir = tmp_path_factory.mktemp(f"ws-hardening-{request.param}")
    if request.param == "postgres":
        await prepare_postgres()
    url = fresh_database_url(request.param, workdir, sqlite_template)
    srv = Server(workdir, server_env(workdir, url, redis_url=None, redis_prefix="unused"))
    await asyncio.to_thread(srv.start)
    yield srv
    srv.stop()


@pytest.fixture
async def api(server: Server) -> AsyncIterator[Api]:
    client = Api(server.base_url)
    yield client
    await client.aclose()


async def test_ws_nul_in_text_fields_is_a_validation_error(server: Server, api: Api) -> None:
    alice = await api.signup()
    conv = await api.group(alice, [])
    ws = await Client.open(server.ws_url, alice.token)
    for frame in (
        {"type": "message.send", "conversation_id": conv, "client_id": "c1", "body": "a\x00b"},
        {"type": "message.send", "conversation_id": conv, "client_id": "c\x002", "body": "hi"},
        {"type": "auth", "token": "x\x00y"},
    ):
        await ws.send(frame)
        error = await ws.expect("error")
        assert error["code"] == "validation_error", error
        assert "NUL" in error["detail"]
    # The socket is still open and still works; nothing was stored.
    await ws.send({"type": "message.send", "conversation_id": conv, "client_id": "ok", "body": "x"})
    ack = await ws.expect("message.ack")
    assert ack["message"]["seq"] == 1
    assert [e["message"]["body"] for e in await api.events(alice, conv)] == ["x"]
    await ws.aclose()


async def test_ws_seq_past_the_database_integers_is_a_validation_error(
    server: Server, api: Api
) -> None:
    alice = await api.signup()
    conv = await api.group(alice, [])
    await api.post(alice, conv, "one")
    ws = await Client.open(server.ws_url, alice.token)
    for kind in ("read", "delivered"):
        await ws.send({"type": kind, "conversation_id": conv, "seq": MAX_SEQ + 1})
        error = await ws.expect("error")
        assert error["code"] == "validation_error", error
    # The largest allowed seq is clamped to the timeline's end, like any other.
    await ws.send({"type": "read", "conversation_id": conv, "seq": MAX_SEQ})
    receipt = await ws.expect("receipt")
    assert (receipt["read_seq"], receipt["delivered_seq"]) == (1, 1)
    await ws.aclose()


async def test_ws_binary_frame_closes_with_1003(server: Server, api: Api) -> None:
    alice = await api.signup()
    ws = await Client.open(server.ws_url, alice.token)
    await ws.ws.send(b'{"type": "ping"}')
    assert await ws.closed() == 1003
    assert ws.ws.close_reason == "binary frames are not accepted"
    # Before authenticating too.
    ws = await Client.open(server.ws_url)
    await ws.ws.send(b"\x00\x01")
    assert await ws.closed() == 1003
