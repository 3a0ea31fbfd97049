"""Web Push notifications, end to end against a real push service on loopback: the app
signs with its VAPID key (the service checks it as a real one does), encrypts for the
subscription, and the test decrypts what arrived with the browser's keys (http_ece).

Also: the subscription endpoints (validation, idempotence, ownership, the per-user cap),
the settings that steer pushes, mute and mentions, expired subscriptions, retries, and
signing a device out."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from chatapi import cli, metrics
from chatapi.db import create_engine
from chatapi.domain import TimelineAppended
from chatapi.main import create_app
from chatapi.models import PushSubscription
from chatapi.realtime.presence import LocalPresence
from chatapi.schemas import EventRead, MessageRead
from chatapi.services.push import Pusher
from chatapi.settings import ConfigError, Settings
from helpers import (
    CONV,
    PASSWORD,
    Account,
    Signup,
    elapse,
    eventually,
    fresh_database_url,
    group,
    make_settings,
)
from servers import BrowserSubscription, PushService

PUSH = "/api/v1/push"
SETTINGS = "/api/v1/users/me/settings"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "push_allow_http_loopback": True,
        "push_retry_base_seconds": 0.05,
        "push_max_subscriptions_per_user": 3,
    }


@pytest.fixture
async def push_service(client: httpx.AsyncClient) -> AsyncIterator[PushService]:
    service = PushService()
    await service.start()
    r = await client.get(f"{PUSH}/vapid-public-key")
    assert r.status_code == 200, r.text
    service.vapid_public_key = r.json()["public_key"]
    yield service
    await service.aclose()


async def subscribe(
    client: httpx.AsyncClient, who: Account, service: PushService
) -> BrowserSubscription:
    browser = BrowserSubscription(service.endpoint())
    r = await client.post(f"{PUSH}/subscriptions", json=browser.json(), headers=who.headers)
    assert r.status_code == 201, r.text
    return browser


async def direct(client: httpx.AsyncClient, a: Account, b: Account) -> str:
    r = await client.post(CONV, headers=a.headers, json={"kind": "direct", "member_ids": [b.id]})
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


async def post(
    client: httpx.AsyncClient, who: Account, conv: str, body: str, **extra: Any
) -> dict[str, Any]:
    r = await client.post(
        f"{CONV}/{conv}/messages", headers=who.headers, json={"body": body, **extra}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def pushed(
    service: PushService, browser: BrowserSubscription, count: int = 1
) -> list[dict[str, Any]]:
    """The first `count` pushes that reached `browser`, decrypted (after they arrived)."""
    arrived = await eventually(
        lambda: (
            len(ok := [r for r in service.to(browser.endpoint) if r.status < 300]) >= count and ok
        ),
        what=f"{count} push(es) to {browser.endpoint}",
    )
    for request in arrived:
        assert request.problems == []
    return [browser.decrypt(r.body) for r in arrived[:count]]


async def nothing_more(
    client: httpx.AsyncClient,
    service: PushService,
    browser: BrowserSubscription,
    *,
    expected: int = 0,
) -> None:
    """No (further) push reaches `browser`: a later message to a control member arrives
    first, and a moment after it there is still none."""
    sender, control = await signups(client, 2)
    control_browser = await subscribe(client, control, service)
    await post(client, sender, await direct(client, sender, control), "control")
    await pushed(service, control_browser)
    await elapse(0.2, "a push queued before the control one would have arrived by now")
    assert len(service.to(browser.endpoint)) == expected


async def signups(client: httpx.AsyncClient, n: int) -> list[Account]:
    accounts = []
    for _ in range(n):
        name = f"u{uuid.uuid4().hex[:10]}"
        r = await client.post(
            "/api/v1/auth/register", json={"username": name, "password": PASSWORD}
        )
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]
        r = await client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
        tokens = r.json()
        accounts.append(Account(user_id, name, tokens["access_token"], tokens["refresh_token"]))
    return accounts


async def stored_endpoints(settings: Settings) -> set[str]:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with engine.connect() as conn:
            return set((await conn.execute(select(PushSubscription.endpoint))).scalars())
    finally:
        await engine.dispose()


# --- delivery -----------------------------------------------------------------------------


async def test_a_direct_message_to_an_offline_member_arrives_encrypted_with_its_preview(
    client: httpx.AsyncClient, signup: Signup, push_service: PushService
) -> None:
    alice, bob = await signup(), await signup()
    await client.patch("/api/v1/users/me", json={"display_name": "Alice"}, headers=alice.headers)
    browser = await subscribe(client, bob, push_service)
    conv = await direct(client, alice, bob)
    msg = await post(client, alice, conv, "Lunch at   noon?\nSee you")
    (data,) = await pushed(push_service, browser)
    assert data == {
        "type": "message",
        "conversation_id": conv,
        "message_id": msg["id"],
        "seq": msg["seq"],
        "title": "Alice",
        "body": "Lunch at noon? See you",
        "tag": f"conversation:{conv}",
        "url": f"/c/{conv}",
        "mention": False,
    }
    (request,) = push_service.to(browser.endpoint)
    assert request.headers["ttl"] == str(24 * 3600)
    assert request.headers["urgency"] == "normal"
    # The sender gets nothing for their own message, not even on their own devices.
    own = await subscribe(client, alice, push_service)
    await post(client, alice, conv, "again")
    await pushed(push_service, browser, 2)
    await nothing_more(client, push_service, own)


async def test_a_group_push_names_the_group_and_a_long_text_is_cut(
    client: httpx.AsyncClient, signup: Signup, push_service: PushService
) -> None:
    alice, bob = await signup(), await signup()
    await client.patch("/api/v1/users/me", json={"display_name": "Alice"}, headers=alice.headers)
    browser = await subscribe(client, bob, push_service)
    conv = str((await group(client, alice, bob, title="Team"))["id"])
    await post(client, alice, conv, "é" * 4000)
    (data,) = await pushed(push_service, browser)
    assert data["title"] == "Alice · Team"
    assert data["body"].startswith("éé") and data["body"].endswith("…")
    assert len(data["body"]) <= 500
    assert len(push_service.to(browser.endpoint)[0].body) <= 4096


async def test_previews_off_says_new_message_but_names_sender_and_conversation(
    client: httpx.AsyncClient, signup: Signup, push_service: PushService
) -> None:
    alice, bob = await signup(), await signup()
    await client.patch("/api/v1/users/me", json={"display_name": "Alice"}, headers=alice.headers)
    browser = await subscribe(client, bob, push_service)
    r = await client.patch(SETTINGS, json={"notification_previews": False}, headers=bob.headers)
    assert r.json() == {
        "notifications": True,
        "notification_previews": False,
        "notification_sound": True,
    }
    conv = str((await group(client, alice, bob, title="Team"))["id"])
    await post(client, alice, conv, "the secret plan")
    (data,) = await pushed(push_service, browser)
    assert data["body"] == "New message"
    assert data["title"] == "Alice · Team"
    assert b"secret" not in push_service.to(browser.endpoint)[0].body


async def test_notifications_off_means_no_push_to_any_device(
    client: httpx.AsyncClient, signup: Signup, push_service: PushService
) -> None:
    alice, bob = await signup(), await signup()
    phone, laptop = (
        await subscribe(client, bob, push_service),
        await subscribe(client, bob, push_service),
    )
    r = await client.patch(SETTINGS, json={"notifications": False}, headers=bob.headers)
    assert r.status_code == 200 and r.json()["notifications"] is False
    conv = await direct(client, alice, bob)
    await post(client, alice, conv, "hello?")
    await nothing_more(client, push_service, phone)
    assert push_service.to(laptop.endpoint) == []
    # On again: both devices get the next one.
    await client.patch(SETTINGS, json={"notifications": True}, headers=bob.headers)
    await post(client, alice, conv, "now?")
    assert (await pushed(push_service, phone))[0]["body"] == "now?"
    assert (await pushed(push_service, laptop))[0]["body"] == "now?"


async def test_a_muted_conversation_pushes_only_mentions(
    client: httpx.AsyncClient, signup: Signup, push_service: PushService
) -> None:
    alice, bob = await signup(), await signup()
    browser = await subscribe(client, bob, push_service)
    conv = str((await group(client, alice, bob, title="Team"))["id"])
    r = await client.patch(f"{CONV}/{conv}/settings", json={"mute": "always"}, headers=bob.headers)
    assert r.status_code == 200
    await post(client, alice, conv, "chatter nobody needs to hear")
    await nothing_more(client, push_service, browser)
    await post(client, alice, conv, f"@{bob.username} can you look?")
    (data,) = await pushed(push_service, browser)
    assert data["mention"] is True
    assert data["body"] == f"@{bob.username} can you look?"
    assert push_service.to(browser.endpoint)[0].headers["urgency"] == "high"


async def test_attachments_are_previewed_by_kind(
    client: httpx.AsyncClient, signup: Signup, push_service: PushService
) -> None:
    alice, bob = await signup(), await signup()
    browser = await subscribe(client, bob, push_service)
    conv = await direct(client, alice, bob)
    r = await client.post(
        "/api/v1/media",
        headers=alice.headers,
        files={
            "file": (
                "report.pdf",
                b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
                "application/pdf",
            )
        },
    )
    assert r.status_code == 201, r.text
    await post(client, alice, conv, "", attachment_ids=[r.json()["id"]])
    (data,) = await pushed(push_service, browser)
    assert data["body"] == "📄 report.pdf"


async def test_a_subscription_its_push_service_says_is_gone_is_deleted(
    client: httpx.AsyncClient, signup: Signup, push_service: PushService, settings: Settings
) -> None:
    alice, bob = await signup(), await signup()
    browser = await subscribe(client, bob, push_service)
    push_service.script(browser.endpoint, 410)
    await post(client, alice, await direct(client, alice, bob), "anyone?")
    await eventually(lambda: push_service.to(browser.endpoint), what="the push")

    async def gone() -> bool:
        r = await client.get(f"{PUSH}/subscriptions", headers=bob.headers)
        return r.json() == []

    await eventually(gone, what="the subscription deleted")
    assert browser.endpoint not in await stored_endpoints(settings)


async def test_a_push_that_fails_with_500_or_429_is_retried_and_delivered_once(
    client: httpx.AsyncClient, signup: Signup, push_service: PushService
) -> None:
    alice, bob = await signup(), await signup()
    browser = await subscribe(client, bob, push_service)
    push_service.script(browser.endpoint, 500, 429, 201)
    await post(client, alice, await direct(client, alice, bob), "persist")
    (data,) = await pushed(push_service, browser)
    assert data["body"] == "persist"
    assert [r.status for r in push_service.to(browser.endpoint)] == [500, 429, 201]
    await nothing_more(client, push_service, browser, expected=3)


async def test_a_push_service_that_keeps_failing_is_given_up_after_the_attempts(
    client: httpx.AsyncClient, signup: Signup, push_service: PushService, settings: Settings
) -> None:
    alice, bob = await signup(), await signup()
    browser = await subscribe(client, bob, push_service)
    push_service.script(browser.endpoint, *[503] * 10)
    failed = metrics.PUSH_FAILED._value.get()
    await post(client, alice, await direct(client, alice, bob), "down")
    await eventually(lambda: metrics.PUSH_FAILED._value.get() > failed, what="the push given up")
    assert len(push_service.to(browser.endpoint)) == settings.push_max_attempts
    # A failing push service is no reason to forget the subscription.
    assert browser.endpoint in await stored_endpoints(settings)


async def test_messages_beyond_the_queue_are_dropped_and_counted() -> None:
    pusher = Pusher(
        uow=lambda: None,  # type: ignore[arg-type,return-value]
        read_uow=lambda: None,  # type: ignore[arg-type,return-value]
        presence=LocalPresence(),
        sender=None,  # type: ignore[arg-type]
        queue_size=2,
        max_attempts=1,
        retry_base_seconds=1,
    )
    dropped = metrics.PUSH_DROPPED._value.get()
    conv = uuid.uuid4()
    events = [
        TimelineAppended(
            EventRead(
                conversation_id=conv,
                seq=seq,
                type="message.new",
                created_at=datetime.now(UTC),
                actor_id=uuid.uuid4(),
                message=MessageRead(
                    id=uuid.uuid4(),
                    conversation_id=conv,
                    seq=seq,
                    sender_id=uuid.uuid4(),
                    body="hi",
                    client_id=None,
                    reply_to_id=None,
                    attachments=[],
                    created_at=datetime.now(UTC),
                    edited_at=None,
                    deleted=False,
                ),
            )
        )
        for seq in (1, 2, 3, 4)
    ]
    pusher.offer(events)  # the worker is not started: nothing is taken from the queue
    assert pusher.dropped == 2
    assert metrics.PUSH_DROPPED._value.get() == dropped + 2


# --- subscriptions ------------------------------------------------------------------------


async def test_the_vapid_public_key_is_an_uncompressed_p256_point(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get(f"{PUSH}/vapid-public-key")
    assert r.status_code == 200
    key = r.json()["public_key"]
    assert "=" not in key
    raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    assert len(raw) == 65 and raw[0] == 4
    # The same key on the next start: it is kept under VAR_DIR.
    assert (await client.get(f"{PUSH}/vapid-public-key")).json()["public_key"] == key


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"endpoint": "ftp://push.example/x"}, "invalid_push_endpoint"),
        ({"endpoint": "http://push.example/x"}, "invalid_push_endpoint"),
        ({"endpoint": "https://10.1.2.3/x"}, "invalid_push_endpoint"),
        ({"endpoint": "https://[fe80::1]/x"}, "invalid_push_endpoint"),
        ({"endpoint": "https:///x"}, "invalid_push_endpoint"),
        ({"keys": {"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "p256dh"),
        ({"keys": {"p256dh": None, "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "p256dh"),
        ({"auth": "c2hvcnQ"}, "auth"),
        ({"keys": None}, "keys"),
    ],
)
async def test_a_bad_subscription_is_refused_with_a_clear_error(
    client: httpx.AsyncClient,
    signup: Signup,
    push_service: PushService,
    change: dict[str, Any],
    where: str,
) -> None:
    bob = await signup()
    body = BrowserSubscription("https://push.example/ok").json()
    if "auth" in change:
        body["keys"]["auth"] = change["auth"]
    else:
        body.update(change)
    r = await client.post(f"{PUSH}/subscriptions", json=body, headers=bob.headers)
    assert r.status_code == 422, r.text
    if where == "invalid_push_endpoint":
        assert r.json()["code"] == "invalid_push_endpoint"
    else:
        assert where in str(r.json()["detail"])
    assert (await client.get(f"{PUSH}/subscriptions", headers=bob.headers)).json() == []


async def test_posting_the_same_endpoint_again_updates_it_and_moves_it_to_the_caller(
    client: httpx.AsyncClient, signup: Signup, push_service: PushService
) -> None:
    alice, bob, carol = await signup(), await signup(), await signup()
    browser = BrowserSubscription(push_service.endpoint())
    first = await client.post(f"{PUSH}/subscriptions", json=browser.json(), headers=bob.headers)
    assert first.status_code == 201
    assert set(first.json()) == {"id", "endpoint", "created_at"}
    again = await client.post(f"{PUSH}/subscriptions", json=browser.json(), headers=bob.headers)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    # Carol signs in on the same browser: the subscription is hers now, with new keys.
    renewed = BrowserSubscription(browser.endpoint)
    r = await client.post(f"{PUSH}/subscriptions", json=renewed.json(), headers=carol.headers)
    assert r.status_code == 200
    assert (await client.get(f"{PUSH}/subscriptions", headers=bob.headers)).json() == []
    await post(client, alice, await direct(client, alice, carol), "for carol")
    (data,) = await pushed(push_service, renewed)
    assert data["body"] == "for carol"


async def test_beyond_the_cap_the_oldest_subscription_is_dropped(
    client: httpx.AsyncClient, signup: Signup, push_service: PushService
) -> None:
    bob = await signup()
    browsers = [await subscribe(client, bob, push_service) for _ in range(4)]
    listed = (await client.get(f"{PUSH}/subscriptions", headers=bob.headers)).json()
    assert [s["endpoint"] for s in listed] == [b.endpoint for b in reversed(browsers[1:])]


async def test_another_user_cannot_delete_your_subscription(
    client: httpx.AsyncClient, signup: Signup, push_service: PushService
) -> None:
    alice, bob, mallory = await signup(), await signup(), await signup()
    browser = await subscribe(client, bob, push_service)
    r = await client.request(
        "DELETE",
        f"{PUSH}/subscriptions",
        json={"endpoint": browser.endpoint},
        headers=mallory.headers,
    )
    assert r.status_code == 204
    await post(client, alice, await direct(client, alice, bob), "still here")
    assert (await pushed(push_service, browser))[0]["body"] == "still here"
    # Bob himself can.
    r = await client.request(
        "DELETE",
        f"{PUSH}/subscriptions",
        json={"endpoint": browser.endpoint},
        headers=bob.headers,
    )
    assert r.status_code == 204
    assert (await client.get(f"{PUSH}/subscriptions", headers=bob.headers)).json() == []


async def test_signing_the_device_out_removes_its_subscription(
    client: httpx.AsyncClient, signup: Signup, push_service: PushService, settings: Settings
) -> None:
    bob = await signup()
    r = await client.post(
        "/api/v1/auth/token", data={"username": bob.username, "password": PASSWORD}
    )
    laptop = Account(bob.id, bob.username, r.json()["access_token"], r.json()["refresh_token"])
    on_phone = await subscribe(client, bob, push_service)
    on_laptop = await subscribe(client, laptop, push_service)
    sessions = (await client.get("/api/v1/users/me/sessions", headers=bob.headers)).json()
    laptop_session = next(s["id"] for s in sessions if not s["current"])
    r = await client.delete(f"/api/v1/users/me/sessions/{laptop_session}", headers=bob.headers)
    assert r.status_code == 204
    assert await stored_endpoints(settings) == {on_phone.endpoint}
    # Logging out the phone removes its subscription too.
    r = await client.post("/api/v1/auth/logout", json={"refresh_token": bob.refresh_token})
    assert r.status_code == 204
    assert on_laptop.endpoint not in await stored_endpoints(settings)
    assert await stored_endpoints(settings) == set()


async def test_a_password_change_keeps_only_this_devices_subscription(
    client: httpx.AsyncClient, signup: Signup, push_service: PushService, settings: Settings
) -> None:
    bob = await signup()
    r = await client.post(
        "/api/v1/auth/token", data={"username": bob.username, "password": PASSWORD}
    )
    other = Account(bob.id, bob.username, r.json()["access_token"], r.json()["refresh_token"])
    mine = await subscribe(client, bob, push_service)
    await subscribe(client, other, push_service)
    r = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "another long passphrase"},
        headers=bob.headers,
    )
    assert r.status_code == 204, r.text
    assert await stored_endpoints(settings) == {mine.endpoint}


# --- settings -----------------------------------------------------------------------------


async def test_settings_default_on_and_persist_per_user(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    bob, carol = await signup(), await signup()
    everything_on = {
        "notifications": True,
        "notification_previews": True,
        "notification_sound": True,
    }
    assert (await client.get(SETTINGS, headers=bob.headers)).json() == everything_on
    r = await client.patch(SETTINGS, json={"notification_sound": False}, headers=bob.headers)
    assert r.status_code == 200
    assert r.json() == {**everything_on, "notification_sound": False}
    r = await client.patch(SETTINGS, json={"notifications": False}, headers=bob.headers)
    assert r.json() == {**everything_on, "notification_sound": False, "notifications": False}
    # Another device of bob's (another login) reads the same; carol's are untouched.
    r = await client.post(
        "/api/v1/auth/token", data={"username": bob.username, "password": PASSWORD}
    )
    other = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert (await client.get(SETTINGS, headers=other)).json()["notification_sound"] is False
    assert (await client.get(SETTINGS, headers=carol.headers)).json() == everything_on


async def test_a_bad_settings_change_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    bob = await signup()
    r = await client.patch(SETTINGS, json={"notifications": "maybe"}, headers=bob.headers)
    assert r.status_code == 422
    r = await client.patch(SETTINGS, json={"volume": 11}, headers=bob.headers)
    assert r.status_code == 422
    assert (await client.get(SETTINGS, headers=bob.headers)).json()["notifications"] is True
    assert (await client.get(SETTINGS)).status_code == 401


class TestPushDisabled:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"push_enabled": False}

    async def test_push_switched_off_answers_push_disabled(
        self, client: httpx.AsyncClient, signup: Signup
    ) -> None:
        bob = await signup()
        r = await client.get(f"{PUSH}/vapid-public-key")
        assert r.status_code == 404 and r.json()["code"] == "push_disabled"
        body = BrowserSubscription("https://push.example/x").json()
        r = await client.post(f"{PUSH}/subscriptions", json=body, headers=bob.headers)
        assert r.status_code == 404 and r.json()["code"] == "push_disabled"
        # Settings still work: the web client's sound, for one.
        r = await client.patch(SETTINGS, json={"notification_sound": False}, headers=bob.headers)
        assert r.status_code == 200


# --- the VAPID key ------------------------------------------------------------------------

_PEM_KEY = ec.generate_private_key(ec.SECP256R1())
_PEM = _PEM_KEY.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
).decode()


def _public_of(key: ec.EllipticCurvePrivateKey) -> str:
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode()


class TestConfiguredPemKey:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"vapid_private_key": _PEM, "push_allow_http_loopback": True}

    async def test_the_configured_key_signs_and_is_advertised(
        self, client: httpx.AsyncClient, signup: Signup, push_service: PushService
    ) -> None:
        assert push_service.vapid_public_key == _public_of(_PEM_KEY)
        alice, bob = await signup(), await signup()
        browser = await subscribe(client, bob, push_service)
        await post(client, alice, await direct(client, alice, bob), "signed")
        assert (await pushed(push_service, browser))[0]["body"] == "signed"


async def test_chatapi_vapid_key_prints_a_key_the_server_advertises(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sqlite_template: Path
) -> None:
    assert cli.main(["vapid-key"]) == 0
    raw = capsys.readouterr().out.strip()
    key = ec.derive_private_key(
        int.from_bytes(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)), "big"),
        ec.SECP256R1(),
    )
    url = fresh_database_url("sqlite", tmp_path, sqlite_template)
    app = create_app(make_settings(tmp_path, url, vapid_private_key=raw))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        r = await c.get(f"{PUSH}/vapid-public-key")
    assert r.json() == {"public_key": _public_of(key)}


def test_a_vapid_key_that_does_not_parse_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="VAPID_PRIVATE_KEY"):
        create_app(make_settings(tmp_path, "sqlite+aiosqlite://", vapid_private_key="nonsense"))


class TestProductionWithoutAKey:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"environment": "production", "secret_key": "s" * 48}

    async def test_push_stays_off_until_a_key_is_set(self, client: httpx.AsyncClient) -> None:
        r = await client.get(f"{PUSH}/vapid-public-key")
        assert r.status_code == 404 and r.json()["code"] == "push_disabled"
