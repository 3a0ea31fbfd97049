"""Quotas over REST: accounts per client address, messages per user, members added per
user, upload bytes per user and day, unattached uploads kept. Each refusal is a 429 with
its own code and a Retry-After, and a refused action costs nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest

from helpers import PG_URL, Account, Signup

REGISTER = "/api/v1/auth/register"
CONVERSATIONS = "/api/v1/conversations"
MEDIA = "/api/v1/media"
TEXT = b"plain text, " * 100  # 1,200 bytes of text/plain


def assert_429(r: httpx.Response, code: str) -> None:
    assert r.status_code == 429, r.text
    assert r.json()["code"] == code
    assert int(r.headers["retry-after"]) >= 1


def quota(**overrides: Any) -> Any:
    return pytest.mark.parametrize("settings_overrides", [overrides])


async def group(client: httpx.AsyncClient, owner: Account, *members: Account) -> str:
    r = await client.post(
        CONVERSATIONS,
        headers=owner.headers,
        json={"kind": "group", "title": "g", "member_ids": [m.id for m in members]},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def send(client: httpx.AsyncClient, who: Account, conv: str, body: str) -> httpx.Response:
    return await client.post(
        f"{CONVERSATIONS}/{conv}/messages", headers=who.headers, json={"body": body}
    )


async def upload(client: httpx.AsyncClient, who: Account, content: bytes = TEXT) -> httpx.Response:
    return await client.post(
        MEDIA, files={"file": ("notes.txt", content, "text/plain")}, headers=who.headers
    )


# --- registrations per client address -------------------------------------------------


@quota(register_rate_limit="3/hour")
async def test_registrations_per_address(client: httpx.AsyncClient) -> None:
    def new(name: str) -> dict[str, str]:
        return {"username": name, "password": "long enough password"}

    assert (await client.post(REGISTER, json=new("first"))).status_code == 201
    # A taken name creates nothing and costs nothing.
    assert (await client.post(REGISTER, json=new("FIRST"))).status_code == 409
    assert (await client.post(REGISTER, json=new("second"))).status_code == 201
    assert (await client.post(REGISTER, json=new("third"))).status_code == 201
    r = await client.post(REGISTER, json=new("fourth"))
    assert_429(r, "registration_rate_limited")
    assert int(r.headers["retry-after"]) > 3000  # the hour's window


@quota(register_rate_limit="3/hour")
async def test_parallel_registrations_create_at_most_the_quota(client: httpx.AsyncClient) -> None:
    answers = await asyncio.gather(
        *(
            client.post(REGISTER, json={"username": f"par{i}", "password": "long enough"})
            for i in range(12)
        )
    )
    assert Counter(r.status_code for r in answers) == {201: 3, 429: 9}


# --- messages per user (REST; WebSocket in test_quotas_realtime.py) --------------------


@quota(message_rate_limit="3/minute")
async def test_messages_per_user(client: httpx.AsyncClient, signup: Signup) -> None:
    alice, bob = await signup(), await signup()
    conv = await group(client, alice, bob)
    for i in range(3):
        assert (await send(client, alice, conv, f"m{i}")).status_code == 201
    r = await send(client, alice, conv, "one too many")
    assert_429(r, "message_rate_limited")
    # Someone else's quota is their own; and the refused message was not stored.
    assert (await send(client, bob, conv, "hi")).status_code == 201
    history = await client.get(f"{CONVERSATIONS}/{conv}/messages", headers=bob.headers)
    assert [m["body"] for m in history.json()] == ["m0", "m1", "m2", "hi"]


@quota(message_rate_limit="5/minute")
async def test_parallel_sends_store_at_most_the_quota(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    conv = await group(client, alice)
    answers = await asyncio.gather(*(send(client, alice, conv, f"m{i}") for i in range(20)))
    assert Counter(r.status_code for r in answers) == {201: 5, 429: 15}


# --- members added to groups per user -------------------------------------------------


@quota(member_add_rate_limit="3/hour")
async def test_members_added_per_user(client: httpx.AsyncClient, signup: Signup) -> None:
    alice = await signup()
    others = [await signup() for _ in range(5)]
    conv = await group(client, alice, others[0], others[1])  # 2 of 3
    # A refused add (already a member) costs nothing.
    r = await client.post(
        f"{CONVERSATIONS}/{conv}/members", headers=alice.headers, json={"user_id": others[0].id}
    )
    assert r.status_code == 409
    r = await client.post(
        f"{CONVERSATIONS}/{conv}/members", headers=alice.headers, json={"user_id": others[2].id}
    )
    assert r.status_code == 201, r.text  # 3 of 3
    r = await client.post(
        f"{CONVERSATIONS}/{conv}/members", headers=alice.headers, json={"user_id": others[3].id}
    )
    assert_429(r, "member_add_rate_limited")
    r = await client.post(
        CONVERSATIONS,
        headers=alice.headers,
        json={"kind": "group", "title": "more", "member_ids": [others[4].id]},
    )
    assert_429(r, "member_add_rate_limited")
    # Direct chats and groups of one add nobody.
    r = await client.post(
        CONVERSATIONS, headers=alice.headers, json={"kind": "direct", "member_ids": [others[4].id]}
    )
    assert r.status_code == 201
    assert (await group(client, alice)) is not None


@quota(member_add_rate_limit="3/hour")
async def test_a_group_larger_than_the_quota_is_refused_whole(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    others = [await signup() for _ in range(4)]
    r = await client.post(
        CONVERSATIONS,
        headers=alice.headers,
        json={"kind": "group", "title": "big", "member_ids": [o.id for o in others]},
    )
    assert_429(r, "member_add_rate_limited")
    assert "more than the 3 allowed" in r.json()["detail"]
    listed = await client.get(CONVERSATIONS, headers=alice.headers)
    assert listed.json() == []


# --- upload bytes per user and day ----------------------------------------------------


@quota(upload_bytes_per_day=3000)
async def test_upload_bytes_per_day(client: httpx.AsyncClient, signup: Signup) -> None:
    alice, bob = await signup(), await signup()
    assert (await upload(client, alice)).status_code == 201  # 1,200
    # A refused file type gives its bytes back.
    r = await upload(client, alice, b"\x7fELF" + bytes(1500))
    assert r.status_code == 415
    assert (await upload(client, alice)).status_code == 201  # 2,400
    r = await upload(client, alice)  # 3,600 > 3,000
    assert_429(r, "upload_quota_exceeded")
    assert int(r.headers["retry-after"]) > 80000  # the day's window
    assert (await upload(client, alice, b"small text")).status_code == 201
    assert (await upload(client, bob)).status_code == 201


@quota(upload_bytes_per_day=3000)
async def test_upload_over_the_day_quota_is_refused_before_reading(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    head = b'--bnd\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
    r = await client.post(
        MEDIA,
        content=head + b"x" * 10_000 + b"\r\n--bnd--\r\n",
        headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=bnd"},
    )
    assert_429(r, "upload_quota_exceeded")
    # The declared length was enough to refuse it; nothing of the day's quota is spent.
    assert (await upload(client, alice, TEXT * 2)).status_code == 201


# --- unattached uploads kept ----------------------------------------------------------


@quota(max_unattached_uploads=2)
async def test_unattached_uploads_are_capped(client: httpx.AsyncClient, signup: Signup) -> None:
    alice = await signup()
    conv = await group(client, alice)
    first = (await upload(client, alice)).json()
    assert (await upload(client, alice)).status_code == 201
    r = await upload(client, alice)
    assert_429(r, "too_many_unattached_uploads")
    assert 80000 < int(r.headers["retry-after"]) <= 86401  # when the oldest expires
    # Attaching one makes room for one more.
    r = await client.post(
        f"{CONVERSATIONS}/{conv}/messages",
        headers=alice.headers,
        json={"body": "", "attachment_ids": [first["id"]]},
    )
    assert r.status_code == 201, r.text
    assert (await upload(client, alice)).status_code == 201
    assert_429(await upload(client, alice), "too_many_unattached_uploads")


CAP = 3
PARALLEL_UPLOADS = 6
ROUNDS = 50


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs TEST_DATABASE_URL")
@quota(max_unattached_uploads=CAP)
async def test_parallel_uploads_never_pass_the_unattached_cap(
    backend: str, client: httpx.AsyncClient, signup: Signup
) -> None:
    if backend != "postgres":
        pytest.skip("a race test: PostgreSQL only")
    for round_ in range(ROUNDS):
        who = await signup(f"racer{round_}x{uuid.uuid4().hex[:6]}")
        answers = await asyncio.gather(*(upload(client, who) for _ in range(PARALLEL_UPLOADS)))
        statuses = Counter(r.status_code for r in answers)
        assert statuses == {201: CAP, 429: PARALLEL_UPLOADS - CAP}, f"round {round_}"
