"""The account's own security: the list of signed-in sessions (devices), signing one out
or every other one, and changing the password (which signs out every other session)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from chatapi.services import auth
from helpers import PASSWORD, Signup

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/users/me"
SESSIONS = "/api/v1/users/me/sessions"
PASSWORD_URL = "/api/v1/users/me/password"

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def _bearer(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


async def _login(
    client: httpx.AsyncClient, username: str, *, agent: str = "", password: str = PASSWORD
) -> dict[str, str]:
    r = await client.post(
        TOKEN,
        data={"username": username, "password": password},
        headers={"User-Agent": agent} if agent else {},
    )
    assert r.status_code == 200, r.text
    tokens: dict[str, str] = r.json()
    return tokens


async def _sessions(client: httpx.AsyncClient, access: str) -> list[dict[str, object]]:
    r = await client.get(SESSIONS, headers=_bearer(access))
    assert r.status_code == 200, r.text
    found: list[dict[str, object]] = r.json()
    return found


async def test_each_sign_in_is_listed_with_its_device_and_the_asking_one_is_current(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    laptop = await _login(client, alice.username, agent=FIREFOX_WINDOWS)
    phone = await _login(client, alice.username, agent=SAFARI_IPHONE)
    listed = await _sessions(client, laptop["access_token"])
    assert len(listed) == 3  # signup's own login too
    assert [s["current"] for s in listed].count(True) == 1
    by_browser = {s["browser"]: s for s in listed}
    assert by_browser["Firefox 133"]["os"] == "Windows"
    assert by_browser["Firefox 133"]["current"] is True
    assert by_browser["Mobile Safari 17"]["os"] == "iOS"
    assert by_browser["Mobile Safari 17"]["user_agent"] == SAFARI_IPHONE
    assert all(s["method"] == "password" and s["address"] for s in listed)
    # The phone's own list marks the phone.
    mine = [s for s in await _sessions(client, phone["access_token"]) if s["current"]]
    assert [s["browser"] for s in mine] == ["Mobile Safari 17"]
    # Another person's list holds none of these.
    bob = await signup()
    assert {str(s["id"]) for s in await _sessions(client, bob.access_token)}.isdisjoint(
        {str(s["id"]) for s in listed}
    )


async def test_a_refresh_marks_the_session_used_from_where_it_came(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    before = {s["id"]: s for s in await _sessions(client, alice.access_token)}
    r = await client.post(
        REFRESH,
        json={"refresh_token": alice.refresh_token},
        headers={"User-Agent": FIREFOX_WINDOWS},
    )
    assert r.status_code == 200
    after = await _sessions(client, r.json()["access_token"])
    assert len(after) == 1 and after[0]["id"] in before  # the same session, still one
    assert after[0]["browser"] == "Firefox 133"
    assert str(after[0]["last_used_at"]) > str(before[after[0]["id"]]["last_used_at"])


async def test_signing_out_a_device_ends_its_tokens_and_no_other(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    lost_phone = await _login(client, alice.username, agent=SAFARI_IPHONE)
    phone_id = next(s["id"] for s in await _sessions(client, alice.access_token) if s["browser"])
    r = await client.delete(f"{SESSIONS}/{phone_id}", headers=alice.headers)
    assert r.status_code == 204
    r = await client.get(ME, headers=_bearer(lost_phone["access_token"]))
    assert (r.status_code, r.json()["code"]) == (401, "invalid_token")
    r = await client.post(REFRESH, json={"refresh_token": lost_phone["refresh_token"]})
    assert r.status_code == 401
    assert [s["current"] for s in await _sessions(client, alice.access_token)] == [True]
    # Signed out already, unknown, or someone else's: 404, nothing changes.
    bob = await signup()
    bobs = (await _sessions(client, bob.access_token))[0]["id"]
    for session_id in (phone_id, str(uuid.uuid4()), bobs):
        r = await client.delete(f"{SESSIONS}/{session_id}", headers=alice.headers)
        assert (r.status_code, r.json()["code"]) == (404, "session_not_found")
    assert (await client.get(ME, headers=bob.headers)).status_code == 200
    r = await client.delete(f"{SESSIONS}/not-a-uuid", headers=alice.headers)
    assert r.status_code == 422


async def test_sign_out_everywhere_else_keeps_only_the_asking_session(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    others = [await _login(client, alice.username) for _ in range(2)]
    r = await client.delete(SESSIONS, headers=alice.headers)
    assert r.status_code == 204
    for other in others:
        assert (await client.get(ME, headers=_bearer(other["access_token"]))).status_code == 401
    assert (await client.get(ME, headers=alice.headers)).status_code == 200
    r = await client.post(REFRESH, json={"refresh_token": alice.refresh_token})
    assert r.status_code == 200
    assert len(await _sessions(client, r.json()["access_token"])) == 1


async def test_a_password_change_signs_out_every_other_session(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    other = await _login(client, alice.username)
    new = "a much longer passphrase"
    r = await client.post(
        PASSWORD_URL,
        json={"current_password": PASSWORD, "new_password": new},
        headers=alice.headers,
    )
    assert r.status_code == 204, r.text
    r = await client.get(ME, headers=_bearer(other["access_token"]))
    assert (r.status_code, r.json()["code"]) == (401, "invalid_token")
    assert (
        await client.post(REFRESH, json={"refresh_token": other["refresh_token"]})
    ).status_code == 401
    # This session stays signed in and can refresh; the new password signs in, the old not.
    assert (await client.get(ME, headers=alice.headers)).status_code == 200
    assert (
        await client.post(REFRESH, json={"refresh_token": alice.refresh_token})
    ).status_code == 200
    r = await client.post(TOKEN, data={"username": alice.username, "password": PASSWORD})
    assert (r.status_code, r.json()["code"]) == (401, "invalid_credentials")
    await _login(client, alice.username, password=new)


async def test_a_wrong_current_password_changes_nothing(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    other = await _login(client, alice.username)
    r = await client.post(
        PASSWORD_URL,
        json={"current_password": "not my password", "new_password": "a much longer one"},
        headers=alice.headers,
    )
    assert (r.status_code, r.json()["code"]) == (403, "wrong_password")
    assert (await client.get(ME, headers=_bearer(other["access_token"]))).status_code == 200
    await _login(client, alice.username)  # the old password still works
    for bad in (
        {"current_password": PASSWORD, "new_password": "short"},
        {"current_password": PASSWORD},
        {"current_password": "", "new_password": "a much longer one"},
    ):
        r = await client.post(PASSWORD_URL, json=bad, headers=alice.headers)
        assert r.status_code == 422, bad
    r = await client.post(
        PASSWORD_URL, json={"current_password": PASSWORD, "new_password": "x" * 9}
    )
    assert r.status_code == 401


@pytest.mark.parametrize("settings_overrides", [{"login_rate_limit": "3/minute"}])
async def test_guessing_the_current_password_is_rate_limited_like_logins(
    client: httpx.AsyncClient, signup: Signup, settings_overrides: dict[str, str]
) -> None:
    alice = await signup()
    guess = {"current_password": "guess-guess", "new_password": "a much longer one"}
    for _ in range(3):
        r = await client.post(PASSWORD_URL, json=guess, headers=alice.headers)
        assert r.status_code == 403
    right = {"current_password": PASSWORD, "new_password": "a much longer one"}
    r = await client.post(PASSWORD_URL, json=right, headers=alice.headers)
    assert (r.status_code, r.json()["code"]) == (429, "rate_limited")


async def test_an_account_without_a_password_has_none_to_change(
    app: object, client: httpx.AsyncClient
) -> None:
    state = app.state.chat  # type: ignore[attr-defined]
    async with state.uow() as uow:
        user = await auth.create_account(
            uow, username="ssoonly", display_name="SSO only", password=None
        )
        tokens = await auth.start_session(
            uow, user_id=user.id, policy=state.token_policy, method="corp"
        )
        await uow.commit()
    listed = await _sessions(client, tokens.access_token)
    assert [s["method"] for s in listed] == ["corp"]
    r = await client.post(
        PASSWORD_URL,
        json={"current_password": "anything", "new_password": "a much longer one"},
        headers=_bearer(tokens.access_token),
    )
    assert (r.status_code, r.json()["code"]) == (409, "password_not_set")
