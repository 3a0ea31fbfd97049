"""Single sign-on against a real OpenID Provider (oidc-provider, tests/oidc): the whole
back channel — discovery, the authorization request, the provider's own login and consent
pages, the callback, the code exchange with PKCE, the ID token's verification — and what
chatapi makes of it: accounts created, linked and unlinked, sessions like a password
login's. Every refusal is driven with real codes from the provider's token endpoint."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from chatapi.settings import Settings
from helpers import PASSWORD, Signup, make_settings, oidc_test_providers, through_provider
from servers import OpenIDProviderProcess

OIDC = "/api/v1/auth/oidc"
BACK = "http://testserver/"


@pytest.fixture
def settings_overrides(
    request: pytest.FixtureRequest, openid_provider: OpenIDProviderProcess
) -> dict[str, Any]:
    # No leeway: the expiring client's ID tokens are two seconds old when they arrive.
    return {
        "oidc_providers": oidc_test_providers(openid_provider.issuer),
        "oidc_clock_skew_seconds": 0,
        "oidc_only": getattr(request, "param", None) == "oidc_only",
        "registration": "invite" if getattr(request, "param", None) == "invite" else "open",
    }


async def start(client: httpx.AsyncClient, provider: str = "op", return_to: str = "/") -> str:
    """`GET .../login` as the browser does: the provider's authorization URL."""
    r = await client.get(f"{OIDC}/{provider}/login", params={"return_to": return_to})
    assert r.status_code == 302, r.text
    return r.headers["location"]


async def callback(client: httpx.AsyncClient, url: str) -> str:
    """The provider's redirect back, followed: the web client's one-time code."""
    r = await client.get(url)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert location.startswith("/oidc/callback#code="), location
    return location.split("#code=", 1)[1]


async def exchange(client: httpx.AsyncClient, code: str) -> httpx.Response:
    return await client.post(f"{OIDC}/exchange", json={"code": code})


async def sign_in(
    client: httpx.AsyncClient, provider: str = "op", return_to: str = "/"
) -> httpx.Response:
    """The whole browser round trip: login, provider, callback; the exchange's answer."""
    url = await start(client, provider, return_to)
    back = await through_provider(url, back_to=BACK)
    return await exchange(client, await callback(client, back))


