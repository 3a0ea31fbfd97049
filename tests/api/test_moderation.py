"""Trust and safety for the instance: reports, instance roles (API and command line),
registration modes and invites, suspensions, the review queue's actions and the audit
log."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from chatapi.models import SpamLabel, User
from helpers import CONV, PASSWORD, Account, Signup, group

REPORTS = "/api/v1/reports"
QUEUE = "/api/v1/moderation/queue"
AUDIT = "/api/v1/moderation/audit"


async def make_role(app: FastAPI, who: Account, role: str) -> None:
    """Give an account an instance role directly in the database (the command line's
    test does it the real way)."""
    async with app.state.chat.uow() as uow:
        await uow.session.execute(
            update(User).where(User.id == uuid.UUID(who.id)).values(role=role)  # type: ignore[arg-type]
        )
        await uow.commit()


async def send(client: httpx.AsyncClient, who: Account, conv: Any, body: str) -> dict[str, Any]:
    r = await client.post(f"{CONV}/{conv['id']}/messages", headers=who.headers, json={"body": body})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def report_message(
    client: httpx.AsyncClient, who: Account, message: dict[str, Any], reason: str = "spam"
) -> httpx.Response:
    return await client.post(
        REPORTS, headers=who.headers, json={"message_id": message["id"], "reason": reason}
    )


async def queue(client: httpx.AsyncClient, who: Account, **params: Any) -> list[dict[str, Any]]:
    r = await client.get(QUEUE, headers=who.headers, params=params)
    assert r.status_code == 200, r.text
    return list(r.json())


async def act(
    client: httpx.AsyncClient, who: Account, item: dict[str, Any], action: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        f"{QUEUE}/{item['id']}/actions", headers=who.headers, json={"action": action, **extra}
    )


# --- reports --------------------------------------------------------------------------


async def test_a_report_is_confirmed_and_reaches_the_queue_with_its_context(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    alice, mallory, mod = await signup(), await signup(), await signup()
    await make_role(app, mod, "moderator")
    conv = await group(client, alice, mallory)
    for i in range(5):
        await send(client, alice, conv, f"before {i}")
    bad = await send(client, mallory, conv, "cheap pills at example.com")
    for i in range(5):
        await send(client, alice, conv, f"after {i}")
    r = await report_message(client, alice, bad)
    assert r.status_code == 201, r.text
    assert "moderators" in r.json()["detail"]
    [item] = await queue(client, mod)
    assert item["kind"] == "report" and item["status"] == "open" and item["reason"] == "spam"
    assert item["reporter"]["id"] == alice.id
    assert item["subject"]["id"] == mallory.id
    assert item["message"]["body"] == "cheap pills at example.com"
    assert [m["body"] for m in item["context"]] == [
        "before 2",
        "before 3",
        "before 4",
        "cheap pills at example.com",
        "after 0",
        "after 1",
        "after 2",
    ]
    assert item["conversation"]["title"] == conv["title"]


async def test_the_reported_person_is_not_told_and_cannot_read_the_queue(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, mallory = await signup(), await signup()
    conv = await group(client, alice, mallory)
    bad = await send(client, mallory, conv, "rude")
    assert (await report_message(client, alice, bad, "abuse")).status_code == 201
    # Nothing new in mallory's timeline, and the queue is not hers to read.
    events = (await client.get(f"{CONV}/{conv['id']}/events", headers=mallory.headers)).json()
    assert [e["type"] for e in events] == ["message.new"]
    r = await client.get(QUEUE, headers=mallory.headers)
    assert r.status_code == 403 and r.json()["code"] == "moderators_only"


async def test_a_message_one_cannot_read_cannot_be_reported(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob, eve = await signup(), await signup(), await signup()
    conv = await group(client, alice, bob)
    msg = await send(client, bob, conv, "private")
    r = await report_message(client, eve, msg)
    assert r.status_code == 404 and r.json()["code"] == "message_not_found"
    r = await report_message(client, bob, msg)
    assert r.status_code == 422 and r.json()["code"] == "cannot_report_self"


async def test_a_person_can_be_reported_and_other_needs_text(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    alice, mallory, mod = await signup(), await signup(), await signup()
    await make_role(app, mod, "admin")
    r = await client.post(
        REPORTS, headers=alice.headers, json={"user_id": mallory.id, "reason": "other"}
    )
    assert r.status_code == 422 and r.json()["code"] == "text_required"
    r = await client.post(
        REPORTS,
        headers=alice.headers,
        json={"user_id": mallory.id, "reason": "other", "text": "impersonates me"},
    )
    assert r.status_code == 201, r.text
    [item] = await queue(client, mod)
    assert item["message"] is None and item["context"] == []
    assert item["text"] == "impersonates me"


@pytest.mark.parametrize("settings_overrides", [{"report_rate_limit": "2/hour"}])
async def test_reports_are_rate_limited(client: httpx.AsyncClient, signup: Signup) -> None:
    alice, mallory = await signup(), await signup()
    conv = await group(client, alice, mallory)
    msg = await send(client, mallory, conv, "x")
    assert (await report_message(client, alice, msg)).status_code == 201
    assert (await report_message(client, alice, msg)).status_code == 201
    r = await report_message(client, alice, msg)
    assert r.status_code == 429 and r.json()["code"] == "report_rate_limited"
    assert "Retry-After" in r.headers


# --- queue actions and the audit log --------------------------------------------------


async def test_deleting_a_reported_message_resolves_it_and_is_audited(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    alice, mallory, mod, admin = await signup(), await signup(), await signup(), await signup()
    await make_role(app, mod, "moderator")
    await make_role(app, admin, "admin")
    conv = await group(client, alice, mallory)
    bad = await send(client, mallory, conv, "scam link")
    await report_message(client, alice, bad)
    [item] = await queue(client, mod)
    r = await act(client, mod, item, "delete_message", reason="phishing")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "resolved" and r.json()["resolution"] == "message_deleted"
    assert r.json()["resolved_by"]["id"] == mod.id
    events = (await client.get(f"{CONV}/{conv['id']}/events", headers=alice.headers)).json()
    assert events[-1]["type"] == "message.deleted" and events[-1]["message"]["body"] == ""
    assert await queue(client, mod) == []
    assert len(await queue(client, mod, status="resolved")) == 1
    r = await act(client, mod, item, "dismiss")
    assert r.status_code == 409 and r.json()["code"] == "already_resolved"
    # The audit log: admins only.
    r = await client.get(AUDIT, headers=mod.headers)
    assert r.status_code == 403 and r.json()["code"] == "admins_only"
    [entry] = (await client.get(AUDIT, headers=admin.headers)).json()
    assert entry["actor"]["id"] == mod.id
    assert entry["action"] == "delete_message"
    assert entry["subject"]["id"] == mallory.id
    assert entry["message_id"] == bad["id"] and entry["item_id"] == item["id"]
    assert entry["reason"] == "phishing"


async def test_spam_labels_are_kept_for_the_filter(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    alice, mallory, mod = await signup(), await signup(), await signup()
    await make_role(app, mod, "moderator")
    conv = await group(client, alice, mallory)
    spam = await send(client, mallory, conv, "WIN A PRIZE http://x.example")
    fine = await send(client, mallory, conv, "see you at lunch")
    await report_message(client, alice, spam)
    await report_message(client, alice, fine)
    first, second = await queue(client, mod)
    r = await act(client, mod, first, "mark_spam")
    assert r.status_code == 200 and r.json()["status"] == "open" and r.json()["spam_label"] is True
    r = await act(client, mod, second, "mark_not_spam")
    assert r.json()["status"] == "resolved" and r.json()["resolution"] == "not_spam"
    async with app.state.chat.uow() as uow:
        labels = (await uow.session.scalars(select(SpamLabel))).all()
    assert sorted((lb.body, lb.spam) for lb in labels) == [
        ("WIN A PRIZE http://x.example", True),
        ("see you at lunch", False),
    ]


# --- suspension -----------------------------------------------------------------------


async def test_suspending_from_the_queue_signs_out_and_refuses_sign_in_until_lifted(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    alice, mallory, mod = await signup(), await signup(), await signup()
    await make_role(app, mod, "moderator")
    conv = await group(client, alice, mallory)
    bad = await send(client, mallory, conv, "abuse")
    await report_message(client, alice, bad, "abuse")
    [item] = await queue(client, mod)
    r = await act(client, mod, item, "suspend", suspend_hours=24, reason="threats")
    assert r.status_code == 200, r.text
    assert r.json()["resolution"] == "suspended"
    assert r.json()["subject_suspended_until"] is not None
    r = await client.get("/api/v1/users/me", headers=mallory.headers)
    assert r.status_code == 401 and r.json()["code"] == "account_suspended"
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": mallory.refresh_token})
    assert r.status_code == 403 and r.json()["code"] == "account_suspended"
    r = await client.post(
        "/api/v1/auth/token", data={"username": mallory.username, "password": PASSWORD}
    )
    assert r.status_code == 403 and r.json()["code"] == "account_suspended"
    assert "until" in r.json()["detail"]
    r = await client.delete(
        f"/api/v1/moderation/users/{mallory.id}/suspension", headers=mod.headers
    )
    assert r.status_code == 200 and r.json()["suspended_until"] is None
    r = await client.post(
        "/api/v1/auth/token", data={"username": mallory.username, "password": PASSWORD}
    )
    assert r.status_code == 200, r.text


async def test_only_an_admin_suspends_a_moderator_and_nobody_themselves(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    mod, other_mod, admin, alice = await signup(), await signup(), await signup(), await signup()
    await make_role(app, mod, "moderator")
    await make_role(app, other_mod, "moderator")
    await make_role(app, admin, "admin")

    async def suspend(actor: Account, target: Account) -> httpx.Response:
        return await client.put(
            f"/api/v1/moderation/users/{target.id}/suspension",
            headers=actor.headers,
            json={"hours": None, "reason": "test"},
        )

    assert (await suspend(alice, mod)).json()["code"] == "moderators_only"
    assert (await suspend(mod, other_mod)).json()["code"] == "admins_only"
    assert (await suspend(mod, mod)).json()["code"] == "cannot_suspend_self"
    r = await suspend(admin, other_mod)
    assert r.status_code == 200, r.text
    assert r.json()["suspended_until"].startswith("9999-12-31")  # for good


# --- roles, registration, invites -----------------------------------------------------


async def test_an_admin_grants_and_takes_roles_and_it_is_audited(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    admin, bob = await signup(), await signup()
    await make_role(app, admin, "admin")
    r = await client.put(
        f"/api/v1/admin/users/{bob.id}/role", headers=bob.headers, json={"role": "admin"}
    )
    assert r.status_code == 403 and r.json()["code"] == "admins_only"
    r = await client.put(
        f"/api/v1/admin/users/{bob.id}/role",
        headers=admin.headers,
        json={"role": "moderator", "reason": "helps out"},
    )
    assert r.status_code == 200 and r.json()["role"] == "moderator"
    assert (await client.get("/api/v1/users/me", headers=bob.headers)).json()["role"] == "moderator"
    assert (await client.get(QUEUE, headers=bob.headers)).status_code == 200
    r = await client.put(
        f"/api/v1/admin/users/{bob.id}/role", headers=admin.headers, json={"role": None}
    )
    assert r.json()["role"] is None
    assert (await client.get(QUEUE, headers=bob.headers)).status_code == 403
    r = await client.put(
        f"/api/v1/admin/users/{admin.id}/role", headers=admin.headers, json={"role": None}
    )
    assert r.status_code == 403 and r.json()["code"] == "cannot_demote_self"
    log = (await client.get(AUDIT, headers=admin.headers)).json()
    assert [(e["action"], e["data"]["role"], e["reason"]) for e in log] == [
        ("revoke_role", None, ""),
        ("grant_role", "moderator", "helps out"),
    ]


async def chatapi_cli(database_url: str, *args: str) -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "ENVIRONMENT": "test"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chatapi.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


@pytest.mark.slow
async def test_the_command_line_grants_and_revokes_roles_and_makes_invites(
    client: httpx.AsyncClient, signup: Signup, database_url: str
) -> None:
    bob = await signup()
    code, out = await chatapi_cli(database_url, "admin", "grant", bob.username, "admin")
    assert code == 0, out
    assert "is now admin" in out
    me = (await client.get("/api/v1/users/me", headers=bob.headers)).json()
    assert me["role"] == "admin"
    code, out = await chatapi_cli(database_url, "admin", "invite", "--uses", "3")
    assert code == 0, out
    assert "invite code" in out
    [invite] = (await client.get("/api/v1/admin/invites", headers=bob.headers)).json()
    assert invite["max_uses"] == 3 and invite["code"] is None
    log = (await client.get(AUDIT, headers=bob.headers)).json()
    assert [(e["action"], e["actor"]) for e in log] == [
        ("create_invite", None),
        ("grant_role", None),
    ]
    code, out = await chatapi_cli(database_url, "admin", "revoke", bob.username)
    assert code == 0, out
    me = (await client.get("/api/v1/users/me", headers=bob.headers)).json()
    assert me["role"] is None
    code, out = await chatapi_cli(database_url, "admin", "grant", "nobody-here", "moderator")
    assert code == 1 and "No user named" in out


async def register(
    client: httpx.AsyncClient, username: str, invite: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"username": username, "password": PASSWORD}
    if invite is not None:
        body["invite"] = invite
    return await client.post("/api/v1/auth/register", json=body)


@pytest.mark.parametrize("settings_overrides", [{"registration": "closed"}])
async def test_closed_registration_refuses_everyone(client: httpx.AsyncClient) -> None:
    r = await register(client, "newcomer")
    assert r.status_code == 403 and r.json()["code"] == "registration_closed"
    options = (await client.get("/api/v1/auth/providers")).json()
    assert options["registration"] is False and options["registration_mode"] == "closed"


@pytest.mark.parametrize("settings_overrides", [{"registration": "invite"}])
async def test_invite_registration_takes_a_valid_code_once_per_use(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Any
) -> None:
    from chatapi.services import instance

    async with app.state.chat.uow() as uow:
        _, code = await instance.create_invite(
            uow, actor=None, max_uses=2, expires_in=__import__("datetime").timedelta(hours=1)
        )
        await uow.commit()
    r = await register(client, "no-code")
    assert r.status_code == 403 and r.json()["code"] == "invite_required"
    r = await register(client, "bad-code", "nope")
    assert r.status_code == 403 and r.json()["code"] == "invalid_invite"
    assert (await register(client, "first", code)).status_code == 201
    # A taken username does not spend a use: the registration's transaction rolls back.
    assert (await register(client, "first", code)).status_code == 409
    assert (await register(client, "second", code)).status_code == 201
    r = await register(client, "third", code)
    assert r.status_code == 403 and r.json()["code"] == "invalid_invite"
    options = (await client.get("/api/v1/auth/providers")).json()
    assert options["registration_mode"] == "invite"


@pytest.mark.parametrize("settings_overrides", [{"registration": "invite"}])
async def test_an_expired_or_revoked_invite_admits_nobody(
    client: httpx.AsyncClient, app: FastAPI, signup: Signup
) -> None:
    from datetime import timedelta

    from chatapi.models import Invite
    from chatapi.services import instance

    async with app.state.chat.uow() as uow:
        old, old_code = await instance.create_invite(
            uow, actor=None, max_uses=5, expires_in=timedelta(hours=1)
        )
        await uow.session.execute(
            update(Invite)
            .where(Invite.id == old.id)  # type: ignore[arg-type]
            .values(expires_at=old.created_at - timedelta(seconds=1))
        )
        await uow.commit()
    r = await register(client, "late", old_code)
    assert r.status_code == 403 and r.json()["code"] == "invalid_invite"


@pytest.mark.postgres
@pytest.mark.parametrize("settings_overrides", [{"registration": "invite"}])
async def test_concurrent_registrations_share_an_invites_uses_exactly(
    client: httpx.AsyncClient, app: FastAPI, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("a race between transactions: PostgreSQL only")
    from datetime import timedelta

    from chatapi.services import instance

    async with app.state.chat.uow() as uow:
        _, code = await instance.create_invite(
            uow, actor=None, max_uses=3, expires_in=timedelta(hours=1)
        )
        await uow.commit()
    answers = await asyncio.gather(*(register(client, f"racer{i}", code) for i in range(20)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] * 3 + [403] * 17, [r.text for r in answers if r.status_code != 201]
    [invite] = (await client.get("/api/v1/admin/invites", headers=await _admin(client, app))).json()
    assert invite["uses"] == 3


async def _admin(client: httpx.AsyncClient, app: FastAPI) -> dict[str, str]:
    """Headers of a new admin (registration is by invite here: made in the database)."""
    from chatapi.services import auth

    async with app.state.chat.uow() as uow:
        user = await auth.create_account(
            uow, username=f"adm{uuid.uuid4().hex[:8]}", display_name="a", password=PASSWORD
        )
        user.role = "admin"
        await uow.commit()
        name = user.username
    r = await client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
