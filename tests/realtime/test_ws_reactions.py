"""Reactions and pins reach the other members' sockets live, and a client that lost its
connection to a killed server gets every one of them (and their removals) exactly once,
in seq order, from catch-up."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from helpers import eventually
from servers import Api, Receiver, Server, Sockets, User, server_env

pytestmark = pytest.mark.slow


def _server(workdir: Path, sqlite_template: Path) -> Server:
    db = workdir / "chatapi.db"
    shutil.copy(sqlite_template, db)
    env = server_env(workdir, f"sqlite+aiosqlite:///{db}", redis_url=None, redis_prefix="unused")
    return Server(workdir, env)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Server]:
    srv = _server(tmp_path_factory.mktemp("ws-reactions"), sqlite_template)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def api(server: Server) -> AsyncIterator[Api]:
    async with Api(server.base_url) as client:
        yield client


def reaction_path(message_id: str, emoji: str) -> str:
    return f"/api/v1/messages/{message_id}/reactions/{quote(emoji, safe='')}"


async def test_ws_reactions_and_pins_reach_the_other_member_live(
    sockets: Sockets, server: Server, api: Api
) -> None:
    alice, bob = await api.signup(), await api.signup()
    conv = await api.group(alice, [bob])
    a = await sockets.open(server.ws_url, alice.token)
    b = await sockets.open(server.ws_url, bob.token)
    msg = await api.post(alice, conv, "vote here")
    await b.expect("message.new", seq=1)
    r = await api.http.put(reaction_path(msg["id"], "👍"), headers=bob.headers)
    assert r.status_code == 200, r.text
    seen_by_alice = await a.expect("message.reaction", seq=2)
    seen_by_bob = await b.expect("message.reaction", seq=2)
    assert seen_by_alice["reaction"] == {
        "message_id": msg["id"],
        "emoji": "👍",
        "user_id": bob.id,
        "added": True,
    }
    # One frame for the room, `me` set for each recipient.
    assert seen_by_alice["message"]["reactions"] == [
        {"emoji": "👍", "count": 1, "user_ids": [bob.id], "me": False}
    ]
    assert seen_by_bob["message"]["reactions"][0]["me"] is True
    r = await api.http.put(f"/api/v1/conversations/{conv}/pins/{msg['id']}", headers=alice.headers)
    assert r.status_code == 200, r.text
    pinned = await b.expect("message.pinned", seq=3)
    assert pinned["actor_id"] == alice.id and pinned["message"]["pinned"] is True
    r = await api.http.delete(reaction_path(msg["id"], "👍"), headers=bob.headers)
    removed = await a.expect("message.reaction", seq=4)
    assert removed["reaction"]["added"] is False and removed["message"]["reactions"] == []
    # The body of a message that looks like a reaction is not rewritten.
    tricky = '"user_ids":[],"me":true'
    await api.post(alice, conv, tricky)
    assert (await b.expect("message.new", seq=5))["message"]["body"] == tricky


async def _until_done(server: Server, method: str, path: str, user: User) -> None:
    """A REST call, retried while the server is down (reactions and pins are idempotent,
    so a retry of one that did commit changes nothing)."""

    async def attempt() -> bool:
        try:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as http:
                r = await http.request(method, path, headers=user.headers)
        except httpx.TransportError:
            return False
        assert r.status_code in (200, 204), r.text
        return True

    await eventually(attempt, timeout=30, what=f"{method} {path} answered")


async def test_ws_sigkill_then_catch_up_replays_reactions_and_pins_once_in_order(
    tmp_path: Path, sqlite_template: Path
) -> None:
    own = _server(tmp_path, sqlite_template)
    own.start()
    try:
        async with Api(own.base_url) as api:
            alice, bob = await api.signup(), await api.signup()
            conv = await api.group(alice, [bob])
            msg = await api.post(alice, conv, "the plan")
        mid = msg["id"]
        pin = f"/api/v1/conversations/{conv}/pins/{mid}"
        steps: list[tuple[str, str, tuple[str, Any]]] = [
            ("PUT", reaction_path(mid, "👍"), ("message.reaction", ("👍", True))),
            ("PUT", reaction_path(mid, "🎉"), ("message.reaction", ("🎉", True))),
            ("PUT", pin, ("message.pinned", None)),
            ("DELETE", reaction_path(mid, "👍"), ("message.reaction", ("👍", False))),
            ("DELETE", pin, ("message.unpinned", None)),
            ("PUT", reaction_path(mid, "👍"), ("message.reaction", ("👍", True))),
            ("PUT", pin, ("message.pinned", None)),
            ("DELETE", reaction_path(mid, "🎉"), ("message.reaction", ("🎉", False))),
        ]
        receiver = Receiver([own], bob, conv)
        receiving = asyncio.create_task(receiver.run(until=1 + len(steps)))
        try:
            await eventually(lambda: receiver.last >= 1, what="the receiver saw the message")
            for i, (method, path, _) in enumerate(steps):
                if i == 3:
                    cut = receiver.interruptions
                    own.kill()
                    await eventually(
                        lambda cut=cut: receiver.interruptions > cut,
                        what="the receiver lost its connection to the killed server",
                    )
                    own.start()
                await _until_done(own, method, path, alice)
            await asyncio.wait_for(receiving, 30)
        finally:
            receiving.cancel()
        got = [
            (
                e["seq"],
                e["type"],
                (e["reaction"]["emoji"], e["reaction"]["added"]) if e["reaction"] else None,
            )
            for e in receiver.events
        ]
        assert got == [(1, "message.new", None)] + [
            (i + 2, kind, detail) for i, (_, _, (kind, detail)) in enumerate(steps)
        ]
        assert receiver.out_of_order == []
        # The timeline itself holds each change once.
        async with Api(own.base_url) as api:
            timeline = await api.events(bob, conv)
        assert [e["seq"] for e in timeline] == list(range(1, len(steps) + 2))
        final = timeline[-1]["message"]
        assert final["pinned"] is True
        assert [(x["emoji"], x["user_ids"]) for x in final["reactions"]] == [("👍", [alice.id])]
    finally:
        own.stop()
