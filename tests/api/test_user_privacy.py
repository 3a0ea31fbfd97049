"""Presence (online, last seen) is shown only to the person and to people who share a
conversation with them; anyone else sees `online: false`, `last_seen_at: null`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from chatapi.services import users
from helpers import Account, Signup


async def _seen(app: FastAPI, who: Account, *, online: bool) -> datetime:
    state = app.state.chat
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with state.uow() as uow:
        await users.record_last_seen(uow, user_ids=[uuid.UUID(who.id)], at=at)
        await uow.commit()
    if online:
        await state.presence.connected(uuid.UUID(who.id))
    return at


async def test_presence_is_shown_to_self_and_co_members_only(
    app: FastAPI, client: httpx.AsyncClient, signup: Signup
) -> None:
    bob, friend, stranger = await signup(), await signup(), await signup()
    r = await client.post(
        "/api/v1/conversations", headers=friend.headers,
        json={"kind": "direct", "member_ids": [bob.id]},
    )  # fmt: skip
    assert r.status_code == 201
    await _seen(app, bob, online=True)

    def presence(body: dict[str, object]) -> tuple[object, object]:
        return body["online"], body["last_seen_at"]

    for viewer in (bob, friend):
        r = await client.get(f"/api/v1/users/{bob.id}", headers=viewer.headers)
        assert presence(r.json()) == (True, "2026-01-02T03:04:05Z"), viewer
        r = await client.get("/api/v1/users", headers=viewer.headers, params={"q": bob.username})
        assert [presence(u) for u in r.json()] == [(True, "2026-01-02T03:04:05Z")]
    r = await client.get(f"/api/v1/users/{bob.id}", headers=stranger.headers)
    assert r.status_code == 200
    assert r.json()["username"] == bob.username
    assert presence(r.json()) == (False, None)
    r = await client.get("/api/v1/users", headers=stranger.headers, params={"q": bob.username})
    assert [(u["id"], presence(u)) for u in r.json()] == [(bob.id, (False, None))]


async def test_search_mixes_visible_and_hidden_presence(
    app: FastAPI, client: httpx.AsyncClient, signup: Signup
) -> None:
    stem = f"p{uuid.uuid4().hex[:6]}"
    me, mate, other = await signup(f"{stem}a"), await signup(f"{stem}b"), await signup(f"{stem}c")
    r = await client.post(
        "/api/v1/conversations", headers=me.headers,
        json={"kind": "group", "title": "t", "member_ids": [mate.id]},
    )  # fmt: skip
    assert r.status_code == 201
    for who in (me, mate, other):
        await _seen(app, who, online=True)
    r = await client.get("/api/v1/users", headers=me.headers, params={"q": stem})
    shown = {u["username"]: u["online"] for u in r.json()}
    assert shown == {me.username: True, mate.username: True, other.username: False}
