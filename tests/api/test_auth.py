"""Accounts and tokens: register, log in, refresh rotation, reuse detection, logout."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from jose import jwt
from sqlalchemy import func, select

# src imports (module paths may move with the code under test)
from chatapi import security
from chatapi.models import RefreshToken, User
from helpers import PASSWORD, Signup

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/users/me"


async def _count_users(app: object) -> int:
    state = app.state.chat  # type: ignore[attr-defined]
    async with state.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(User)))


async def test_register_returns_user_without_password_hash(client: httpx.AsyncClient) -> None:
    r = await client.post(
        REGISTER, json={"username": "alice", "password": PASSWORD, "display_name": "Alice A."}
    )
    assert r.status_code == 201
    body = r.json()
    assert body["username"] == "alice"
    assert body["display_name"] == "Alice A."
    assert set(body) == {
        "id",
        "username",
        "display_name",
        "created_at",
        "online",
        "last_seen_at",
        "email",
        "avatar_url",
        "avatar_thumb_url",
        "role",
    }
    assert "hash" not in r.text and "argon2" not in r.text


async def test_register_taken_username_in_any_case_is_409(
    client: httpx.AsyncClient, app: object
) -> None:
    assert (
        await client.post(REGISTER, json={"username": "bob", "password": PASSWORD})
    ).status_code == 201
    r = await client.post(REGISTER, json={"username": "BoB", "password": PASSWORD})
    assert r.status_code == 409
    assert r.json()["code"] == "username_taken"
    assert await _count_users(app) == 1


@pytest.mark.parametrize("username", ["ab", "x" * 33, "has space", "émile", "semi;colon", ""])
async def test_register_invalid_username_is_422(
    client: httpx.AsyncClient, app: object, username: str
) -> None:
    r = await client.post(REGISTER, json={"username": username, "password": PASSWORD})
    assert r.status_code == 422
    assert r.json()["code"] == "validation_error"
    assert isinstance(r.json()["detail"], list)
    assert await _count_users(app) == 0


async def test_register_short_password_is_422(client: httpx.AsyncClient, app: object) -> None:
    r = await client.post(REGISTER, json={"username": "carol", "password": "short"})
    assert r.status_code == 422
    assert await _count_users(app) == 0


async def test_register_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post(
        REGISTER, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422


async def test_login_with_form_returns_bearer_pair(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    acct = await signup("dave")
    r = await client.post(TOKEN, data={"username": "DAVE", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    me = await client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == acct.id


async def test_login_malformed_form_is_422(client: httpx.AsyncClient) -> None:
    r = await client.post(TOKEN, data={"username": "x"})
    assert r.status_code == 422
    r = await client.post(TOKEN, json={"username": "x", "password": "y"})
    assert r.status_code == 422


async def test_unknown_user_and_wrong_password_answer_the_same(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    await signup("erin")
    wrong = await client.post(TOKEN, data={"username": "erin", "password": "not the password"})
    unknown = await client.post(TOKEN, data={"username": "nobody-here", "password": "whatever1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers["www-authenticate"] == "Bearer"


async def test_unknown_user_login_verifies_a_dummy_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = security._pwd.verify

    def spy(secret: str, hash: str) -> bool:
        calls.append(hash)
        return bool(original(secret, hash))

    monkeypatch.setattr(security._pwd, "verify", spy)
    assert security.verify_password("whatever1", None) is False
    assert calls == [security._DUMMY_HASH]


@pytest.mark.parametrize("settings_overrides", [{"login_rate_limit": "3/minute"}])
async def test_repeated_failed_logins_for_one_username_are_rate_limited(
    client: httpx.AsyncClient, signup: Signup, settings_overrides: dict[str, str]
) -> None:
    await signup("frank")
    for _ in range(3):
        r = await client.post(TOKEN, data={"username": "frank", "password": "wrong-password"})
        assert r.status_code == 401
    r = await client.post(TOKEN, data={"username": "frank", "password": PASSWORD})
    assert r.status_code == 429
    assert r.json()["code"] == "rate_limited"
    assert int(r.headers["retry-after"]) >= 1


@pytest.mark.parametrize("settings_overrides", [{"login_address_rate_limit": "3/minute"}])
async def test_failed_logins_from_one_address_are_rate_limited_across_usernames(
    client: httpx.AsyncClient, settings_overrides: dict[str, str]
) -> None:
    for i in range(3):
        r = await client.post(TOKEN, data={"username": f"ghost{i}", "password": "wrong-password"})
        assert r.status_code == 401
    r = await client.post(TOKEN, data={"username": "ghost-new", "password": "wrong-password"})
    assert r.status_code == 429


async def test_one_persons_typos_do_not_lock_out_their_office(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    """With the default limits, everyone signs in from one shared address: one account's
    ten wrong passwords lock that account only."""
    frank, grace = await signup(), await signup()
    for _ in range(10):
        r = await client.post(TOKEN, data={"username": frank.username, "password": "typo-typo"})
        assert r.status_code == 401
    r = await client.post(TOKEN, data={"username": grace.username, "password": PASSWORD})
    assert r.status_code == 200
    r = await client.post(TOKEN, data={"username": frank.username, "password": PASSWORD})
    assert (r.status_code, r.json()["code"]) == (429, "rate_limited")
    assert "account" in r.json()["detail"]


async def test_refresh_rotates_and_the_old_token_is_spent(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    acct = await signup()
    r = await client.post(REFRESH, json={"refresh_token": acct.refresh_token})
    assert r.status_code == 200
    new = r.json()
    assert new["refresh_token"] != acct.refresh_token
    assert (
        await client.get(ME, headers={"Authorization": f"Bearer {new['access_token']}"})
    ).status_code == 200
    again = await client.post(REFRESH, json={"refresh_token": acct.refresh_token})
    assert again.status_code == 401
    assert again.json()["code"] == "refresh_token_reused"


async def test_reusing_a_spent_refresh_token_revokes_the_whole_family(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    acct = await signup()
    second = (await client.post(REFRESH, json={"refresh_token": acct.refresh_token})).json()
    # An attacker replays the first token: the legitimate newer token dies too.
    assert (
        await client.post(REFRESH, json={"refresh_token": acct.refresh_token})
    ).status_code == 401
    r = await client.post(REFRESH, json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 401
    # Another login (another family) is unaffected.
    other = await client.post(TOKEN, data={"username": acct.username, "password": PASSWORD})
    assert (
        await client.post(REFRESH, json={"refresh_token": other.json()["refresh_token"]})
    ).status_code == 200


async def test_refresh_tokens_are_stored_hashed(
    client: httpx.AsyncClient, signup: Signup, app: object
) -> None:
    acct = await signup()
    async with app.state.chat.uow() as uow:  # type: ignore[attr-defined]
        rows = (await uow.session.scalars(select(RefreshToken))).all()
    assert rows
    for row in rows:
        assert row.token_hash != acct.refresh_token
        assert acct.refresh_token not in row.token_hash
    assert security.token_digest(acct.refresh_token) in {r.token_hash for r in rows}


async def test_logout_revokes_the_family(client: httpx.AsyncClient, signup: Signup) -> None:
    acct = await signup()
    second = (await client.post(REFRESH, json={"refresh_token": acct.refresh_token})).json()
    r = await client.post(LOGOUT, json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 204
    assert (
        await client.post(REFRESH, json={"refresh_token": second["refresh_token"]})
    ).status_code == 401


async def test_refresh_token_is_not_an_access_token(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    acct = await signup()
    r = await client.get(ME, headers={"Authorization": f"Bearer {acct.refresh_token}"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


async def test_access_token_is_not_a_refresh_token(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    acct = await signup()
    r = await client.post(REFRESH, json={"refresh_token": acct.access_token})
    assert r.status_code == 401


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_alg_none_token_is_refused(client: httpx.AsyncClient, signup: Signup) -> None:
    acct = await signup()
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "iss": "chatapi",
        "sub": acct.id,
        "jti": str(uuid.uuid4()),
        "typ": "access",
        "iat": now,
        "exp": now + 600,
    }
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    r = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


async def test_wrongly_signed_token_is_refused(client: httpx.AsyncClient, signup: Signup) -> None:
    acct = await signup()
    forged, _ = security.issue_token(
        key="another-key", subject=uuid.UUID(acct.id), token_type="access", ttl_seconds=600
    )
    r = await client.get(ME, headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_token"


async def test_expired_token_is_refused(
    client: httpx.AsyncClient, signup: Signup, settings: object
) -> None:
    acct = await signup()
    expired, _ = security.issue_token(
        key=settings.signing_key,
        subject=uuid.UUID(acct.id),
        token_type="access",  # type: ignore[attr-defined]
        ttl_seconds=60,
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    r = await client.get(ME, headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401


async def test_hs_token_with_other_algorithm_header_is_refused(
    client: httpx.AsyncClient, signup: Signup, settings: object
) -> None:
    acct = await signup()
    now = int(datetime.now(UTC).timestamp())
    token = jwt.encode(
        {
            "iss": "chatapi",
            "sub": acct.id,
            "jti": str(uuid.uuid4()),
            "typ": "access",
            "iat": now,
            "exp": now + 600,
        },
        settings.signing_key,
        algorithm="HS512",
    )  # type: ignore[attr-defined]
    assert (await client.get(ME, headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_token_of_deleted_user_is_refused(client: httpx.AsyncClient, signup: Signup) -> None:
    acct = await signup()
    r = await client.request("DELETE", ME, json={"password": PASSWORD}, headers=acct.headers)
    assert r.status_code == 204
    assert (await client.get(ME, headers=acct.headers)).status_code == 401
    assert (
        await client.post(REFRESH, json={"refresh_token": acct.refresh_token})
    ).status_code == 401
    r = await client.post(TOKEN, data={"username": acct.username, "password": PASSWORD})
    assert r.status_code == 401


async def test_missing_token_is_401_with_bearer_challenge(client: httpx.AsyncClient) -> None:
    r = await client.get(ME)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["code"] == "not_authenticated"


async def test_users_search_by_prefix_and_by_id(client: httpx.AsyncClient, signup: Signup) -> None:
    me = await signup("searcher")
    await signup("zed_one")
    other = await signup("zed_two")
    await signup("amy")
    r = await client.get("/api/v1/users", params={"q": "ZED"}, headers=me.headers)
    assert r.status_code == 200
    assert [u["username"] for u in r.json()] == ["zed_one", "zed_two"]
    r = await client.get("/api/v1/users", params={"q": "%"}, headers=me.headers)
    assert r.json() == []
    r = await client.get(f"/api/v1/users/{other.id}", headers=me.headers)
    assert r.status_code == 200 and r.json()["username"] == "zed_two"
    r = await client.get(f"/api/v1/users/{uuid.uuid4()}", headers=me.headers)
    assert r.status_code == 404 and r.json()["code"] == "user_not_found"
    r = await client.get("/api/v1/users/not-a-uuid", headers=me.headers)
    assert r.status_code == 422


async def test_cors_allows_only_configured_origins(client: httpx.AsyncClient) -> None:
    ok = await client.options(
        ME, headers={"Origin": "http://allowed.example", "Access-Control-Request-Method": "GET"}
    )
    assert ok.headers.get("access-control-allow-origin") == "http://allowed.example"
    bad = await client.options(
        ME, headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in bad.headers


async def test_docs_authorize_flow_is_declared(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/api/v1/auth/token"
    assert "security" in spec["paths"]["/api/v1/users/me"]["get"]
    assert (await client.get("/docs")).status_code == 200
