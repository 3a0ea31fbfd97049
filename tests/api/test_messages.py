"""Messages and the timeline: gapless seqs, idempotent sends, edits, deletes, history, catch-up."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import event

# src imports (module paths may move with the code under test)
from chatapi.realtime.envelope import Envelope
from helpers import CONV, Account, Signup, eventually, group, sends_blocked


def capture(app: FastAPI) -> list[Envelope]:
    """Every envelope the app's broker carries from now on."""
    seen: list[Envelope] = []
    app.state.chat.broker.subscribe(seen.append)
    return seen


async def send(
    client: httpx.AsyncClient, who: Account, conv: dict[str, Any], body: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"{CONV}/{conv['id']}/messages", headers=who.headers, json={"body": body, **extra}
    )


async def test_send_returns_message_and_announces_it_after_commit(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    seen = capture(app)
    r = await send(client, a, conv, "  hello  ", client_id="c-1")
    assert r.status_code == 201
    msg = r.json()
    assert msg["body"] == "hello" and msg["seq"] == 1 and msg["client_id"] == "c-1"
    assert msg["deleted"] is False and msg["attachments"] == [] and msg["edited_at"] is None
    assert [(e.kind, e.seq) for e in seen] == [("event", 1)]
    frame = seen[0].frame
    assert b'"type":"message.new"' in frame and b'"hello"' in frame


async def test_failed_transaction_publishes_nothing_and_keeps_seq(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    seen = capture(app)
    # The attachment check fails after the seq was taken and the event emitted: rollback.
    r = await send(client, a, conv, "with a bad file", attachment_ids=[str(uuid.uuid4())])
    assert r.status_code == 422
    assert seen == []
    r = await send(client, a, conv, "ok")
    assert r.json()["seq"] == 1
    assert [e.seq for e in seen] == [1]


async def test_service_rollback_drops_emitted_events(
    signup: Signup, app: FastAPI, client: httpx.AsyncClient
) -> None:
    # src imports (module paths may move with the code under test)
    from chatapi.services.messages.send import SendRequest, send_messages

    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    state = app.state.chat
    seen = capture(app)
    async with state.uow() as uow:
        request = SendRequest(uuid.UUID(a.id), uuid.UUID(str(conv["id"])), "never committed")
        await send_messages(uow, [request], signer=state.media_signer)
        assert len(uow.pending) == 1
        # Leaving the unit of work without committing rolls back.
    assert seen == []
    history = (await client.get(f"{CONV}/{conv['id']}/messages", headers=a.headers)).json()
    assert history == []


@pytest.mark.parametrize("body", ["", "   ", "x" * 4001])
async def test_body_validation(client: httpx.AsyncClient, signup: Signup, body: str) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    r = await send(client, a, conv, body)
    assert r.status_code == 422
    assert r.json()["code"] in {"empty_message", "body_too_long"}


async def test_body_of_4000_chars_after_trimming_is_accepted(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    r = await send(client, a, conv, "  " + "y" * 4000 + "\n")
    assert r.status_code == 201 and len(r.json()["body"]) == 4000


async def test_retry_with_same_client_id_returns_first_message(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    first = await send(client, a, conv, "once", client_id="abc")
    retry = await send(client, a, conv, "once (retry)", client_id="abc")
    assert first.status_code == 201 and retry.status_code == 200
    assert retry.json() == first.json()
    # Another sender may use the same client_id.
    other = await send(client, b, conv, "b's", client_id="abc")
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    history = (await client.get(f"{CONV}/{conv['id']}/messages", headers=a.headers)).json()
    assert [m["body"] for m in history] == ["once", "b's"]


async def test_concurrent_retries_store_one_message(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    results = await asyncio.gather(
        *(send(client, a, conv, "dup", client_id="same") for _ in range(20))
    )
    assert sorted(r.status_code for r in results) == [200] * 19 + [201]
    assert len({r.json()["id"] for r in results}) == 1
    events = (await client.get(f"{CONV}/{conv['id']}/events", headers=a.headers)).json()
    assert [e["seq"] for e in events] == [1]


async def test_200_concurrent_sends_get_seqs_1_to_200(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    people = [await signup() for _ in range(10)]
    conv = await group(client, people[0], *people[1:])
    results = await asyncio.gather(
        *(send(client, people[i % 10], conv, f"msg {i}", client_id=f"c{i}") for i in range(200))
    )
    assert all(r.status_code == 201 for r in results), {r.status_code for r in results}
    assert sorted(r.json()["seq"] for r in results) == list(range(1, 201))
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = (
            await client.get(
                f"{CONV}/{conv['id']}/events",
                headers=people[3].headers,
                params={"after_seq": after, "limit": 77},
            )
        ).json()
        if not page:
            break
        events += page
        after = page[-1]["seq"]
    assert [e["seq"] for e in events] == list(range(1, 201))
    assert all(e["type"] == "message.new" for e in events)
    assert {e["message"]["body"] for e in events} == {f"msg {i}" for i in range(200)}


async def test_reply_must_be_in_the_same_conversation(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    one, two = await group(client, a, b), await group(client, a, b)
    target = (await send(client, a, one, "original")).json()
    ok = await send(client, b, one, "reply", reply_to_id=target["id"])
    assert ok.status_code == 201 and ok.json()["reply_to_id"] == target["id"]
    bad = await send(client, b, two, "cross", reply_to_id=target["id"])
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_reply"


async def test_edit_is_for_the_sender(client: httpx.AsyncClient, signup: Signup) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    msg = (await send(client, a, conv, "typo")).json()
    r = await client.patch(f"/api/v1/messages/{msg['id']}", headers=b.headers, json={"body": "x"})
    assert r.status_code == 403
    r = await client.patch(
        f"/api/v1/messages/{msg['id']}", headers=a.headers, json={"body": "fixed"}
    )
    assert r.status_code == 200
    assert (
        r.json()["body"] == "fixed" and r.json()["edited_at"] is not None and r.json()["seq"] == 1
    )
    r = await client.patch(f"/api/v1/messages/{msg['id']}", headers=a.headers, json={"body": " "})
    assert r.status_code == 422
    events = (await client.get(f"{CONV}/{conv['id']}/events", headers=b.headers)).json()
    assert [(e["type"], e["seq"]) for e in events] == [("message.new", 1), ("message.edited", 2)]
    assert events[1]["message"]["body"] == "fixed"


async def test_delete_keeps_a_bodiless_tombstone(client: httpx.AsyncClient, signup: Signup) -> None:
    owner, admin, member = await signup(), await signup(), await signup()
    conv = await group(client, owner, admin, member)
    await client.patch(
        f"{CONV}/{conv['id']}/members/{admin.id}", headers=owner.headers, json={"role": "admin"}
    )
    m1 = (await send(client, member, conv, "secret one")).json()
    m2 = (await send(client, owner, conv, "owner's")).json()
    # A member cannot delete someone else's; an admin can.
    assert (
        await client.delete(f"/api/v1/messages/{m2['id']}", headers=member.headers)
    ).status_code == 403
    assert (
        await client.delete(f"/api/v1/messages/{m1['id']}", headers=admin.headers)
    ).status_code == 204
    assert (
        await client.delete(f"/api/v1/messages/{m1['id']}", headers=admin.headers)
    ).status_code == 204
    history = (await client.get(f"{CONV}/{conv['id']}/messages", headers=member.headers)).json()
    assert [(m["deleted"], m["body"]) for m in history] == [(True, ""), (False, "owner's")]
    events = (await client.get(f"{CONV}/{conv['id']}/events", headers=member.headers)).json()
    assert "secret one" not in str(events)
    assert events[-1]["type"] == "message.deleted"
    assert (
        await client.patch(
            f"/api/v1/messages/{m1['id']}", headers=member.headers, json={"body": "again"}
        )
    ).status_code == 422


async def test_direct_chat_partner_cannot_delete_your_message(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    conv = (
        await client.post(CONV, headers=a.headers, json={"kind": "direct", "member_ids": [b.id]})
    ).json()
    msg = (await send(client, a, conv, "mine")).json()
    assert (
        await client.delete(f"/api/v1/messages/{msg['id']}", headers=b.headers)
    ).status_code == 403


async def test_message_of_another_conversation_is_404(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b, outsider = await signup(), await signup(), await signup()
    conv = await group(client, a, b)
    msg = (await send(client, a, conv, "private")).json()
    for r in (
        await client.patch(
            f"/api/v1/messages/{msg['id']}", headers=outsider.headers, json={"body": "x"}
        ),
        await client.delete(f"/api/v1/messages/{msg['id']}", headers=outsider.headers),
        await client.delete(f"/api/v1/messages/{uuid.uuid4()}", headers=a.headers),
    ):
        assert r.status_code == 404 and r.json()["code"] == "message_not_found"


async def test_history_pages_backwards_with_before_seq(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    for i in range(1, 8):
        await send(client, a, conv, f"m{i}")
    url = f"{CONV}/{conv['id']}/messages"
    latest = (await client.get(url, headers=b.headers, params={"limit": 3})).json()
    assert [m["body"] for m in latest] == ["m5", "m6", "m7"]
    older = (
        await client.get(
            url, headers=b.headers, params={"limit": 3, "before_seq": latest[0]["seq"]}
        )
    ).json()
    assert [m["body"] for m in older] == ["m2", "m3", "m4"]
    oldest = (
        await client.get(url, headers=b.headers, params={"limit": 3, "before_seq": older[0]["seq"]})
    ).json()
    assert [m["body"] for m in oldest] == ["m1"]
    assert (await client.get(url, headers=b.headers, params={"limit": 0})).status_code == 422
    assert (await client.get(url, headers=b.headers, params={"limit": 10_000})).status_code == 422


async def test_events_cover_every_kind_of_change(client: httpx.AsyncClient, signup: Signup) -> None:
    owner, b, c = await signup(), await signup(), await signup()
    conv = await group(client, owner, b)
    base = f"{CONV}/{conv['id']}"
    m = (await send(client, b, conv, "hi")).json()
    await client.patch(f"/api/v1/messages/{m['id']}", headers=b.headers, json={"body": "hi!"})
    await client.post(f"{base}/members", headers=owner.headers, json={"user_id": c.id})
    await client.patch(f"{base}/members/{c.id}", headers=owner.headers, json={"role": "admin"})
    await client.patch(base, headers=owner.headers, json={"title": "New"})
    await client.delete(f"/api/v1/messages/{m['id']}", headers=b.headers)
    await client.delete(f"{base}/members/{b.id}", headers=c.headers)  # admin removes member
    events = (await client.get(f"{base}/events", headers=owner.headers)).json()
    assert [(e["seq"], e["type"]) for e in events] == [
        (1, "message.new"),
        (2, "message.edited"),
        (3, "member.added"),
        (4, "member.role_changed"),
        (5, "conversation.updated"),
        (6, "message.deleted"),
        (7, "member.removed"),
    ]
    assert events[2]["member"]["user"]["id"] == c.id
    assert events[3]["member"] == {"user_id": c.id, "role": "admin", "user": None}
    after = (
        await client.get(f"{base}/events", headers=owner.headers, params={"after_seq": 5})
    ).json()
    assert [e["seq"] for e in after] == [6, 7]
    conv_now = (await client.get(base, headers=owner.headers)).json()
    assert conv_now["last_seq"] == 7


async def test_conversation_list_is_a_constant_number_of_queries(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    a, b = await signup(), await signup()
    created = []
    for i in range(200):
        conv = await group(client, a, b, title=f"g{i}")
        created.append(conv)
        if i % 2 == 0:
            await send(client, b, conv, f"hello {i}")
    # Direct chats take the "other user" path too.
    for _ in range(3):
        other = await signup()
        await client.post(
            CONV, headers=a.headers, json={"kind": "direct", "member_ids": [other.id]}
        )
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = app.state.chat.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        r = await client.get(CONV, headers=a.headers, params={"limit": 500})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert r.status_code == 200
    listed = r.json()
    assert len(listed) == 203
    assert sum(c["unread_count"] for c in listed) == 100
    queries = [s for s in statements if not s.lstrip().upper().startswith(("BEGIN", "PRAGMA"))]
    assert len(queries) <= 8, queries


async def test_group_commit_refused_send_undoes_only_itself(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    from chatapi.errors import Unprocessable
    from chatapi.models import User

    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    state = app.state.chat
    async with state.uow() as uow:
        sender = await uow.session.get(User, uuid.UUID(a.id))
    assert sender is not None
    cid = uuid.UUID(str(conv["id"]))
    results = await asyncio.gather(
        *(
            state.sends.send(
                sender=sender,
                conversation_id=cid,
                body=f"m{i}",
                attachment_ids=[uuid.uuid4()] if i == 5 else [],
            )
            for i in range(10)
        ),
        return_exceptions=True,
    )
    assert isinstance(results[5], Unprocessable)
    stored = [r for r in results if not isinstance(r, BaseException)]
    assert sorted(m.seq for m, _ in stored) == list(range(1, 10))
    events = (await client.get(f"{CONV}/{conv['id']}/events", headers=a.headers)).json()
    assert [e["seq"] for e in events] == list(range(1, 10))


async def sender_of(app: FastAPI, who: Account) -> Any:
    """The User row of an account, as the group commit takes it."""
    from chatapi.models import User

    async with app.state.chat.uow() as uow:
        return await uow.session.get(User, uuid.UUID(who.id))


# No message quota: with Redis its check is a round trip, and the sends would not all
# queue before the group commit takes the first batch.
@pytest.mark.parametrize("settings_overrides", [{"message_rate_limit": ""}])
async def test_a_retry_among_new_sends_keeps_the_timeline_gapless(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    sends, sender, cid = app.state.chat.sends, await sender_of(app, a), uuid.UUID(str(conv["id"]))
    first, created = await sends.send(
        sender=sender, conversation_id=cid, body="once", client_id="r"
    )
    assert created and first.seq == 1
    # One batch: the retry's row is skipped by the INSERT, the batch is sent again.
    results = await asyncio.gather(
        sends.send(sender=sender, conversation_id=cid, body="again", client_id="r"),
        *(
            sends.send(sender=sender, conversation_id=cid, body=f"n{i}", client_id=f"n{i}")
            for i in range(5)
        ),
    )
    assert results[0] == (first, False)
    assert [(m.seq, m.body, made) for m, made in results[1:]] == [
        (i + 2, f"n{i}", True) for i in range(5)
    ]
    events = (await client.get(f"{CONV}/{conv['id']}/events", headers=a.headers)).json()
    assert [e["seq"] for e in events] == list(range(1, 7))


@pytest.mark.parametrize("settings_overrides", [{"message_rate_limit": ""}])
async def test_a_batch_of_sends_is_the_same_statements_whatever_its_size(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    a, b = await signup(), await signup()
    convs = [uuid.UUID(str((await group(client, a, b, title=f"g{i}"))["id"])) for i in range(20)]
    sends, sender = app.state.chat.sends, await sender_of(app, a)
    engine = app.state.chat.engine.sync_engine

    async def statements(count: int) -> list[list[str]]:
        """The statements of each transaction the sends committed."""
        done: list[list[str]] = []
        open_: dict[int, list[str]] = {}  # per connection: two workers commit at once

        def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            open_.setdefault(id(conn), []).append(statement.split()[0].upper())

        def on_commit(conn: Any) -> None:
            done.append(open_.pop(id(conn), []))

        event.listen(engine, "before_cursor_execute", on_execute)
        event.listen(engine, "commit", on_commit)
        try:
            await asyncio.gather(
                *(
                    sends.send(sender=sender, conversation_id=c, body="hi", client_id=f"{count}")
                    for c in convs[:count]
                )
            )
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
            event.remove(engine, "commit", on_commit)
        return [[s for s in tx if s not in ("BEGIN", "PRAGMA")] for tx in done]

    # Take the seqs, check membership, insert the messages, insert their events. (On
    # PostgreSQL two workers share the conversations: up to two batches.)
    batch = ["UPDATE", "SELECT", "INSERT", "INSERT"]
    assert await statements(1) == [batch]
    assert await statements(20) in ([batch], [batch, batch])


@pytest.mark.parametrize("settings_overrides", [{"send_queue_max": 2}])
async def test_a_send_beyond_the_full_queue_is_refused_503_and_the_queued_ones_are_kept(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI, database_url: str
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    sends = app.state.chat.sends
    refused_before = REGISTRY.get_sample_value("chatapi_sends_overloaded_total") or 0.0
    async with sends_blocked(database_url, str(conv["id"])):
        first = asyncio.create_task(send(client, a, conv, "m0", client_id="m0"))
        await eventually(lambda: sends.in_flight == 1, what="the first send waits for the lock")
        queued = [
            asyncio.create_task(send(client, a, conv, f"m{i}", client_id=f"m{i}")) for i in (1, 2)
        ]
        await eventually(lambda: sends.queued == 2, what="two sends queued")
        refused = await send(client, b, conv, "one too many", client_id="x")
        assert refused.status_code == 503
        assert refused.json()["code"] == "overloaded"
        assert int(refused.headers["retry-after"]) >= 1
        assert sends.refused == 1
        assert REGISTRY.get_sample_value("chatapi_sends_overloaded_total") == refused_before + 1
    # Nothing the queue took is lost: all stored once the lock is gone, the first first.
    done = [(await t).json() for t in (first, *queued)]
    assert done[0]["seq"] == 1 and sorted(m["seq"] for m in done[1:]) == [2, 3]
    events = (await client.get(f"{CONV}/{conv['id']}/events", headers=a.headers)).json()
    assert [e["message"]["body"] for e in events] == [
        m["body"] for m in sorted(done, key=lambda m: m["seq"])
    ]


async def test_concurrent_sends_share_commits(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    commits: list[int] = []
    engine = app.state.chat.engine.sync_engine

    def on_commit(conn: Any) -> None:
        commits.append(1)

    event.listen(engine, "commit", on_commit)
    try:
        results = await asyncio.gather(*(send(client, a, conv, f"m{i}") for i in range(50)))
    finally:
        event.remove(engine, "commit", on_commit)
    assert all(r.status_code == 201 for r in results)
    assert sorted(r.json()["seq"] for r in results) == list(range(1, 51))
    assert len(commits) < 50


async def test_concurrent_sends_into_many_conversations_stay_gapless(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    convs = [await group(client, a, b, title=f"c{i}") for i in range(5)]
    results = await asyncio.gather(
        *(send(client, a if i % 2 else b, convs[i % 5], f"m{i}") for i in range(60))
    )
    assert all(r.status_code == 201 for r in results)
    for conv in convs:
        seqs = sorted(r.json()["seq"] for r in results if r.json()["conversation_id"] == conv["id"])
        assert seqs == list(range(1, 13))
        now = (await client.get(f"{CONV}/{conv['id']}", headers=a.headers)).json()
        assert now["last_seq"] == 12
