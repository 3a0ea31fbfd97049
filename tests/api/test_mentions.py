"""@mentions: parsed once on send and on edit, stored on the message, counted per member
as `unread_mentions` in the conversation list."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from helpers import CONV, Account, Signup, group


async def send(
    client: httpx.AsyncClient, who: Account, conv: dict[str, Any], body: str, **extra: Any
) -> dict[str, Any]:
    r = await client.post(
        f"{CONV}/{conv['id']}/messages", headers=who.headers, json={"body": body, **extra}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def listed(client: httpx.AsyncClient, who: Account, conv: dict[str, Any]) -> dict[str, Any]:
    r = await client.get(CONV, headers=who.headers)
    assert r.status_code == 200, r.text
    return next(c for c in r.json() if c["id"] == conv["id"])


async def read_up_to(
    client: httpx.AsyncClient, who: Account, conv: dict[str, Any], seq: int
) -> None:
    r = await client.post(f"{CONV}/{conv['id']}/read", headers=who.headers, json={"seq": seq})
    assert r.status_code == 204, r.text


async def test_send_stores_mentions_of_members_only(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b, c, outsider = await signup(), await signup(), await signup(), await signup()
    conv = await group(client, a, b, c)
    msg = await send(
        client,
        a,
        conv,
        f"hi @{c.username.upper()} and @{b.username}, not @{outsider.username} nor @nobody42;"
        f" again @{b.username}.",
    )
    assert msg["mentions"] == [c.id, b.id]
    assert msg["mentions_all"] is False
    r = await client.get(f"{CONV}/{conv['id']}/messages", headers=b.headers)
    assert r.json()[0]["mentions"] == [c.id, b.id]


async def test_code_and_email_addresses_mention_nobody(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    body = f"`@{b.username}`\n```\n@{b.username}\n```\nmail me@{b.username}.example.org"
    msg = await send(client, a, conv, body)
    assert msg["mentions"] == [] and msg["body"] == body


async def test_mentions_sent_by_the_client_are_ignored(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    msg = await send(client, a, conv, "no names here", mentions=[b.id], mentions_all=True)
    assert msg["mentions"] == [] and msg["mentions_all"] is False
    assert (await listed(client, b, conv))["unread_mentions"] == 0


async def test_message_new_frame_carries_the_mentions(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    frames: list[bytes] = []
    app.state.chat.broker.subscribe(lambda envelope: frames.append(envelope.frame))
    await send(client, a, conv, f"@{b.username} look")
    event = orjson.loads(frames[-1])
    assert event["type"] == "message.new"
    assert event["message"]["mentions"] == [b.id]


async def test_edit_recomputes_mentions(client: httpx.AsyncClient, signup: Signup) -> None:
    a, b, c = await signup(), await signup(), await signup()
    conv = await group(client, a, b, c)
    msg = await send(client, a, conv, f"ping @{b.username}")
    assert (await listed(client, b, conv))["unread_mentions"] == 1
    r = await client.patch(
        f"/api/v1/messages/{msg['id']}", headers=a.headers, json={"body": f"ping @{c.username}"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["mentions"] == [c.id]
    assert (await listed(client, b, conv))["unread_mentions"] == 0
    assert (await listed(client, c, conv))["unread_mentions"] == 1
    r = await client.get(f"{CONV}/{conv['id']}/events?after_seq=0", headers=b.headers)
    assert [e["message"]["mentions"] for e in r.json()] == [[c.id], [c.id]]


async def test_anyone_may_mention_all_in_a_small_group(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b, c = await signup(), await signup(), await signup()
    conv = await group(client, a, b, c)
    msg = await send(client, b, conv, "@all standup in 5")
    assert msg["mentions_all"] is True and msg["mentions"] == []
    assert (await listed(client, a, conv))["unread_mentions"] == 1
    assert (await listed(client, c, conv))["unread_mentions"] == 1
    assert (await listed(client, b, conv))["unread_mentions"] == 0


async def test_only_managers_mention_all_in_a_big_group(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    owner = await signup()
    others = list(await asyncio.gather(*(signup() for _ in range(10))))
    conv = await group(client, owner, *others)  # 11 members
    admin, member = others[0], others[1]
    r = await client.patch(
        f"{CONV}/{conv['id']}/members/{admin.id}", headers=owner.headers, json={"role": "admin"}
    )
    assert r.status_code < 300, r.text
    plain = await send(client, member, conv, "@all anyone?")
    assert plain["mentions_all"] is False and plain["body"] == "@all anyone?"
    assert (await listed(client, owner, conv))["unread_mentions"] == 0
    assert (await send(client, admin, conv, "@all release today"))["mentions_all"] is True
    assert (await send(client, owner, conv, "@all thanks"))["mentions_all"] is True
    assert (await listed(client, member, conv))["unread_mentions"] == 2


async def test_all_is_no_mention_in_a_direct_chat(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    r = await client.post(CONV, headers=a.headers, json={"kind": "direct", "member_ids": [b.id]})
    conv = r.json()
    msg = await send(client, a, conv, "@all hello")
    assert msg["mentions_all"] is False
    assert (await send(client, a, conv, f"@{b.username} hello"))["mentions"] == [b.id]
    assert (await listed(client, b, conv))["unread_mentions"] == 1


async def test_unread_mentions_drop_on_read_and_skip_deleted_and_own(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    first = await send(client, a, conv, f"@{b.username} one")
    await send(client, a, conv, "no mention")
    third = await send(client, a, conv, f"@{b.username} three")
    await send(client, b, conv, f"@{b.username} talking to myself")
    row = await listed(client, b, conv)
    assert (row["unread_count"], row["unread_mentions"]) == (3, 2)
    r = await client.delete(f"/api/v1/messages/{third['id']}", headers=a.headers)
    assert r.status_code == 204
    row = await listed(client, b, conv)
    assert (row["unread_count"], row["unread_mentions"]) == (2, 1)
    await read_up_to(client, b, conv, first["seq"])
    row = await listed(client, b, conv)
    assert (row["unread_count"], row["unread_mentions"]) == (1, 0)
    r = await client.get(f"{CONV}/{conv['id']}/messages", headers=b.headers)
    deleted = next(m for m in r.json() if m["id"] == third["id"])
    assert deleted["mentions"] == [] and deleted["deleted"] is True


async def test_a_refused_message_stores_no_mention(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    r = await client.post(
        f"{CONV}/{conv['id']}/messages",
        headers=a.headers,
        json={"body": f"@{b.username} " + "x" * 4000},
    )
    assert r.status_code == 422 and r.json()["code"] == "body_too_long"
    row = await listed(client, b, conv)
    assert (row["unread_count"], row["unread_mentions"], row["last_seq"]) == (0, 0, 0)
    msg = await send(client, a, conv, f"@{b.username} hi")
    r = await client.patch(f"/api/v1/messages/{msg['id']}", headers=a.headers, json={"body": "   "})
    assert r.status_code == 422 and r.json()["code"] == "empty_message"
    r = await client.get(f"{CONV}/{conv['id']}/messages", headers=b.headers)
    assert r.json()[0]["mentions"] == [b.id]
