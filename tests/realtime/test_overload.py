"""Overload, with a real server on each database: the send queue is bounded
(SEND_QUEUE_MAX); a `message.send` beyond it gets an `error` frame `overloaded` carrying
its client_id at once, and every send the queue took is stored and acked. A socket reads
its next frames while its sends are being committed. The server's writes are held up by
a real database lock (helpers.sends_blocked), not a mock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from helpers import fresh_database_url, prepare_postgres, sends_blocked
from servers import Api, Server, Sockets, server_env

pytestmark = [pytest.mark.slow]

QUEUE = 2


@pytest.fixture
async def server(
    backend: str, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[tuple[Server, str]]:
    if backend == "postgres":
        await prepare_postgres()
    url = fresh_database_url(backend, tmp_path, sqlite_template)
    env = server_env(tmp_path, url, redis_url=None, redis_prefix="unused", send_queue_max=QUEUE)
    srv = Server(tmp_path, env)
    await asyncio.to_thread(srv.start)
    try:
        yield srv, url
    finally:
        srv.stop()


async def test_ws_send_beyond_the_full_queue_gets_overloaded_with_its_client_id(
    server: tuple[Server, str], sockets: Sockets
) -> None:
    srv, database_url = server
    api = Api(srv.base_url)
    try:
        alice, bob = await api.signup(), await api.signup()
        conv = await api.group(alice, [bob])
        # One send in flight per socket: QUEUE + 2 sockets fill the queue and overflow it.
        senders = [await sockets.open(srv.ws_url, alice.token) for _ in range(QUEUE + 2)]
        probe = await sockets.open(srv.ws_url, bob.token)

        def frame(i: int) -> dict[str, Any]:
            return {
                "type": "message.send",
                "conversation_id": conv,
                "client_id": f"m{i}",
                "body": f"m{i}",
            }

        async def settled() -> None:
            # A pong on another socket: the server has read, and queued, what came before.
            await probe.send({"type": "ping"})
            await probe.expect("pong")

        async with sends_blocked(database_url, conv):
            await senders[0].send(frame(0))  # taken by the group commit; waits for the lock
            await settled()
            for i in range(1, QUEUE + 1):
                await senders[i].send(frame(i))
            await settled()  # the queue is full
            await senders[-1].send(frame(QUEUE + 1))
            error = await senders[-1].expect("error")
            assert error["code"] == "overloaded"
            assert error["client_id"] == f"m{QUEUE + 1}"
        acks = [await s.expect("message.ack", timeout=15) for s in senders[:-1]]
        assert sorted(a["message"]["seq"] for a in acks) == list(range(1, QUEUE + 2))
        stored = [e["message"]["body"] for e in await api.events(alice, conv)]
        assert sorted(stored) == [f"m{i}" for i in range(QUEUE + 1)]
        # The refused sender's socket stays open and can send again.
        await senders[-1].send(frame(QUEUE + 1))
        again = await senders[-1].expect("message.ack")
        assert again["message"]["seq"] == QUEUE + 2
    finally:
        await api.aclose()


async def test_ws_socket_reads_on_while_its_sends_commit(
    server: tuple[Server, str], sockets: Sockets
) -> None:
    srv, database_url = server
    api = Api(srv.base_url)
    try:
        alice, bob = await api.signup(), await api.signup()
        conv = await api.group(alice, [bob])
        a = await sockets.open(srv.ws_url, alice.token)
        b = await sockets.open(srv.ws_url, bob.token)
        await a.send({"type": "typing", "conversation_id": conv, "state": "start"})
        await b.expect("typing", state="start")
        async with sends_blocked(database_url, conv):
            await a.send(
                {"type": "message.send", "conversation_id": conv, "client_id": "m", "body": "m"}
            )
            await a.send({"type": "ping"})
            await a.expect("pong")  # read and answered while the send waits for the lock
            await a.send({"type": "typing", "conversation_id": conv, "state": "start"})
        ack = await a.expect("message.ack", timeout=15)
        assert ack["client_id"] == "m" and ack["message"]["seq"] == 1
        # The message ended the typing it followed; the `start` sent after it goes on.
        await b.expect("message.new")
        assert await b.quiet(1.0, types=["typing"]) == []
    finally:
        await api.aclose()
