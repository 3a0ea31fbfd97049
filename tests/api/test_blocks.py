"""Blocking a person, and message requests: what the blocked person can no longer do,
what the blocker still sees, and how a direct chat from a stranger arrives."""

from __future__ import annotations

from typing import Any

import httpx

from helpers import CONV, Account, Signup, group

BLOCKS = "/api/v1/users/me/blocks"


async def direct(client: httpx.AsyncClient, who: Account, other: Account) -> httpx.Response:
    return await client.post(
        CONV, headers=who.headers, json={"kind": "direct", "member_ids": [other.id]}
    )


async def block(client: httpx.AsyncClient, who: Account, other: Account) -> dict[str, Any]:
    r = await client.put(f"{BLOCKS}/{other.id}", headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def send(
    client: httpx.AsyncClient, who: Account, conv_id: str, body: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"{CONV}/{conv_id}/messages", headers=who.headers, json={"body": body, **extra}
    )


async def last_seq(client: httpx.AsyncClient, who: Account, conv_id: str) -> int:
    r = await client.get(f"{CONV}/{conv_id}", headers=who.headers)
    assert r.status_code == 200, r.text
    return int(r.json()["last_seq"])


async def test_a_blocked_person_cannot_open_a_direct_chat(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, mallory = await signup(), await signup()
    await block(client, alice, mallory)
    r = await direct(client, mallory, alice)
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "blocked"
    r = await client.get(CONV, headers=alice.headers)
    assert r.json() == []


async def test_a_blocked_person_cannot_add_the_blocker_to_a_group(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, mallory, carol = await signup(), await signup(), await signup()
    await block(client, alice, mallory)
    r = await client.post(
        CONV,
        headers=mallory.headers,
        json={"kind": "group", "title": "trap", "member_ids": [carol.id, alice.id]},
    )
    assert r.status_code == 403 and r.json()["code"] == "blocked", r.text
    conv = await group(client, mallory, carol)
    r = await client.post(
        f"{CONV}/{conv['id']}/members", headers=mallory.headers, json={"user_id": alice.id}
    )
    assert r.status_code == 403 and r.json()["code"] == "blocked", r.text
    # Someone else may still add her to that group.
    await client.patch(
        f"{CONV}/{conv['id']}/members/{carol.id}", headers=mallory.headers, json={"role": "admin"}
    )
    r = await client.post(
        f"{CONV}/{conv['id']}/members", headers=carol.headers, json={"user_id": alice.id}
    )
    assert r.status_code == 201, r.text


async def test_a_blocked_persons_direct_message_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, mallory = await signup(), await signup()
    await group(client, alice, mallory)  # they know each other: no message request
    conv = (await direct(client, mallory, alice)).json()
    assert (await send(client, mallory, conv["id"], "hi")).status_code == 201
    await block(client, alice, mallory)
    r = await send(client, mallory, conv["id"], "let me in", client_id="c1")
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "blocked"
    assert await last_seq(client, alice, conv["id"]) == 1
    events = (await client.get(f"{CONV}/{conv['id']}/events", headers=alice.headers)).json()
    assert [e["message"]["body"] for e in events] == ["hi"]
    # The blocker cannot write into the chat either until she unblocks.
    r = await send(client, alice, conv["id"], "go away")
    assert r.status_code == 403 and r.json()["code"] == "you_blocked", r.text
    assert await last_seq(client, alice, conv["id"]) == 1


async def test_unblocking_restores_the_direct_chat(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    await group(client, alice, bob)
    conv = (await direct(client, bob, alice)).json()
    await block(client, alice, bob)
    assert (await send(client, bob, conv["id"], "hello?")).status_code == 403
    r = await client.delete(f"{BLOCKS}/{bob.id}", headers=alice.headers)
    assert r.status_code == 204
    r = await send(client, bob, conv["id"], "hello again")
    assert r.status_code == 201, r.text
    assert r.json()["seq"] == 1
    assert (await client.get(BLOCKS, headers=alice.headers)).json() == []


async def test_group_messages_of_a_blocked_person_are_still_delivered(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, mallory, carol = await signup(), await signup(), await signup()
    conv = await group(client, carol, alice, mallory)
    await block(client, alice, mallory)
    r = await send(client, mallory, str(conv["id"]), "still here")
    assert r.status_code == 201, r.text
    # Alice's client collapses it: it knows whom she blocked.
    blocked = (await client.get(BLOCKS, headers=alice.headers)).json()
    assert [b["user"]["id"] for b in blocked] == [mallory.id]


async def test_blocking_is_idempotent_listed_and_not_of_oneself(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob, carol = await signup(), await signup(), await signup()
    first = await block(client, alice, bob)
    again = await block(client, alice, bob)
    assert first["created_at"] == again["created_at"]
    await block(client, alice, carol)
    listed = (await client.get(BLOCKS, headers=alice.headers)).json()
    assert [b["user"]["username"] for b in listed] == [carol.username, bob.username]
    r = await client.put(f"{BLOCKS}/{alice.id}", headers=alice.headers)
    assert r.status_code == 422 and r.json()["code"] == "cannot_block_self"
    r = await client.put(f"{BLOCKS}/00000000-0000-0000-0000-000000000000", headers=alice.headers)
    assert r.status_code == 404 and r.json()["code"] == "user_not_found"
    # Bob never learns of it: his list is his own.
    assert (await client.get(BLOCKS, headers=bob.headers)).json() == []


# --- message requests -----------------------------------------------------------------


async def upload(client: httpx.AsyncClient, who: Account) -> str:
    r = await client.post(
        "/api/v1/media",
        headers=who.headers,
        files={"file": ("note.txt", b"hello there", "text/plain")},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_a_direct_chat_from_a_stranger_is_a_request_until_accepted(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, stranger = await signup(), await signup()
    conv = (await direct(client, stranger, alice)).json()
    assert conv["request"] is False  # the opener's side is a normal chat
    file_id = await upload(client, stranger)
    r = await send(client, stranger, conv["id"], "look", attachment_ids=[file_id])
    assert r.status_code == 201, r.text
    assert r.json()["attachments"]
    mine = (await client.get(f"{CONV}/{conv['id']}", headers=alice.headers)).json()
    assert mine["request"] is True
    assert mine["last_message"]["attachments"] == []
    assert mine["last_message"]["attachments_withheld"] is True
    page = (await client.get(f"{CONV}/{conv['id']}/messages", headers=alice.headers)).json()
    assert page[0]["body"] == "look"
    assert page[0]["attachments"] == [] and page[0]["attachments_withheld"] is True
    events = (await client.get(f"{CONV}/{conv['id']}/events", headers=alice.headers)).json()
    assert events[0]["message"]["attachments"] == []

    r = await client.post(f"{CONV}/{conv['id']}/accept", headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["request"] is False
    page = (await client.get(f"{CONV}/{conv['id']}/messages", headers=alice.headers)).json()
    assert page[0]["attachments"][0]["filename"] == "note.txt"
    assert page[0]["attachments_withheld"] is False


async def test_a_direct_chat_between_people_who_share_a_group_is_no_request(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    await group(client, alice, bob)
    conv = (await direct(client, bob, alice)).json()
    mine = (await client.get(f"{CONV}/{conv['id']}", headers=alice.headers)).json()
    assert mine["request"] is False


async def test_blocking_from_a_request_refuses_the_strangers_next_message(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, stranger = await signup(), await signup()
    conv = (await direct(client, stranger, alice)).json()
    assert (await send(client, stranger, conv["id"], "buy now")).status_code == 201
    await block(client, alice, stranger)
    r = await send(client, stranger, conv["id"], "buy now!!")
    assert r.status_code == 403 and r.json()["code"] == "blocked"
    assert await last_seq(client, alice, conv["id"]) == 1
