"""Direct and group conversations, members and roles, access rules."""

from __future__ import annotations

import uuid

import httpx

from helpers import CONV, Signup, group


async def test_direct_conversation_is_found_again(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    r = await client.post(CONV, headers=a.headers, json={"kind": "direct", "member_ids": [b.id]})
    assert r.status_code == 201
    conv = r.json()
    assert conv["kind"] == "direct" and conv["members_count"] == 2
    assert conv["other_user"]["id"] == b.id
    again = await client.post(
        CONV, headers=b.headers, json={"kind": "direct", "member_ids": [a.id]}
    )
    assert again.status_code == 200
    assert again.json()["id"] == conv["id"]


async def test_direct_conversation_validation(client: httpx.AsyncClient, signup: Signup) -> None:
    a, b, c = await signup(), await signup(), await signup()
    for members in ([a.id], [b.id, c.id], [], [str(uuid.uuid4())]):
        r = await client.post(
            CONV, headers=a.headers, json={"kind": "direct", "member_ids": members}
        )
        assert r.status_code == 422, members
    r = await client.get(CONV, headers=a.headers)
    assert r.json() == []


async def test_group_creation_roles_and_unknown_members(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    r = await client.post(
        CONV,
        headers=a.headers,
        json={"kind": "group", "title": "X", "member_ids": [b.id, str(uuid.uuid4())]},
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_users"
    assert (await client.get(CONV, headers=a.headers)).json() == []
    r = await client.post(CONV, headers=a.headers, json={"kind": "group", "member_ids": [b.id]})
    assert r.status_code == 422
    conv = await group(client, a, b)
    assert conv["my_role"] == "owner" and conv["members_count"] == 2
    members = (await client.get(f"{CONV}/{conv['id']}/members", headers=b.headers)).json()
    assert {m["user"]["id"]: m["role"] for m in members} == {a.id: "owner", b.id: "member"}


async def test_non_member_gets_404_everywhere(client: httpx.AsyncClient, signup: Signup) -> None:
    a, b, outsider = await signup(), await signup(), await signup()
    conv = await group(client, a, b)
    base = f"{CONV}/{conv['id']}"
    h = outsider.headers
    for method, path, body in [
        ("GET", base, None),
        ("PATCH", base, {"title": "hacked"}),
        ("GET", f"{base}/members", None),
        ("POST", f"{base}/members", {"user_id": outsider.id}),
        ("GET", f"{base}/messages", None),
        ("POST", f"{base}/messages", {"body": "hi"}),
        ("GET", f"{base}/events", None),
        ("POST", f"{base}/read", {"seq": 1}),
        ("DELETE", f"{base}/members/{a.id}", None),
    ]:
        r = await client.request(method, path, headers=h, json=body)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["code"] == "conversation_not_found"
    missing = await client.get(f"{CONV}/{uuid.uuid4()}", headers=h)
    assert missing.status_code == 404 and missing.json() == r.json()


async def test_rename_is_for_owner_and_admin(client: httpx.AsyncClient, signup: Signup) -> None:
    a, b, c = await signup(), await signup(), await signup()
    conv = await group(client, a, b, c)
    base = f"{CONV}/{conv['id']}"
    r = await client.patch(base, headers=b.headers, json={"title": "nope"})
    assert r.status_code == 403 and r.json()["code"] == "not_allowed"
    assert (
        await client.patch(f"{base}/members/{b.id}", headers=a.headers, json={"role": "admin"})
    ).status_code == 200
    r = await client.patch(base, headers=b.headers, json={"title": "  Renamed  "})
    assert r.status_code == 200 and r.json()["title"] == "Renamed"
    r = await client.patch(base, headers=a.headers, json={"title": ""})
    assert r.status_code == 422
    events = (await client.get(f"{base}/events", headers=c.headers)).json()
    assert [e["type"] for e in events] == ["member.role_changed", "conversation.updated"]
    assert events[1]["conversation"]["title"] == "Renamed"


async def test_member_management_rules(client: httpx.AsyncClient, signup: Signup) -> None:
    owner, admin, member, newcomer, other = [await signup() for _ in range(5)]
    conv = await group(client, owner, admin, member)
    base = f"{CONV}/{conv['id']}"
    await client.patch(f"{base}/members/{admin.id}", headers=owner.headers, json={"role": "admin"})
    # A member cannot add; an admin can add members but not admins; changing roles is the owner's.
    assert (
        await client.post(f"{base}/members", headers=member.headers, json={"user_id": newcomer.id})
    ).status_code == 403
    assert (
        await client.post(
            f"{base}/members", headers=admin.headers, json={"user_id": newcomer.id, "role": "admin"}
        )
    ).status_code == 403
    r = await client.post(f"{base}/members", headers=admin.headers, json={"user_id": newcomer.id})
    assert r.status_code == 201 and r.json()["role"] == "member"
    assert (
        await client.post(f"{base}/members", headers=admin.headers, json={"user_id": newcomer.id})
    ).status_code == 409
    assert (
        await client.post(
            f"{base}/members", headers=admin.headers, json={"user_id": str(uuid.uuid4())}
        )
    ).status_code == 422
    assert (
        await client.patch(
            f"{base}/members/{member.id}", headers=admin.headers, json={"role": "admin"}
        )
    ).status_code == 403
    # Admins remove members, not other admins or the owner.
    assert (
        await client.delete(f"{base}/members/{owner.id}", headers=admin.headers)
    ).status_code == 403
    assert (
        await client.delete(f"{base}/members/{newcomer.id}", headers=admin.headers)
    ).status_code == 204
    assert (
        await client.delete(f"{base}/members/{admin.id}", headers=member.headers)
    ).status_code == 403
    assert (
        await client.delete(f"{base}/members/{other.id}", headers=owner.headers)
    ).status_code == 404
    # The removed user sees the conversation only as a former member (read-only).
    r = await client.get(base, headers=newcomer.headers)
    assert r.status_code == 200 and r.json()["former"]["removed_by"]["id"] == admin.id
    # Anyone can leave.
    assert (
        await client.delete(f"{base}/members/{member.id}", headers=member.headers)
    ).status_code == 204
    members = (await client.get(f"{base}/members", headers=owner.headers)).json()
    assert {m["user"]["id"] for m in members} == {owner.id, admin.id}


async def test_last_owner_leaving_promotes_longest_standing_admin(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    owner, m1, m2, adm = [await signup() for _ in range(4)]
    conv = await group(client, owner, m1, m2, adm)
    base = f"{CONV}/{conv['id']}"
    await client.patch(f"{base}/members/{adm.id}", headers=owner.headers, json={"role": "admin"})
    assert (
        await client.delete(f"{base}/members/{owner.id}", headers=owner.headers)
    ).status_code == 204
    roles = {
        m["user"]["id"]: m["role"]
        for m in (await client.get(f"{base}/members", headers=m1.headers)).json()
    }
    assert roles == {m1.id: "member", m2.id: "member", adm.id: "owner"}
    # With no admin, the longest-standing member becomes owner.
    assert (await client.delete(f"{base}/members/{adm.id}", headers=adm.headers)).status_code == 204
    roles = {
        m["user"]["id"]: m["role"]
        for m in (await client.get(f"{base}/members", headers=m1.headers)).json()
    }
    assert list(roles.values()).count("owner") == 1
    assert len(roles) == 2


async def test_last_owner_cannot_demote_themselves(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    owner, m = await signup(), await signup()
    conv = await group(client, owner, m)
    r = await client.patch(
        f"{CONV}/{conv['id']}/members/{owner.id}", headers=owner.headers, json={"role": "member"}
    )
    assert r.status_code == 409 and r.json()["code"] == "last_owner"
    assert (
        await client.patch(
            f"{CONV}/{conv['id']}/members/{m.id}", headers=owner.headers, json={"role": "owner"}
        )
    ).status_code == 200
    assert (
        await client.patch(
            f"{CONV}/{conv['id']}/members/{owner.id}",
            headers=owner.headers,
            json={"role": "member"},
        )
    ).status_code == 200


async def test_direct_conversations_refuse_member_changes(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b, c = await signup(), await signup(), await signup()
    conv = (
        await client.post(CONV, headers=a.headers, json={"kind": "direct", "member_ids": [b.id]})
    ).json()
    base = f"{CONV}/{conv['id']}"
    assert (
        await client.post(f"{base}/members", headers=a.headers, json={"user_id": c.id})
    ).status_code == 403
    assert (await client.delete(f"{base}/members/{b.id}", headers=a.headers)).status_code == 403
    assert (await client.delete(f"{base}/members/{a.id}", headers=a.headers)).status_code == 403
    assert (await client.patch(base, headers=a.headers, json={"title": "x"})).status_code == 403


async def test_conversation_list_order_unread_and_last_message(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    a, b = await signup(), await signup()
    first = await group(client, a, b, title="first")
    second = await group(client, a, b, title="second")
    for text in ("one", "two", "three"):
        await client.post(f"{CONV}/{first['id']}/messages", headers=b.headers, json={"body": text})
    await client.post(f"{CONV}/{first['id']}/messages", headers=a.headers, json={"body": "mine"})
    listed = (await client.get(CONV, headers=a.headers)).json()
    assert [c["title"] for c in listed] == ["first", "second"]
    assert listed[0]["unread_count"] == 3
    assert listed[0]["last_message"]["body"] == "mine"
    assert listed[1]["unread_count"] == 0 and listed[1]["last_message"] is None
    await client.post(f"{CONV}/{second['id']}/messages", headers=b.headers, json={"body": "hey"})
    listed = (await client.get(CONV, headers=a.headers)).json()
    assert [c["title"] for c in listed] == ["second", "first"]
    # Reading up to the second message leaves one unread.
    msgs = (await client.get(f"{CONV}/{first['id']}/messages", headers=a.headers)).json()
    assert (
        await client.post(
            f"{CONV}/{first['id']}/read", headers=a.headers, json={"seq": msgs[1]["seq"]}
        )
    ).status_code == 204
    one = (await client.get(f"{CONV}/{first['id']}", headers=a.headers)).json()
    assert one["unread_count"] == 1


async def test_read_marker_moves_forward_only(client: httpx.AsyncClient, signup: Signup) -> None:
    a, b = await signup(), await signup()
    conv = await group(client, a, b)
    base = f"{CONV}/{conv['id']}"
    for i in range(3):
        await client.post(f"{base}/messages", headers=a.headers, json={"body": f"m{i}"})
    assert (
        await client.post(f"{base}/read", headers=b.headers, json={"seq": 2})
    ).status_code == 204
    assert (
        await client.post(f"{base}/read", headers=b.headers, json={"seq": 1})
    ).status_code == 204
    assert (
        await client.post(f"{base}/read", headers=b.headers, json={"seq": -1})
    ).status_code == 422
    members = {
        m["user"]["id"]: m for m in (await client.get(f"{base}/members", headers=a.headers)).json()
    }
    assert members[b.id]["last_read_seq"] == 2
    assert members[b.id]["last_delivered_seq"] == 2
    # A marker past the end is clamped to the last seq.
    await client.post(f"{base}/read", headers=b.headers, json={"seq": 999})
    members = {
        m["user"]["id"]: m for m in (await client.get(f"{base}/members", headers=a.headers)).json()
    }
    assert members[b.id]["last_read_seq"] == 3


async def test_co_members_of_many_users_in_one_lookup(
    client: httpx.AsyncClient, signup: Signup, app: object
) -> None:
    from chatapi.services import membership

    a, b, c, loner = [await signup() for _ in range(4)]
    await group(client, a, b)
    await client.post(CONV, headers=b.headers, json={"kind": "direct", "member_ids": [c.id]})
    ids = [uuid.UUID(x.id) for x in (a, b, c, loner)]
    async with app.state.chat.read_uow() as uow:  # type: ignore[attr-defined]
        many = await membership.co_member_ids_many(uow, user_ids=ids)
        singles = {u: await membership.co_member_ids(uow, user_id=u) for u in ids}
    assert many == singles
    assert many[ids[1]] == {ids[0], ids[2]} and many[ids[3]] == set()
