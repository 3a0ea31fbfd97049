"""Message search: full text over the messages a user may read, newest first, in pages."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from alembic import command

from chatapi.cli import alembic_config
from chatapi.services import search
from chatapi.settings import Settings
from helpers import CONV, Account, Signup, group

SEARCH = "/api/v1/search/messages"


async def _send(client: httpx.AsyncClient, who: Account, conv: str, body: str) -> dict[str, Any]:
    r = await client.post(f"{CONV}/{conv}/messages", headers=who.headers, json={"body": body})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _search(client: httpx.AsyncClient, who: Account, **params: Any) -> dict[str, Any]:
    r = await client.get(SEARCH, headers=who.headers, params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _bodies(client: httpx.AsyncClient, who: Account, q: str, **params: Any) -> list[str]:
    return [h["message"]["body"] for h in (await _search(client, who, q=q, **params))["hits"]]


async def test_search_finds_messages_newest_first_with_a_marked_snippet(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    conv = str((await group(client, alice, bob, title="Trips"))["id"])
    first = await _send(client, alice, conv, "The Lisbon trip is in May")
    await _send(client, bob, conv, "unrelated chatter")
    last = await _send(client, bob, conv, "Booked the flights to lisbon!")

    found = await _search(client, bob, q="LISBON")
    assert [h["message"]["id"] for h in found["hits"]] == [last["id"], first["id"]]
    hit = found["hits"][0]
    assert hit["conversation_id"] == conv and hit["seq"] == last["seq"]
    assert hit["snippet"] == [
        {"text": "Booked the flights to ", "match": False},
        {"text": "lisbon", "match": True},
        {"text": "!", "match": False},
    ]
    assert found["next_before"] is None
    # Every word must match, whole.
    assert await _bodies(client, alice, "lisbon flights") == ["Booked the flights to lisbon!"]
    assert await _bodies(client, alice, "lisbon june") == []
    assert await _bodies(client, alice, "lisb") == []


async def test_search_finds_only_the_callers_conversations(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob, mallory = await signup(), await signup(), await signup()
    ours = str((await group(client, alice, bob))["id"])
    theirs = str((await group(client, mallory))["id"])
    await _send(client, alice, ours, "the secret password is swordfish")
    await _send(client, mallory, theirs, "swordfish for dinner")

    assert await _bodies(client, bob, "swordfish") == ["the secret password is swordfish"]
    assert await _bodies(client, mallory, "swordfish") == ["swordfish for dinner"]
    # Asking in someone else's conversation: it does not exist.
    r = await client.get(
        SEARCH, headers=mallory.headers, params={"q": "swordfish", "conversation_id": ours}
    )
    assert r.status_code == 404 and r.json()["code"] == "conversation_not_found"
    assert await _bodies(client, alice, "swordfish", conversation_id=ours) == [
        "the secret password is swordfish"
    ]


async def test_a_former_member_finds_messages_up_to_their_departure_until_they_forget_it(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    conv = str((await group(client, alice, bob))["id"])
    await _send(client, alice, conv, "budget draft one")
    r = await client.delete(f"{CONV}/{conv}/members/{bob.id}", headers=bob.headers)
    assert r.status_code == 204
    await _send(client, alice, conv, "budget draft two, after bob left")

    assert await _bodies(client, bob, "budget") == ["budget draft one"]
    assert await _bodies(client, bob, "budget", conversation_id=conv) == ["budget draft one"]
    assert len(await _bodies(client, alice, "budget")) == 2

    r = await client.delete(f"{CONV}/{conv}/former", headers=bob.headers)
    assert r.status_code == 204
    assert await _bodies(client, bob, "budget") == []


async def test_deleted_messages_never_match_and_edits_match_by_their_new_text(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    conv = str((await group(client, alice, bob))["id"])
    gone = await _send(client, alice, conv, "pineapple pizza is great")
    edited = await _send(client, alice, conv, "see you at the cinema")
    assert (
        await client.delete(f"/api/v1/messages/{gone['id']}", headers=alice.headers)
    ).status_code == 204
    r = await client.patch(
        f"/api/v1/messages/{edited['id']}",
        headers=alice.headers,
        json={"body": "see you at the theatre"},
    )
    assert r.status_code == 200

    assert await _bodies(client, bob, "pineapple") == []
    assert await _bodies(client, bob, "cinema") == []
    assert await _bodies(client, bob, "theatre") == ["see you at the theatre"]


async def test_search_pages_with_the_cursor(client: httpx.AsyncClient, signup: Signup) -> None:
    alice = await signup()
    conv = str((await group(client, alice))["id"])
    for i in range(7):
        await _send(client, alice, conv, f"note number {i}")

    seen: list[str] = []
    before = None
    pages = 0
    while True:
        params: dict[str, Any] = {"q": "note", "limit": 3}
        if before:
            params["before"] = before
        page = await _search(client, alice, **params)
        seen += [h["message"]["body"] for h in page["hits"]]
        pages += 1
        before = page["next_before"]
        if before is None:
            break
    assert seen == [f"note number {i}" for i in reversed(range(7))]
    assert pages == 3

    r = await client.get(SEARCH, headers=alice.headers, params={"q": "note", "before": "bogus!"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    "q",
    [
        '"unterminated',
        "note*",
        "NEAR(note number)",
        "body:note",
        "note AND OR NOT",
        "-note",
        "(note",
        "note) OR (1=1",
        "'; DROP TABLE messages; --",
        "note ^ {x} [y] + ~",
    ],
)
async def test_query_syntax_is_plain_text(
    client: httpx.AsyncClient, signup: Signup, q: str
) -> None:
    alice = await signup()
    conv = str((await group(client, alice))["id"])
    await _send(client, alice, conv, "note number one")
    r = await client.get(SEARCH, headers=alice.headers, params={"q": q})
    assert r.status_code == 200, r.text
    assert all("note" in h["message"]["body"] for h in r.json()["hits"])


async def test_syntax_words_are_searched_as_words(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    conv = str((await group(client, alice))["id"])
    await _send(client, alice, conv, "rock AND roll, near the NOT sign")
    await _send(client, alice, conv, "rock music")
    assert await _bodies(client, alice, "rock AND") == ["rock AND roll, near the NOT sign"]
    assert await _bodies(client, alice, "near NOT") == ["rock AND roll, near the NOT sign"]


@pytest.mark.parametrize(
    ("q", "code"),
    [
        ("", "search_query_empty"),
        ("   ", "search_query_empty"),
        ("?!…—*\"'()-:", "search_query_empty"),
        ("x" * 1000, "search_query_too_long"),
    ],
)
async def test_unusable_queries_get_a_clear_422(
    client: httpx.AsyncClient, signup: Signup, q: str, code: str
) -> None:
    alice = await signup()
    r = await client.get(SEARCH, headers=alice.headers, params={"q": q})
    assert r.status_code == 422
    assert r.json()["code"] == code
    assert "SELECT" not in r.text and "MATCH" not in r.text


async def test_search_needs_a_token(client: httpx.AsyncClient) -> None:
    r = await client.get(SEARCH, params={"q": "x"})
    assert r.status_code == 401


async def test_history_around_a_seq_opens_the_conversation_at_a_message(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    conv = str((await group(client, alice))["id"])
    sent = [await _send(client, alice, conv, f"m{i}") for i in range(10)]
    target = sent[5]["seq"]
    r = await client.get(
        f"{CONV}/{conv}/messages", headers=alice.headers, params={"around_seq": target, "limit": 4}
    )
    assert r.status_code == 200
    assert [m["body"] for m in r.json()] == ["m3", "m4", "m5", "m6"]
    r = await client.get(
        f"{CONV}/{conv}/messages",
        headers=alice.headers,
        params={"around_seq": target, "before_seq": target},
    )
    assert r.status_code == 422 and r.json()["code"] == "conflicting_cursors"


async def test_the_migration_indexes_messages_stored_before_it(
    client: httpx.AsyncClient, signup: Signup, settings: Settings
) -> None:
    alice = await signup()
    conv = str((await group(client, alice))["id"])
    await _send(client, alice, conv, "written before search existed")
    config = alembic_config(settings)
    await asyncio.to_thread(command.downgrade, config, "7a3c1e5d9b20")  # type: ignore[arg-type]
    await asyncio.to_thread(command.upgrade, config, "head")  # type: ignore[arg-type]
    assert await _bodies(client, alice, "existed") == ["written before search existed"]


async def test_a_search_looks_at_a_bounded_number_of_matches_and_goes_on_with_the_cursor(
    client: httpx.AsyncClient, signup: Signup, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = await signup(), await signup()
    bobs = str((await group(client, bob))["id"])
    alices = str((await group(client, alice))["id"])
    await _send(client, bob, bobs, "apple pie recipe")
    for i in range(6):
        await _send(client, alice, alices, f"apple {i}")
    monkeypatch.setattr(search, "SCAN_MAX", 3)

    pages: list[list[str]] = []
    before = None
    while True:
        params: dict[str, Any] = {"q": "apple"} | ({"before": before} if before else {})
        page = await _search(client, bob, **params)
        pages.append([h["message"]["body"] for h in page["hits"]])
        before = page["next_before"]
        if before is None:
            break
    # Alice's six newest matches are looked at three a request, none of them shown.
    assert pages == [[], [], ["apple pie recipe"]]
