"""Password reset by e-mail, against a real SMTP server on loopback (aiosmtpd): the mail
arrives, its link works once and for 30 minutes, the answer never says whether an
account matched, and without SMTP_URL the feature is off and says so."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from chatapi.models import PasswordReset
from helpers import PASSWORD, Signup, eventually
from servers import free_port

ASK = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
TOKEN = "/api/v1/auth/token"
ME = "/api/v1/users/me"
NEW = "a brand new passphrase"


class Inbox:
    """aiosmtpd's handler: every mail the server accepts."""

    def __init__(self) -> None:
        self.mails: list[Message] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture
def settings_overrides(inbox: Inbox) -> dict[str, Any]:
    return {
        "smtp_url": f"smtp://127.0.0.1:{inbox.port}",
        "mail_from": "chatapi <chat@example.com>",
        "public_url": "https://chat.example.com",
    }


async def _register(client: httpx.AsyncClient, username: str, email: str | None) -> None:
    body: dict[str, str] = {"username": username, "password": PASSWORD}
    if email:
        body["email"] = email
    r = await client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 201, r.text


def _link_token(mail: Message) -> str:
    text = mail.get_payload(decode=True)
    assert isinstance(text, bytes)
    found = re.search(r"https://chat\.example\.com/reset-password#token=(\S+)", text.decode())
    assert found, text
    return found.group(1)


async def _mail_for(inbox: Inbox, to: str) -> Message:
    await eventually(lambda: any(m["To"] == to for m in inbox.mails), what=f"a mail to {to}")
    return next(m for m in inbox.mails if m["To"] == to)


async def test_the_mailed_link_sets_a_new_password_once(
    client: httpx.AsyncClient, inbox: Inbox
) -> None:
    await _register(client, "rosa", "Rosa@Example.com")
    signed_in = (await client.post(TOKEN, data={"username": "rosa", "password": PASSWORD})).json()
    r = await client.post(ASK, json={"login": "rosa@example.COM"})  # the address, any case
    assert r.status_code == 202
    mail = await _mail_for(inbox, "rosa@example.com")
    assert mail["Subject"] == "Reset your chatapi password"
    assert mail["From"] == "chatapi <chat@example.com>"
    token = _link_token(mail)
    r = await client.post(CONFIRM, json={"token": token, "new_password": NEW})
    assert r.status_code == 204, r.text
    # The new password signs in, the old one not; every session was signed out.
    assert (await client.post(TOKEN, data={"username": "rosa", "password": NEW})).is_success
    old = await client.post(TOKEN, data={"username": "rosa", "password": PASSWORD})
    assert old.status_code == 401
    r = await client.get(ME, headers={"Authorization": f"Bearer {signed_in['access_token']}"})
    assert r.status_code == 401
    # A second use fails, and changes nothing.
    r = await client.post(CONFIRM, json={"token": token, "new_password": "yet another one"})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_reset_token")
    assert (await client.post(TOKEN, data={"username": "rosa", "password": NEW})).is_success


async def test_the_answer_is_the_same_whether_or_not_an_account_matches(
    client: httpx.AsyncClient, inbox: Inbox
) -> None:
    await _register(client, "noemail", None)
    await _register(client, "hasmail", "has@example.com")
    answers = []
    for login in ("nobody-here", "noemail", "hasmail", "ghost@example.com"):
        r = await client.post(ASK, json={"login": login})
        answers.append((r.status_code, r.json()))
    assert len(set(map(str, answers))) == 1 and answers[0][0] == 202
    await _mail_for(inbox, "has@example.com")
    assert [m["To"] for m in inbox.mails] == ["has@example.com"]


