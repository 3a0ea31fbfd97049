"""Former members: someone who left a group or was removed keeps read-only access to its
history up to their departure, and nothing after it."""

from __future__ import annotations

from typing import Any

import httpx

from helpers import CONV, Account, Signup, group


async def _send(client: httpx.AsyncClient, who: Account, conv: str, body: str) -> dict[str, Any]:
    r = await client.post(f"{CONV}/{conv}/messages", headers=who.headers, json={"body": body})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _bodies(client: httpx.AsyncClient, who: Account, conv: str) -> list[str]:
    r = await client.get(f"{CONV}/{conv}/messages", headers=who.headers)
    assert r.status_code == 200, r.text
    return [m["body"] for m in r.json()]


async def test_a_removed_member_reads_the_history_up_to_their_removal(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob, carol = await signup(), await signup(), await signup()
    conv = str((await group(client, alice, bob, carol, title="Plans"))["id"])
    base = f"{CONV}/{conv}"
    await _send(client, alice, conv, "before 1")
    await _send(client, carol, conv, "before 2")

    assert (
        await client.delete(f"{base}/members/{bob.id}", headers=alice.headers)
    ).status_code == 204
    await _send(client, alice, conv, "after")
    r = await client.patch(base, headers=alice.headers, json={"title": "Secret plans"})
    assert r.status_code == 200

    # The conversation, as it was when he was removed.
    me = (await client.get(base, headers=bob.headers)).json()
    assert me["title"] == "Plans"
    assert me["former"]["removed_by"]["id"] == alice.id
    left_seq = me["former"]["left_seq"]
    assert me["last_seq"] == left_seq
    assert me["last_message"]["body"] == "before 2"
    assert me["unread_count"] == 2

    # History and catch-up stop at his removal; its member.removed is the last event he sees.
    assert await _bodies(client, bob, conv) == ["before 1", "before 2"]
    events = (await client.get(f"{base}/events?after_seq=0", headers=bob.headers)).json()
    assert events[-1]["type"] == "member.removed" and events[-1]["seq"] == left_seq
    assert all(e["seq"] <= left_seq for e in events)
    assert (
        await client.get(f"{base}/events?after_seq={left_seq}", headers=bob.headers)
    ).json() == []

    # He cannot send, see who is in it now, or manage it.
    r = await client.post(f"{base}/messages", headers=bob.headers, json={"body": "hello?"})
    assert r.status_code == 404
    assert (await client.get(f"{base}/members", headers=bob.headers)).status_code == 404
    assert (await client.patch(base, headers=bob.headers, json={"title": "x"})).status_code == 404

    # Reading what he may read clears his unread count, never past his removal.
    r = await client.post(f"{base}/read", headers=bob.headers, json={"seq": 10_000})
    assert r.status_code == 204
    me = (await client.get(base, headers=bob.headers)).json()
    assert (me["unread_count"], me["last_read_seq"]) == (0, left_seq)
    # ...and nobody else hears of it: his marker is not among the members'.
    members = (await client.get(f"{base}/members", headers=alice.headers)).json()
    assert bob.id not in {m["user"]["id"] for m in members}


async def test_the_list_shows_former_conversations_only_when_asked(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    stays = str((await group(client, alice, bob, title="Stays"))["id"])
    left = str((await group(client, alice, bob, title="Left"))["id"])
    await _send(client, alice, left, "bye")
    r = await client.delete(f"{CONV}/{left}/members/{bob.id}", headers=bob.headers)
    assert r.status_code == 204

    plain = (await client.get(CONV, headers=bob.headers)).json()
    assert [c["id"] for c in plain] == [stays]
    assert plain[0]["former"] is None
    both = (await client.get(f"{CONV}?include_former=true", headers=bob.headers)).json()
    assert [c["id"] for c in both] == [left, stays]  # most recent first: he left just now
    assert both[0]["former"]["removed_by"] is None  # he left himself
    assert both[0]["last_message"]["body"] == "bye"
    # Paging with `before` keeps working over both kinds.
    r = await client.get(
        f"{CONV}?include_former=true&limit=1&before={both[0]['last_activity_at']}",
        headers=bob.headers,
    )
    assert [c["id"] for c in r.json()] == [stays]


async def test_forgetting_a_former_conversation_ends_read_access(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    conv = str((await group(client, alice, bob))["id"])
    base = f"{CONV}/{conv}"
    # Members leave; only former members forget.
    assert (await client.delete(f"{base}/former", headers=bob.headers)).status_code == 404
    await client.delete(f"{base}/members/{bob.id}", headers=alice.headers)
    assert (await client.delete(f"{base}/former", headers=bob.headers)).status_code == 204
    for path in (base, f"{base}/messages", f"{base}/events?after_seq=0"):
        r = await client.get(path, headers=bob.headers)
        assert (r.status_code, r.json()["code"]) == (404, "conversation_not_found"), path
    listed = (await client.get(f"{CONV}?include_former=true", headers=bob.headers)).json()
    assert listed == []
    assert (await client.delete(f"{base}/former", headers=bob.headers)).status_code == 404


async def test_added_back_a_former_member_reads_everything_again(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    conv = str((await group(client, alice, bob))["id"])
    base = f"{CONV}/{conv}"
    await client.delete(f"{base}/members/{bob.id}", headers=alice.headers)
    await _send(client, alice, conv, "while he was away")
    assert await _bodies(client, bob, conv) == []
    r = await client.post(f"{base}/members", headers=alice.headers, json={"user_id": bob.id})
    assert r.status_code == 201
    assert await _bodies(client, bob, conv) == ["while he was away"]
    me = (await client.get(base, headers=bob.headers)).json()
    assert me["former"] is None and me["my_role"] == "member"
    listed = (await client.get(f"{CONV}?include_former=true", headers=bob.headers)).json()
    assert [c["id"] for c in listed] == [conv]  # once, as a member


async def test_strangers_still_see_nothing(client: httpx.AsyncClient, signup: Signup) -> None:
    alice, bob, eve = await signup(), await signup(), await signup()
    conv = str((await group(client, alice, bob))["id"])
    for path in (f"{CONV}/{conv}", f"{CONV}/{conv}/messages", f"{CONV}/{conv}/events"):
        assert (await client.get(path, headers=eve.headers)).status_code == 404
    assert (await client.delete(f"{CONV}/{conv}/former", headers=eve.headers)).status_code == 404
