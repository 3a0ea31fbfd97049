"""Rules that must hold when requests race on PostgreSQL (SQLite serialises writers, so
these only run with TEST_DATABASE_URL). Each test runs many rounds of truly concurrent
transactions and checks the invariant from the database and the events endpoint."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from helpers import PG_URL, Account, Signup, elapse

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)"),
]

ROUNDS = 50
CONV = "/api/v1/conversations"


@pytest.fixture
def backend() -> str:
    return "postgres"


async def _group(client: httpx.AsyncClient, owner: Account, *members: Account) -> str:
    r = await client.post(
        CONV,
        headers=owner.headers,
        json={"kind": "group", "title": "race", "member_ids": [m.id for m in members]},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _events(client: httpx.AsyncClient, who: Account, conv: str) -> list[dict[str, Any]]:
    r = await client.get(
        f"{CONV}/{conv}/events", headers=who.headers, params={"after_seq": 0, "limit": 500}
    )
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), "seqs have a gap"
    return events


async def _owners(client: httpx.AsyncClient, who: Account, conv: str) -> list[str]:
    r = await client.get(f"{CONV}/{conv}/members", headers=who.headers)
    assert r.status_code == 200, r.text
    return [m["user"]["id"] for m in r.json() if m["role"] == "owner"]


async def test_no_send_commits_after_the_senders_removal(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    late = 0
    for n in range(ROUNDS):
        conv = await _group(client, alice, bob)

        async def send(i: int, conv: str = conv) -> int:
            r = await client.post(
                f"{CONV}/{conv}/messages", headers=bob.headers, json={"body": f"m{i}"}
            )
            assert r.status_code in (201, 404), r.text
            return r.status_code

        async def remove(conv: str = conv, delay: float = 0.002 * (n % 4)) -> None:
            await elapse(delay, "jitter: the removal lands among the sends")
            r = await client.delete(f"{CONV}/{conv}/members/{bob.id}", headers=alice.headers)
            assert r.status_code == 204, r.text

        results = await asyncio.gather(*(send(i) for i in range(6)), remove())
        events = await _events(client, alice, conv)
        removed = [e["seq"] for e in events if e["type"] == "member.removed"]
        assert len(removed) == 1
        after = [
            e
            for e in events
            if e["type"] == "message.new" and e["actor_id"] == bob.id and e["seq"] > removed[0]
        ]
        late += len(after)
        # Every accepted send is in the timeline, before the removal; refused ones left
        # nothing behind (no gap either: _events checks that).
        stored = [e for e in events if e["type"] == "message.new"]
        assert len(stored) == sum(1 for s in results if s == 201)
    assert late == 0, f"{late} messages committed after their sender's member.removed"


async def test_a_group_always_keeps_an_owner(client: httpx.AsyncClient, signup: Signup) -> None:
    alice, bob, carol = await signup(), await signup(), await signup()
    ownerless = 0
    for n in range(ROUNDS):
        conv = await _group(client, alice, bob, carol)
        r = await client.patch(
            f"{CONV}/{conv}/members/{bob.id}", headers=alice.headers, json={"role": "owner"}
        )
        assert r.status_code == 200, r.text
        if n % 2 == 0:  # the two owners demote each other at once
            replies = await asyncio.gather(
                client.patch(
                    f"{CONV}/{conv}/members/{bob.id}", headers=alice.headers, json={"role": "admin"}
                ),
                client.patch(
                    f"{CONV}/{conv}/members/{alice.id}", headers=bob.headers, json={"role": "admin"}
                ),
            )
            assert sorted(r.status_code for r in replies) in ([200, 409], [200, 403]), [
                r.text for r in replies
            ]
        else:  # the two owners leave at once
            replies = await asyncio.gather(
                client.delete(f"{CONV}/{conv}/members/{alice.id}", headers=alice.headers),
                client.delete(f"{CONV}/{conv}/members/{bob.id}", headers=bob.headers),
            )
            assert [r.status_code for r in replies] == [204, 204], [r.text for r in replies]
        owners = await _owners(client, carol, conv)
        ownerless += not owners
        events = await _events(client, carol, conv)
        roles = [e for e in events if e["type"] == "member.role_changed"]
        if n % 2 == 1:
            # Carol was promoted, exactly once, by the second owner to leave.
            assert owners == [carol.id] and roles[-1]["member"]["user_id"] == carol.id
    assert ownerless == 0, f"{ownerless} of {ROUNDS} groups were left without an owner"


async def test_an_edit_never_revives_a_deleted_message(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    conv = await _group(client, alice, bob)
    revived = 0
    for n in range(ROUNDS):
        r = await client.post(f"{CONV}/{conv}/messages", headers=alice.headers, json={"body": "v1"})
        assert r.status_code == 201, r.text
        message_id = r.json()["id"]
        edit = client.patch(
            f"/api/v1/messages/{message_id}", headers=alice.headers, json={"body": f"v2-{n}"}
        )
        delete = client.delete(f"/api/v1/messages/{message_id}", headers=alice.headers)
        edited, deleted = await asyncio.gather(edit, delete)
        assert deleted.status_code == 204, deleted.text
        assert edited.status_code in (200, 422), edited.text
        if edited.status_code == 422:
            assert edited.json()["code"] == "message_deleted"
        events = [e for e in await _events(client, bob, conv) if e["message"]]
        mine = [e for e in events if e["message"]["id"] == message_id]
        kinds = [e["type"] for e in mine]
        assert kinds[0] == "message.new" and kinds.count("message.deleted") == 1
        if kinds[-1] != "message.deleted":
            revived += 1
        history = await client.get(f"{CONV}/{conv}/messages", headers=bob.headers)
        stored = next(m for m in history.json() if m["id"] == message_id)
        assert stored["deleted"] is True and stored["body"] == "", stored
    assert revived == 0, f"{revived} edits were numbered after their message's deletion"