async def test_only_the_newest_link_works_and_none_after_30_minutes(
    app: Any, client: httpx.AsyncClient, inbox: Inbox
) -> None:
    await _register(client, "tom", "tom@example.com")
    for _ in range(2):
        assert (await client.post(ASK, json={"login": "tom"})).status_code == 202
    await eventually(lambda: len(inbox.mails) == 2, what="two mails")
    first, second = (_link_token(m) for m in inbox.mails)
    r = await client.post(CONFIRM, json={"token": first, "new_password": NEW})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_reset_token")
    # The newest one, 31 minutes later: expired.
    async with app.state.chat.uow() as uow:
        await uow.session.execute(
            update(PasswordReset).values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await uow.commit()
    r = await client.post(CONFIRM, json={"token": second, "new_password": NEW})
    assert (r.status_code, r.json()["code"]) == (400, "invalid_reset_token")
    assert (await client.post(TOKEN, data={"username": "tom", "password": PASSWORD})).is_success


async def test_two_uses_of_one_link_at_once_set_one_password(
    client: httpx.AsyncClient, inbox: Inbox
) -> None:
    await _register(client, "uma", "uma@example.com")
    await client.post(ASK, json={"login": "uma"})
    token = _link_token(await _mail_for(inbox, "uma@example.com"))
    answers = await asyncio.gather(
        client.post(CONFIRM, json={"token": token, "new_password": "first new password"}),
        client.post(CONFIRM, json={"token": token, "new_password": "second new password"}),
    )
    assert sorted(r.status_code for r in answers) == [204, 400]
    winner = "first new password" if answers[0].status_code == 204 else "second new password"
    assert (await client.post(TOKEN, data={"username": "uma", "password": winner})).is_success


@pytest.mark.parametrize("bad", ["", "x" * 129, "not-a-real-token"])
async def test_a_bad_token_or_password_is_refused(
    client: httpx.AsyncClient, inbox: Inbox, bad: str
) -> None:
    r = await client.post(CONFIRM, json={"token": bad, "new_password": NEW})
    assert r.status_code in (400, 422)
    if r.status_code == 400:
        assert r.json()["code"] == "invalid_reset_token"
    r = await client.post(CONFIRM, json={"token": "whatever", "new_password": "short"})
    assert r.status_code == 422


async def test_asking_is_rate_limited_per_address(client: httpx.AsyncClient, inbox: Inbox) -> None:
    for i in range(5):  # PASSWORD_RESET_RATE_LIMIT's default: 5 per hour
        assert (await client.post(ASK, json={"login": f"who{i}"})).status_code == 202
    r = await client.post(ASK, json={"login": "who-else"})
    assert (r.status_code, r.json()["code"]) == (429, "rate_limited")


async def test_the_email_address_is_yours_to_see_and_change(
    client: httpx.AsyncClient, signup: Signup, inbox: Inbox
) -> None:
    alice, bob = await signup(), await signup()
    r = await client.patch(ME, json={"email": "Alice@Example.com"}, headers=alice.headers)
    assert (r.status_code, r.json()["email"]) == (200, "alice@example.com")
    assert (await client.get(ME, headers=alice.headers)).json()["email"] == "alice@example.com"
    seen = await client.get(f"/api/v1/users/{alice.id}", headers=bob.headers)
    assert seen.json()["email"] is None  # nobody else sees it
    r = await client.patch(ME, json={"email": "alice@example.com"}, headers=bob.headers)
    assert (r.status_code, r.json()["code"]) == (409, "email_taken")
    r = await client.patch(ME, json={"email": "not an address"}, headers=bob.headers)
    assert r.status_code == 422
    r = await client.post(
        "/api/v1/auth/register",
        json={"username": "carol", "password": PASSWORD, "email": "ALICE@example.com"},
    )
    assert (r.status_code, r.json()["code"]) == (409, "email_taken")
    # The display name alone changes the name only; null removes the address.
    r = await client.patch(ME, json={"display_name": "Alice A."}, headers=alice.headers)
    assert r.json()["email"] == "alice@example.com"
    r = await client.patch(ME, json={"email": None}, headers=alice.headers)
    assert r.json()["email"] is None
    assert (await client.get("/api/v1/auth/providers")).json()["password_reset"] is True


class TestWithoutSmtp:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {}

    async def test_the_feature_is_off_and_says_so(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/auth/providers")).json()["password_reset"] is False
        r = await client.post(ASK, json={"login": "anyone"})
        assert (r.status_code, r.json()["code"]) == (403, "password_reset_unavailable")
        r = await client.post(CONFIRM, json={"token": "t", "new_password": NEW})
        assert (r.status_code, r.json()["code"]) == (403, "password_reset_unavailable")
