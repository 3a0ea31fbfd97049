"""Muting a conversation: per person, kept on the server (every device sees it), for a
while or until unmuted; only members may."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from helpers import Account, Signup

CONV = "/api/v1/conversations"


async def _summary(client: httpx.AsyncClient, who: Account, conv: str) -> dict[str, object]:
    r = await client.get(f"{CONV}/{conv}", headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.parametrize(
    ("choice", "hours"), [("1h", 1), ("8h", 8), ("1w", 24 * 7), ("always", None)]
)
async def test_a_mute_lasts_as_chosen_and_is_yours_alone(
    client: httpx.AsyncClient, signup: Signup, choice: str, hours: int | None
) -> None:
    alice, bob = await signup(), await signup()
    r = await client.post(
        CONV, headers=alice.headers, json={"kind": "direct", "member_ids": [bob.id]}
    )
    conv = r.json()["id"]
    before = datetime.now(UTC)
    r = await client.patch(f"{CONV}/{conv}/settings", json={"mute": choice}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["muted"] is True
    mine = await _summary(client, alice, conv)
    assert mine["muted"] is True
    if hours is None:
        assert mine["muted_until"] is None and r.json()["muted_until"] is None
    else:
        until = datetime.fromisoformat(str(mine["muted_until"]))
        assert (
            before + timedelta(hours=hours) <= until <= datetime.now(UTC) + timedelta(hours=hours)
        )
    # In the list too (another device of alice's reads it from there); bob's is untouched.
    listed = {c["id"]: c for c in (await client.get(CONV, headers=alice.headers)).json()}
    assert listed[conv]["muted"] is True
    assert (await _summary(client, bob, conv))["muted"] is False
    r = await client.patch(f"{CONV}/{conv}/settings", json={"mute": "off"}, headers=alice.headers)
    assert r.json() == {"muted": False, "muted_until": None}
    assert (await _summary(client, alice, conv))["muted"] is False


async def test_only_members_mute_and_only_known_choices(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob, eve = await signup(), await signup(), await signup()
    r = await client.post(
        CONV, headers=alice.headers, json={"kind": "direct", "member_ids": [bob.id]}
    )
    conv = r.json()["id"]
    r = await client.patch(f"{CONV}/{conv}/settings", json={"mute": "1h"}, headers=eve.headers)
    assert r.status_code == 404
    for bad in ({"mute": "2h"}, {"mute": None}, {}):
        r = await client.patch(f"{CONV}/{conv}/settings", json=bad, headers=alice.headers)
        assert r.status_code == 422, bad


async def test_a_mute_ends_by_itself(
    app: object, client: httpx.AsyncClient, signup: Signup
) -> None:
    from sqlalchemy import update

    from chatapi.models import Member

    alice, bob = await signup(), await signup()
    r = await client.post(
        CONV, headers=alice.headers, json={"kind": "direct", "member_ids": [bob.id]}
    )
    conv = r.json()["id"]
    await client.patch(f"{CONV}/{conv}/settings", json={"mute": "1h"}, headers=alice.headers)
    async with app.state.chat.uow() as uow:  # type: ignore[attr-defined]
        await uow.session.execute(  # an hour and a minute later
            update(Member).values(muted_until=datetime.now(UTC) - timedelta(minutes=1))
        )
        await uow.commit()
    summary = await _summary(client, alice, conv)
    assert (summary["muted"], summary["muted_until"]) == (False, None)