def refused(r: httpx.Response, status: int, code: str) -> None:
    assert (r.status_code, r.json()["code"]) == (status, code), r.text


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def new_account(client: httpx.AsyncClient, username: str = "alice") -> dict[str, Any]:
    """Sign in for the first time and take the proposed account: the signup's tokens."""
    r = await sign_in(client)
    assert r.status_code == 200 and r.json()["outcome"] == "signup", r.text
    r = await client.post(
        f"{OIDC}/signup", json={"ticket": r.json()["ticket"], "username": username}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


# --- the providers ------------------------------------------------------------------------


async def test_providers_are_listed_without_auth(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/auth/providers")
    assert r.status_code == 200
    body = r.json()
    assert body["password_login"] is True and body["registration"] is True
    assert {"name": "op", "label": "Test OP"} in body["providers"]


async def test_the_authorization_request_has_pkce_state_and_nonce(
    client: httpx.AsyncClient, openid_provider: OpenIDProviderProcess
) -> None:
    url = await start(client)
    assert url.startswith(f"{openid_provider.issuer}/auth?")
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["response_type"] == "code" and query["client_id"] == "chatapi"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert query["redirect_uri"] == f"{BACK}api/v1/auth/oidc/op/callback"
    assert set(query["scope"].split()) == {"openid", "profile", "email"}


async def test_an_unknown_provider_is_not_found(client: httpx.AsyncClient) -> None:
    refused(await client.get(f"{OIDC}/nobody/login"), 404, "unknown_provider")


# --- accounts -----------------------------------------------------------------------------


async def test_first_sign_in_proposes_an_account_from_the_provider(
    client: httpx.AsyncClient,
) -> None:
    r = await sign_in(client, return_to="/c/somewhere")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "signup"
    assert body["proposed_username"] == "alice" and body["username_taken"] is False
    assert body["display_name"] == "Alice Liddell"  # from UserInfo: not in the ID token
    assert body["email"] == "alice@example.test"
    assert body["return_to"] == "/c/somewhere"


async def test_signup_creates_an_account_without_a_password(client: httpx.AsyncClient) -> None:
    tokens = await new_account(client, "alice.l")
    me = (await client.get("/api/v1/users/me", headers=bearer(tokens))).json()
    assert me["username"] == "alice.l" and me["display_name"] == "Alice Liddell"
    methods = (await client.get("/api/v1/users/me/sign-in-methods", headers=bearer(tokens))).json()
    assert methods["password"] is False
    assert [(i["provider"], i["label"], i["email"]) for i in methods["identities"]] == [
        ("op", "Test OP", "alice@example.test")
    ]
    r = await client.post("/api/v1/auth/token", data={"username": "alice.l", "password": "x" * 8})
    refused(r, 401, "password_not_set")


async def test_signing_in_again_opens_a_session_like_a_password_login(
    client: httpx.AsyncClient,
) -> None:
    first = await new_account(client)
    r = await sign_in(client, return_to="/c/42")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "signed_in" and body["return_to"] == "/c/42"
    tokens = body["tokens"]
    assert tokens["token_type"] == "bearer" and tokens["refresh_token"] != first["refresh_token"]
    me = (await client.get("/api/v1/users/me", headers=bearer(tokens))).json()
    assert me["username"] == "alice"
    # The same session machinery: rotation, then logout revokes the session.
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200
    rotated = r.json()
    r = await client.post("/api/v1/auth/logout", json={"refresh_token": rotated["refresh_token"]})
    assert r.status_code == 204
    refused(await client.get("/api/v1/users/me", headers=bearer(rotated)), 401, "invalid_token")
    # The first session (the signup's) is untouched.
    assert (await client.get("/api/v1/users/me", headers=bearer(first))).status_code == 200


async def test_return_to_never_leaves_the_site(client: httpx.AsyncClient) -> None:
    await new_account(client)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "c/1"):
        r = await sign_in(client, return_to=target)
        assert r.json()["return_to"] == "/", target


async def test_a_taken_username_is_proposed_with_a_suffix(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    await signup("alice")
    body = (await sign_in(client)).json()
    assert body["proposed_username"] == "alice-2" and body["username_taken"] is True
    r = await client.post(f"{OIDC}/signup", json={"ticket": body["ticket"], "username": "alice"})
    refused(r, 409, "username_taken")
    # The ticket survives the refusal: another name works.
    r = await client.post(f"{OIDC}/signup", json={"ticket": body["ticket"], "username": "alice-2"})
    assert r.status_code == 201, r.text


async def test_a_new_identity_links_to_an_existing_account_with_its_password(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    mine = await signup("ally")
    ticket = (await sign_in(client)).json()["ticket"]
    link = f"{OIDC}/link-account"
    r = await client.post(link, json={"ticket": ticket, "username": "ally", "password": "wrong!!!"})
    refused(r, 401, "invalid_credentials")
    r = await client.post(link, json={"ticket": ticket, "username": "ally", "password": PASSWORD})
    assert r.status_code == 200, r.text
    me = (await client.get("/api/v1/users/me", headers=bearer(r.json()))).json()
    assert me["id"] == mine.id
    # From now on the provider signs in to that account, and its password still works.
    body = (await sign_in(client)).json()
    assert body["outcome"] == "signed_in"
    me = (await client.get("/api/v1/users/me", headers=bearer(body["tokens"]))).json()
    assert me["id"] == mine.id
    r = await client.post("/api/v1/auth/token", data={"username": "ally", "password": PASSWORD})
    assert r.status_code == 200


async def test_a_signup_ticket_works_once(client: httpx.AsyncClient) -> None:
    ticket = (await sign_in(client)).json()["ticket"]
    r = await client.post(f"{OIDC}/signup", json={"ticket": ticket, "username": "alice"})
    assert r.status_code == 201
    r = await client.post(f"{OIDC}/signup", json={"ticket": ticket, "username": "alice2"})
    refused(r, 400, "oidc_state_invalid")


async def test_linking_and_unlinking_from_settings(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    me = await signup()
    r = await client.post(f"{OIDC}/op/link", json={"return_to": "/settings"}, headers=me.headers)
    assert r.status_code == 200, r.text
    back = await through_provider(r.json()["authorization_url"], back_to=BACK)
    body = (await exchange(client, await callback(client, back))).json()
    assert body == {"outcome": "linked", "provider": "op", "return_to": "/settings"}
    methods = (await client.get("/api/v1/users/me/sign-in-methods", headers=me.headers)).json()
    assert methods["password"] is True and [i["provider"] for i in methods["identities"]] == ["op"]
    # The provider now signs in to this account.
    signed = (await sign_in(client)).json()
    me_again = (await client.get("/api/v1/users/me", headers=bearer(signed["tokens"]))).json()
    assert me_again["id"] == me.id
    # Unlinked: it has a password, so that is allowed; the provider is a stranger again.
    r = await client.delete("/api/v1/users/me/identities/op", headers=me.headers)
    assert r.status_code == 204
    refused(
        await client.delete("/api/v1/users/me/identities/op", headers=me.headers),
        404,
        "identity_not_found",
    )
    assert (await sign_in(client)).json()["outcome"] == "signup"


async def test_the_only_way_in_cannot_be_unlinked(client: httpx.AsyncClient) -> None:
    tokens = await new_account(client)
    r = await client.delete("/api/v1/users/me/identities/op", headers=bearer(tokens))
    refused(r, 409, "last_sign_in_method")


async def test_an_identity_linked_to_one_account_cannot_be_linked_to_another(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    await new_account(client)
    other = await signup()
    r = await client.post(f"{OIDC}/op/link", json={}, headers=other.headers)
    back = await through_provider(r.json()["authorization_url"], back_to=BACK)
    refused(await exchange(client, await callback(client, back)), 409, "oidc_identity_taken")


async def test_a_closed_account_frees_its_identity(client: httpx.AsyncClient) -> None:
    tokens = await new_account(client)
    assert (await client.delete("/api/v1/users/me", headers=bearer(tokens))).status_code == 204
    body = (await sign_in(client)).json()
    assert body["outcome"] == "signup" and body["proposed_username"] == "alice-2"


# --- refusals -----------------------------------------------------------------------------


async def test_a_forged_id_token_is_refused(client: httpx.AsyncClient) -> None:
    refused(await sign_in(client, "forged"), 401, "oidc_signature_invalid")


async def test_an_id_token_with_another_nonce_is_refused(client: httpx.AsyncClient) -> None:
    # The code was obtained with a nonce of someone else's choosing (injected into the
    # authorization request); state and PKCE are ours, so only the nonce gives it away.
    url = with_query(await start(client), nonce="attacker-chosen-nonce-0123456789")
    back = await through_provider(url, back_to=BACK)
    refused(await exchange(client, await callback(client, back)), 401, "oidc_nonce_mismatch")


async def test_a_replayed_state_is_refused(client: httpx.AsyncClient) -> None:
    back = await through_provider(await start(client), back_to=BACK)
    first = await callback(client, back)
    replayed = await callback(client, back)
    refused(await exchange(client, replayed), 400, "oidc_state_invalid")
    assert (await exchange(client, first)).json()["outcome"] == "signup"


async def test_an_expired_id_token_is_refused(client: httpx.AsyncClient) -> None:
    # chatapi-expiring's ID tokens live one second and reach us two seconds old.
    refused(await sign_in(client, "expiring"), 401, "oidc_token_expired")


async def test_an_id_token_for_another_client_is_refused(client: httpx.AsyncClient) -> None:
    # Signed by the provider's own key, but issued to another-app.
    refused(await sign_in(client, "audience"), 401, "oidc_audience_mismatch")


async def test_a_provider_calling_itself_by_another_issuer_is_refused(
    client: httpx.AsyncClient,
) -> None:
    # Configured as http://localhost:<port>; its discovery says http://127.0.0.1:<port>.
    r = await client.get(f"{OIDC}/alias/login")
    assert r.status_code == 303, r.text
    code = r.headers["location"].split("#code=", 1)[1]
    refused(await exchange(client, code), 502, "oidc_issuer_mismatch")


async def test_a_callback_naming_another_issuer_is_refused(client: httpx.AsyncClient) -> None:
    # RFC 9207: the provider names itself in the callback (`iss`); a mix-up is refused.
    back = await through_provider(await start(client), back_to=BACK)
    code = await callback(client, with_query(back, iss="https://evil.example"))
    refused(await exchange(client, code), 400, "oidc_issuer_mismatch")


async def test_a_callback_without_the_promised_issuer_is_refused(
    client: httpx.AsyncClient,
) -> None:
    # The provider promises `iss` in its answers (authorization_response_iss_parameter_
    # supported); an answer without it may come from anywhere.
    back = await through_provider(await start(client), back_to=BACK)
    parts = urlsplit(back)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "iss"])
    code = await callback(client, urlunsplit(parts._replace(query=query)))
    refused(await exchange(client, code), 400, "oidc_issuer_mismatch")


async def test_a_sign_in_cannot_be_finished_in_another_browser(
    client: httpx.AsyncClient,
) -> None:
    # Login CSRF: someone else's callback URL, opened in the victim's browser.
    back = await through_provider(await start(client), back_to=BACK)
    client.cookies.clear()
    refused(await exchange(client, await callback(client, back)), 400, "oidc_browser_mismatch")


async def test_the_hand_off_code_works_once_and_in_its_browser(
    client: httpx.AsyncClient,
) -> None:
    back = await through_provider(await start(client), back_to=BACK)
    code = await callback(client, back)
    jar = client.cookies
    client.cookies = httpx.Cookies()
    refused(await exchange(client, code), 400, "oidc_browser_mismatch")
    client.cookies = jar
    assert (await exchange(client, code)).status_code == 200
    refused(await exchange(client, code), 400, "oidc_state_invalid")


async def test_the_provider_saying_no_is_shown(client: httpx.AsyncClient) -> None:
    url = await start(client)
    state = dict(parse_qsl(urlsplit(url).query))["state"]
    back = f"{OIDC}/op/callback?" + urlencode(
        {"error": "access_denied", "error_description": "End-User aborted", "state": state}
    )
    refused(await exchange(client, await callback(client, back)), 400, "oidc_access_denied")


# --- OIDC_ONLY and configuration ------------------------------------------------------------


@pytest.mark.parametrize("settings_overrides", ["oidc_only"], indirect=True)
async def test_oidc_only_switches_password_sign_in_off(
    client: httpx.AsyncClient, settings_overrides: dict[str, Any]
) -> None:
    body = (await client.get("/api/v1/auth/providers")).json()
    assert body["password_login"] is False and body["registration"] is False
    r = await client.post("/api/v1/auth/token", data={"username": "a", "password": "b"})
    refused(r, 403, "password_login_disabled")
    r = await client.post(
        "/api/v1/auth/register", json={"username": "someone", "password": PASSWORD}
    )
    refused(r, 403, "password_login_disabled")
    assert (await sign_in(client)).json()["outcome"] == "signup"


@pytest.mark.parametrize("settings_overrides", ["invite"], indirect=True)
async def test_single_sign_on_creates_no_account_unless_registration_is_open(
    client: httpx.AsyncClient, settings_overrides: dict[str, Any]
) -> None:
    r = await sign_in(client)
    assert r.json()["outcome"] == "signup", r.text
    ticket = r.json()["ticket"]
    r = await client.post(f"{OIDC}/signup", json={"ticket": ticket, "username": "alice"})
    refused(r, 403, "registration_closed")
    body = (await client.get("/api/v1/auth/providers")).json()
    assert body["registration_mode"] == "invite"


def test_providers_from_numbered_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for key, value in {
        "OIDC_PROVIDER_2_NAME": "google",
        "OIDC_PROVIDER_2_ISSUER": "https://accounts.google.com",
        "OIDC_PROVIDER_2_CLIENT_ID": "g-id",
        "OIDC_PROVIDER_10_NAME": "keycloak",
        "OIDC_PROVIDER_10_ISSUER": "https://sso.example.com/realms/staff",
        "OIDC_PROVIDER_10_CLIENT_ID": "chatapi",
        "OIDC_PROVIDER_10_CLIENT_SECRET": "s3cret",
        "OIDC_PROVIDER_10_SCOPES": "openid profile",
        "OIDC_PROVIDER_10_LABEL": "Staff SSO",
    }.items():
        monkeypatch.setenv(key, value)
    providers = Settings(_env_file=None).oidc_providers  # type: ignore[call-arg]
    assert [(p.name, p.label, p.scopes) for p in providers] == [
        ("google", "Google", ["openid", "profile", "email"]),
        ("keycloak", "Staff SSO", ["openid", "profile"]),
    ]
    assert providers[1].client_secret is not None
    assert providers[1].client_secret.get_secret_value() == "s3cret"


@pytest.mark.parametrize(
    ("provider", "problem"),
    [
        ({"issuer": "http://sso.example.com"}, "must be an https:// URL"),
        ({"name": "Bad Name"}, "provider name"),
        ({"scopes": "profile email"}, "must include 'openid'"),
    ],
)
def test_provider_configuration_mistakes_are_explained(
    tmp_path: Any, provider: dict[str, str], problem: str
) -> None:
    config = {"name": "corp", "issuer": "https://sso.example.com", "client_id": "c", **provider}
    with pytest.raises(ValueError, match=problem):
        make_settings(tmp_path, "sqlite+aiosqlite://", oidc_providers=[config])


def test_oidc_only_needs_a_provider(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="needs at least one provider"):
        make_settings(tmp_path, "sqlite+aiosqlite://", oidc_only=True)
