"""Closing an account hands its groups on: where it was the last owner, the
longest-standing admin, else member, becomes owner; it leaves its groups and stays in
its direct conversations."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx

from helpers import PASSWORD, Account, Signup

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

    r = await client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=alice.headers
    )
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


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def _close(client: httpx.AsyncClient, who: Account, password: str | None) -> httpx.Response:
    body = {"password": password} if password is not None else None
    return await client.request("DELETE", "/api/v1/users/me", json=body, headers=who.headers)


async def test_closing_an_account_needs_its_password(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    for password, code in ((None, "password_required"), ("not my password", "wrong_password")):
        r = await _close(client, alice, password)
        assert (r.status_code, r.json()["code"]) == (403, code)
    assert (await client.get("/api/v1/users/me", headers=alice.headers)).status_code == 200
    assert (await _close(client, alice, PASSWORD)).status_code == 204
    assert (await client.get("/api/v1/users/me", headers=alice.headers)).status_code == 401


async def test_a_closed_accounts_text_stays_its_files_go_and_its_profile_is_cleared(
    app: Any, client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    r = await client.patch(
        "/api/v1/users/me", json={"email": "alice@example.com"}, headers=alice.headers
    )
    assert r.status_code == 200
    conv = await _group(client, alice, bob)
    r = await client.post(f"{CONV}/{conv}/messages", headers=alice.headers, json={"body": "hi"})
    text_id = r.json()["id"]
    upload = await client.post(
        "/api/v1/media", headers=alice.headers, files={"file": ("p.png", _png(), "image/png")}
    )
    r = await client.post(
        f"{CONV}/{conv}/messages",
        headers=alice.headers,
        json={"body": "look", "attachment_ids": [upload.json()["id"]]},
    )
    with_file = r.json()
    link = with_file["attachments"][0]["url"]
    spare = await client.post(  # uploaded, never sent
        "/api/v1/media", headers=alice.headers, files={"file": ("q.png", _png(), "image/png")}
    )
    media_dir = app.state.chat.settings.resolved_media_dir
    stored_before = sum(1 for p in media_dir.rglob("*") if p.is_file())
    assert spare.status_code == 201 and stored_before >= 2
    seen_until = len(await _events(client, conv, bob))

    assert (await _close(client, alice, PASSWORD)).status_code == 204

    messages = {
        m["id"]: m
        for m in (await client.get(f"{CONV}/{conv}/messages", headers=bob.headers)).json()
    }
    assert messages[text_id]["body"] == "hi" and not messages[text_id]["deleted"]
    assert messages[with_file["id"]]["deleted"] and messages[with_file["id"]]["attachments"] == []
    new = [(e["type"], (e.get("message") or {}).get("id")) for e in
           (await _events(client, conv, bob))[seen_until:]]  # fmt: skip
    assert new[0] == ("message.deleted", with_file["id"])
    assert (await client.get(link)).status_code == 404
    assert not any(p.is_file() for p in media_dir.rglob("*") if "tmp" not in p.parts)
    # The profile is cleared: the name others see, the e-mail address (free again).
    async with app.state.chat.uow() as uow:
        from chatapi.models import User

        row = await uow.session.get(User, uuid.UUID(alice.id))
        assert row is not None
        assert (row.display_name, row.email) == ("Deleted account", None)
    carol = await signup()
    r = await client.patch(
        "/api/v1/users/me", json={"email": "alice@example.com"}, headers=carol.headers
    )
    assert r.status_code == 200
