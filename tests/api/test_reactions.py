"""Reactions and pinned messages over REST: who may do what, idempotency, the timeline
events they number, and what every message read shows."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

# src imports (module paths may move with the code under test)
from chatapi.models import Pin, Reaction
from helpers import CONV, Account, Signup, group

THUMBS = "👍"


def reaction_url(message: dict[str, Any], emoji: str) -> str:
    return f"/api/v1/messages/{message['id']}/reactions/{quote(emoji, safe='')}"


def pin_url(conv: dict[str, Any], message: dict[str, Any]) -> str:
    return f"{CONV}/{conv['id']}/pins/{message['id']}"


async def post(client: httpx.AsyncClient, who: Account, conv: dict[str, Any], body: str) -> Any:
    r = await client.post(f"{CONV}/{conv['id']}/messages", headers=who.headers, json={"body": body})
    assert r.status_code == 201, r.text
    return r.json()


async def events(client: httpx.AsyncClient, who: Account, conv: dict[str, Any]) -> list[Any]:
    r = await client.get(f"{CONV}/{conv['id']}/events", headers=who.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


async def history(client: httpx.AsyncClient, who: Account, conv: dict[str, Any]) -> list[Any]:
    r = await client.get(f"{CONV}/{conv['id']}/messages", headers=who.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


async def rows(app: FastAPI, model: type[Any]) -> int:
    async with app.state.chat.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)


async def test_reactions_aggregate_with_who_and_me_in_history_and_catch_up(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    msg = await post(client, a, conv, "lunch?")
    r = await client.put(reaction_url(msg, THUMBS), headers=a.headers)
    assert r.status_code == 200, r.text
    assert r.json()["reactions"] == [{"emoji": THUMBS, "count": 1, "user_ids": [a.id], "me": True}]
    r = await client.put(reaction_url(msg, THUMBS), headers=b.headers)
    r = await client.put(reaction_url(msg, "🎉"), headers=b.headers)
    assert r.status_code == 200
    [seen] = await history(client, a, conv)
    assert seen["reactions"] == [
        {"emoji": THUMBS, "count": 2, "user_ids": [a.id, b.id], "me": True},
        {"emoji": "🎉", "count": 1, "user_ids": [b.id], "me": False},
    ]
    [seen_by_b] = await history(client, b, conv)
    assert [x["me"] for x in seen_by_b["reactions"]] == [True, True]
    timeline = await events(client, b, conv)
    assert [(e["seq"], e["type"]) for e in timeline] == [
        (1, "message.new"),
        (2, "message.reaction"),
        (3, "message.reaction"),
        (4, "message.reaction"),
    ]
    assert timeline[3]["reaction"] == {
        "message_id": msg["id"],
        "emoji": "🎉",
        "user_id": b.id,
        "added": True,
    }
    assert timeline[3]["member"] is None
    # Catch-up shows the message as it stands now, with the reader's own `me`.
    assert timeline[1]["message"]["reactions"] == seen_by_b["reactions"]


async def test_reacting_is_idempotent_and_removal_is_an_event(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    msg = await post(client, a, conv, "hi")
    for _ in range(2):
        r = await client.put(reaction_url(msg, THUMBS), headers=b.headers)
        assert r.status_code == 200
    assert await rows(app, Reaction) == 1
    for _ in range(2):
        r = await client.delete(reaction_url(msg, THUMBS), headers=b.headers)
        assert r.status_code == 200 and r.json()["reactions"] == []
    assert await rows(app, Reaction) == 0
    timeline = await events(client, a, conv)
    assert [(e["type"], e["reaction"] and e["reaction"]["added"]) for e in timeline] == [
        ("message.new", None),
        ("message.reaction", True),
        ("message.reaction", False),
    ]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("👍🏽", "👍🏽"),
        ("👨‍👩‍👧", "👨‍👩‍👧"),
        ("🇫🇷", "🇫🇷"),
        ("❤", "❤️"),
        (":thumbsup:", THUMBS),
        (":tada:", "🎉"),
    ],
)
async def test_one_emoji_or_a_known_shortcode_is_stored_as_the_emoji(
    client: httpx.AsyncClient, signup: Signup, given: str, stored: str
) -> None:
    a = await signup()
    b = await signup()
    conv = await group(client, a, b)
    msg = await post(client, a, conv, "hi")
    r = await client.put(reaction_url(msg, given), headers=a.headers)
    assert r.status_code == 200, r.text
    assert [x["emoji"] for x in r.json()["reactions"]] == [stored]


@pytest.mark.parametrize(
    "given", ["a", "lol", "👍👍", "👍 ", ":no_such_shortcode:", "<b>", "x" * 40, "\u200d"]
)
async def test_anything_but_one_emoji_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI, given: str
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    msg = await post(client, a, conv, "hi")
    r = await client.put(reaction_url(msg, given), headers=a.headers)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_emoji"
    assert await rows(app, Reaction) == 0
    assert len(await events(client, a, conv)) == 1


async def test_reactions_on_a_deleted_message_are_refused_and_deletion_drops_them(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    msg = await post(client, a, conv, "soon gone")
    await client.put(reaction_url(msg, THUMBS), headers=b.headers)
    r = await client.delete(f"/api/v1/messages/{msg['id']}", headers=a.headers)
    assert r.status_code == 204
    assert await rows(app, Reaction) == 0
    r = await client.put(reaction_url(msg, "🎉"), headers=b.headers)
    assert r.status_code == 422 and r.json()["code"] == "message_deleted"
    assert await rows(app, Reaction) == 0
    [seen] = await history(client, b, conv)
    assert seen["deleted"] is True and seen["reactions"] == []


async def test_non_members_get_404_for_reactions_and_pins(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    a, b, stranger = await signup(), await signup(), await signup()
    conv = await group(client, a, b)
    msg = await post(client, a, conv, "private")
    r = await client.put(reaction_url(msg, THUMBS), headers=stranger.headers)
    assert r.status_code == 404 and r.json()["code"] == "message_not_found"
    r = await client.put(pin_url(conv, msg), headers=stranger.headers)
    assert r.status_code == 404 and r.json()["code"] == "conversation_not_found"
    r = await client.get(f"{CONV}/{conv['id']}/pins", headers=stranger.headers)
    assert r.status_code == 404 and r.json()["code"] == "conversation_not_found"
    assert await rows(app, Reaction) == 0 and await rows(app, Pin) == 0


async def test_managers_pin_and_plain_members_get_403(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    owner, admin, member = await signup(), await signup(), await signup()
    conv = await group(client, owner, admin, member)
    r = await client.patch(
        f"{CONV}/{conv['id']}/members/{admin.id}", headers=owner.headers, json={"role": "admin"}
    )
    assert r.status_code == 200, r.text
    first = await post(client, member, conv, "first")
    second = await post(client, member, conv, "second")
    r = await client.put(pin_url(conv, first), headers=member.headers)
    assert r.status_code == 403 and r.json()["code"] == "not_allowed"
    assert await rows(app, Pin) == 0
    r = await client.put(pin_url(conv, first), headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.json()["message"]["pinned"] is True and r.json()["pinned_by"] == owner.id
    r = await client.put(pin_url(conv, second), headers=admin.headers)
    assert r.status_code == 200
    r = await client.put(pin_url(conv, second), headers=admin.headers)  # idempotent
    assert r.status_code == 200
    r = await client.get(f"{CONV}/{conv['id']}/pins", headers=member.headers)
    assert [p["message"]["body"] for p in r.json()] == ["second", "first"]  # newest first
    r = await client.delete(pin_url(conv, first), headers=member.headers)
    assert r.status_code == 403
    for _ in range(2):
        r = await client.delete(pin_url(conv, first), headers=admin.headers)
        assert r.status_code == 204
    r = await client.get(f"{CONV}/{conv['id']}/pins", headers=member.headers)
    assert [p["message"]["body"] for p in r.json()] == ["second"]
    types = [e["type"] for e in await events(client, member, conv)]
    assert types[-3:] == ["message.pinned", "message.pinned", "message.unpinned"]
    [one, two] = await history(client, member, conv)
    assert (one["pinned"], two["pinned"]) == (False, True)


async def test_either_person_pins_in_a_direct_chat(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    r = await client.post(CONV, headers=a.headers, json={"kind": "direct", "member_ids": [b.id]})
    conv = r.json()
    msg = await post(client, a, conv, "remember this")
    r = await client.put(pin_url(conv, msg), headers=b.headers)
    assert r.status_code == 200, r.text
    r = await client.delete(pin_url(conv, msg), headers=a.headers)
    assert r.status_code == 204


async def test_a_deleted_message_loses_its_pin_and_cannot_be_pinned(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    msg = await post(client, a, conv, "pinned then deleted")
    assert (await client.put(pin_url(conv, msg), headers=a.headers)).status_code == 200
    assert (await client.delete(f"/api/v1/messages/{msg['id']}", headers=a.headers)).status_code
    r = await client.get(f"{CONV}/{conv['id']}/pins", headers=b.headers)
    assert r.json() == []
    last = (await events(client, b, conv))[-1]
    assert last["type"] == "message.deleted" and last["message"]["pinned"] is False
    r = await client.put(pin_url(conv, msg), headers=a.headers)
    assert r.status_code == 422 and r.json()["code"] == "message_deleted"
    assert await rows(app, Pin) == 0


async def test_pin_names_a_message_of_that_conversation(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    here, there = await group(client, a, b), await group(client, a, b, title="Other")
    msg = await post(client, a, there, "elsewhere")
    r = await client.put(pin_url(here, msg), headers=a.headers)
    assert r.status_code == 404 and r.json()["code"] == "message_not_found"


@pytest.mark.parametrize("settings_overrides", [{"reaction_rate_limit": "2/minute"}])
async def test_reactions_are_rate_limited(client: httpx.AsyncClient, signup: Signup) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    msg = await post(client, a, conv, "hi")
    for emoji in (THUMBS, "🎉"):
        assert (await client.put(reaction_url(msg, emoji), headers=a.headers)).status_code == 200
    r = await client.put(reaction_url(msg, "😀"), headers=a.headers)
    assert r.status_code == 429 and r.json()["code"] == "reaction_rate_limited"
    assert "Retry-After" in r.headers
    assert len((await history(client, a, conv))[0]["reactions"]) == 2
