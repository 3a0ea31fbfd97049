"""Closing an account hands its groups on: where it was the last owner, the
longest-standing admin, else member, becomes owner; it leaves its groups and stays in
its direct conversations."""

from __future__ import annotations

from typing import Any

import httpx

from helpers import Account, Signup

CONV = "/api/v1/conversations"


async def _group(client: httpx.AsyncClient, owner: Account, *members: Account) -> str:
    r = await client.post(
        CONV,
        headers=owner.headers,
        json={"kind": "group", "title": "g", "member_ids": [m.id for m in members]},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _add(
    client: httpx.AsyncClient, conv: str, owner: Account, who: Account, role: str = "member"
) -> None:
    r = await client.post(
        f"{CONV}/{conv}/members", headers=owner.headers, json={"user_id": who.id, "role": role}
    )
    assert r.status_code == 201, r.text


async def _roles(client: httpx.AsyncClient, conv: str, who: Account) -> dict[str, str]:
    r = await client.get(f"{CONV}/{conv}/members", headers=who.headers)
    assert r.status_code == 200, r.text
    return {m["user"]["id"]: m["role"] for m in r.json()}


async def _events(client: httpx.AsyncClient, conv: str, who: Account) -> list[dict[str, Any]]:
    r = await client.get(f"{CONV}/{conv}/events", headers=who.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


async def test_a_deleted_last_owner_hands_each_group_on(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob, carol, dave, erin, frank = [await signup() for _ in range(6)]
    # Bob is the only admin: he succeeds, though carol joined before him.
    with_admin = await _group(client, alice, carol)
    await _add(client, with_admin, alice, bob, role="admin")
    # No admin: the longest-standing member succeeds.
    members_only = await _group(client, alice, dave)
    await _add(client, members_only, alice, erin)
    # Another owner is left: nobody is promoted.
    co_owned = await _group(client, alice, frank)
    r = await client.patch(
        f"{CONV}/{co_owned}/members/{frank.id}", headers=alice.headers, json={"role": "owner"}
    )
    assert r.status_code == 200
    direct = await client.post(
        CONV, headers=alice.headers, json={"kind": "direct", "member_ids": [bob.id]}
    )
    assert direct.status_code == 201
    before = {c: len(await _events(client, c, m)) for c, m in
              ((with_admin, bob), (members_only, dave), (co_owned, frank))}  # fmt: skip

    r = await client.delete("/api/v1/users/me", headers=alice.headers)
    assert r.status_code == 204

    assert await _roles(client, with_admin, bob) == {bob.id: "owner", carol.id: "member"}
    assert await _roles(client, members_only, dave) == {dave.id: "owner", erin.id: "member"}
    assert await _roles(client, co_owned, frank) == {frank.id: "owner"}
    for conv, viewer, heir in ((with_admin, bob, bob), (members_only, dave, dave)):
        new = (await _events(client, conv, viewer))[before[conv] :]
        assert [(e["type"], e["actor_id"]) for e in new] == [
            ("member.role_changed", None),
            ("member.removed", alice.id),
        ]
        assert new[0]["member"] == {"user_id": heir.id, "role": "owner", "user": None}
        assert new[1]["member"]["user_id"] == alice.id
    new = (await _events(client, co_owned, frank))[before[co_owned] :]
    assert [e["type"] for e in new] == ["member.removed"]
    # The direct conversation keeps both, and its history.
    r = await client.get(f"{CONV}/{direct.json()['id']}", headers=bob.headers)
    assert r.status_code == 200 and r.json()["members_count"] == 2
