"""Calls over REST: the ICE servers with coturn's time-limited TURN credentials, the
calls running now, the configuration they need; and, on PostgreSQL, the races of a call
(two devices answering at once, two instances' sweepers ending one call)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import func, select, update

# src imports (module paths may move with the code under test)
from chatapi.errors import Conflict
from chatapi.models import Call, Event, User
from chatapi.services import calls
from helpers import PG_URL, SECRET, Account, Signup, make_settings

ICE = "/api/v1/calls/ice-servers"
TURN_SECRET = "coturn-static-auth-secret"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "stun_urls": "stun:stun.example.com:3478",
        "turn_urls": "turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349",
        "turn_secret": TURN_SECRET,
        "turn_ttl_seconds": 7200,
    }


async def test_ice_servers_carry_a_turn_credential_coturn_accepts_until_it_expires(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    before = int(time.time())
    r = await client.get(ICE, headers=alice.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    stun, turn = body["ice_servers"]
    assert stun == {"urls": ["stun:stun.example.com:3478"], "username": None, "credential": None}
    assert turn["urls"] == [
        "turn:turn.example.com:3478?transport=udp",
        "turns:turn.example.com:5349",
    ]
    expiry, user = turn["username"].split(":")
    assert user == alice.id
    assert before + 7200 <= int(expiry) <= int(time.time()) + 7200
    expected = hmac.new(TURN_SECRET.encode(), turn["username"].encode(), hashlib.sha1).digest()
    assert base64.b64decode(turn["credential"]) == expected
    assert datetime.fromisoformat(body["expires_at"]) == datetime.fromtimestamp(int(expiry), UTC)


async def test_ice_servers_need_a_signed_in_user(client: httpx.AsyncClient) -> None:
    r = await client.get(ICE)
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    r = await client.get("/api/v1/calls/active")
    assert r.status_code == 401


def test_turn_urls_without_a_secret_are_refused_at_start(tmp_path: Any) -> None:
    with pytest.raises(ValidationError, match="TURN_SECRET"):
        make_settings(tmp_path, "sqlite+aiosqlite://", turn_urls="turn:turn.example.com")
    with pytest.raises(ValidationError, match="stun:"):
        make_settings(tmp_path, "sqlite+aiosqlite://", stun_urls="http://stun.example.com")
    plain = make_settings(tmp_path, "sqlite+aiosqlite://")
    assert plain.call_ring_timeout_seconds == 45 and plain.call_rejoin_seconds == 30
    assert plain.turn_ttl_seconds > 0 and SECRET


def test_ice_servers_without_configuration_are_empty() -> None:
    user = User(id=uuid.uuid4(), username="a", display_name="a", password_hash="x")
    servers = calls.ice_servers(
        user=user, stun_urls=[], turn_urls=[], turn_secret=None, ttl_seconds=60
    )
    assert servers.ice_servers == []


# --- races (PostgreSQL) -----------------------------------------------------------------

ROUNDS = 20


async def _direct(client: httpx.AsyncClient, one: Account, other: Account) -> uuid.UUID:
    r = await client.post(
        "/api/v1/conversations",
        headers=one.headers,
        json={"kind": "direct", "member_ids": [other.id]},
    )
    assert r.status_code in (200, 201), r.text
    return uuid.UUID(r.json()["id"])


async def _user(app: FastAPI, account: Account) -> User:
    async with app.state.chat.read_uow() as uow:
        user = await uow.session.get(User, uuid.UUID(account.id))
        assert user is not None
        return user


@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")
async def test_two_devices_answering_at_once_one_wins(
    app: FastAPI, client: httpx.AsyncClient, signup: Signup
) -> None:
    state = app.state.chat
    policy = state.call_policy
    alice_account, bob_account = await signup(), await signup()
    conv = await _direct(client, alice_account, bob_account)
    alice, bob = await _user(app, alice_account), await _user(app, bob_account)
    for _ in range(ROUNDS):
        async with state.uow() as uow:
            call = await calls.invite(
                uow,
                user=alice,
                conversation_id=conv,
                connection_id=uuid.uuid4().hex,
                video=False,
                policy=policy,
            )
            await uow.commit()

        async def answer(device: str, call_id: uuid.UUID = call.id) -> str:
            try:
                async with state.uow() as uow:
                    await calls.accept(
                        uow,
                        user=bob,
                        call_id=call_id,
                        connection_id=device,
                        video=False,
                        policy=policy,
                    )
                    await uow.commit()
            except Conflict as exc:
                return exc.code
            return "won"

        results = await asyncio.gather(answer("phone" + uuid.uuid4().hex), answer("laptop"))
        assert sorted(results) == ["call_answered_elsewhere", "won"], results
        async with state.uow() as uow:
            await calls.hangup(uow, user=alice, call_id=call.id)
            await uow.commit()
    async with state.read_uow() as uow:
        ended = await uow.session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "call.ended")
        )
    assert ended == ROUNDS


@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")
async def test_sweepers_of_several_instances_end_an_overdue_call_once(
    app: FastAPI, client: httpx.AsyncClient, signup: Signup
) -> None:
    state = app.state.chat
    policy = state.call_policy
    alice_account, bob_account = await signup(), await signup()
    conv = await _direct(client, alice_account, bob_account)
    alice = await _user(app, alice_account)
    for _ in range(ROUNDS):
        async with state.uow() as uow:
            call = await calls.invite(
                uow,
                user=alice,
                conversation_id=conv,
                connection_id=uuid.uuid4().hex,
                video=True,
                policy=policy,
            )
            await uow.commit()
        async with state.uow() as uow:
            past = datetime.now(UTC) - timedelta(seconds=1)
            await uow.session.execute(
                update(Call).where(Call.id == call.id).values(ring_until=past)
            )
            await uow.commit()
        ended = await asyncio.gather(*(calls.sweep(state.uow, policy) for _ in range(4)))
        assert sum(ended) == 1, ended
    async with state.read_uow() as uow:
        outcomes = (
            await uow.session.scalars(
                select(Event.data).where(Event.type == "call.ended", Event.conversation_id == conv)
            )
        ).all()
    assert len(outcomes) == ROUNDS
    assert {o["outcome"] for o in outcomes if o} == {"missed"}
