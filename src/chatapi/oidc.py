"""OpenID Connect, the relying party's half, for the providers of `OIDC_PROVIDERS`:
discovery, the authorization request (code flow with PKCE, `state` and `nonce`), the code
exchange and the ID token's verification against the provider's JWKS.

All of it is Authlib: its httpx client (`authlib.integrations.httpx_client`) for HTTP and
the OAuth 2 exchange, its OpenID Connect claim rules (`authlib.oidc.core.CodeIDToken`) and
joserfc, Authlib's JOSE library, for the signature — the same pieces Authlib's own
framework integrations put together. No JOSE is written here. Which account a verified
sign-in opens is decided in `services/identities.py`.

Every refusal is a `ChatError` with its own code (README "Single sign-on").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import httpx2
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from chatapi.errors import BadGateway, ChatError, NotAuthenticated, NotFound
from chatapi.settings import OidcProvider

log = logging.getLogger("chatapi.oidc")

DISCOVERY_PATH = "/.well-known/openid-configuration"
# Discovery documents and key sets are fetched again after this long (keys rotate; a key
# id we do not know makes us fetch the key set at once, too).
METADATA_TTL_SECONDS = 3600
HTTP_TIMEOUT_SECONDS = 10.0
# ID tokens must be signed with a provider's private key: never "none", never a shared
# secret (HS*), whatever the discovery document offers.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
# The person's profile as the provider tells it: only a proposal for a new account.
PROFILE_CLAIMS = ("preferred_username", "name", "email", "given_name", "nickname")


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """Where to send the browser, and the secrets to keep server-side until it returns."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True, slots=True)
class VerifiedSignIn:
    """A sign-in whose ID token passed every check: who, at which provider."""

    issuer: str
    subject: str
    profile: dict[str, str]


def _unavailable(provider: OidcProvider, what: str) -> BadGateway:
    return BadGateway(
        f"{provider.label} could not be reached ({what}). Try again in a moment, or ask "
        "your administrator.",
        code="oidc_provider_unavailable",
    )


def _refused(code: str, detail: str) -> NotAuthenticated:
    return NotAuthenticated(f"{detail} You were not signed in; start again.", code=code)


_CLAIM_ERRORS = {
    "iss": ("oidc_issuer_mismatch", "The ID token was issued by another provider."),
    "aud": ("oidc_audience_mismatch", "The ID token was issued to another application."),
    "azp": ("oidc_audience_mismatch", "The ID token was issued to another application."),
    "nonce": (
        "oidc_nonce_mismatch",
        "The ID token does not belong to this sign-in (its nonce differs).",
    ),
}


class OpenIDProvider:
    """One configured provider: its discovery document and key set, cached."""

    def __init__(self, config: OidcProvider, *, clock_skew_seconds: int) -> None:
        self.config = config
        self.clock_skew_seconds = clock_skew_seconds
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def label(self) -> str:
        return self.config.label

    @property
    def issuer(self) -> str:
        return self.config.issuer

    def _client(self, **kwargs: Any) -> AsyncOAuth2Client:
        secret = self.config.client_secret
        return AsyncOAuth2Client(
            client_id=self.config.client_id,
            client_secret=secret.get_secret_value() if secret else None,
            token_endpoint_auth_method=self._auth_method(),
            scope=" ".join(self.config.scopes),
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT_SECONDS,
            follow_redirects=False,
            **kwargs,
        )

    def _auth_method(self) -> str:
        if self.config.client_secret is None:
            return "none"  # a public client: PKCE is its proof
        supported = (self._metadata or {}).get("token_endpoint_auth_methods_supported")
        if (
            isinstance(supported, list)
            and "client_secret_basic" not in supported
            and "client_secret_post" in supported
        ):
            return "client_secret_post"
        return "client_secret_basic"  # the default of OpenID Connect Discovery

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self._client() as client:
                response = await client.request("GET", url, withhold_token=True)
            response.raise_for_status()
            body = response.json()
        except (httpx2.HTTPError, ValueError) as exc:
            log.warning("OIDC %s: %s failed: %s", self.name, what, type(exc).__name__)
            raise _unavailable(self.config, what) from exc
        if not isinstance(body, dict):
            raise _unavailable(self.config, f"{what}: not a JSON object")
        return body

    async def metadata(self) -> dict[str, Any]:
        """The discovery document, checked: it must name the issuer we were configured
        with, exactly (OpenID Connect Discovery 4.3), and the endpoints we need."""
        async with self._lock:
            fresh = time.monotonic() - self._loaded_at < METADATA_TTL_SECONDS
            if self._metadata is not None and fresh:
                return self._metadata
            url = self.issuer.rstrip("/") + DISCOVERY_PATH
            document = await self._get_json(url, "discovery")
            if document.get("issuer") != self.issuer:
                raise BadGateway(
                    f"{self.config.label} calls itself {document.get('issuer')!r}, not the "
                    f"configured issuer {self.issuer!r}: sign-in with it is refused. The "
                    "administrator must set the issuer exactly as the provider names it.",
                    code="oidc_issuer_mismatch",
                )
            for endpoint in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(document.get(endpoint), str):
                    raise _unavailable(self.config, f"discovery: no {endpoint}")
            self._metadata = document
            self._keys = None
            self._loaded_at = time.monotonic()
            return document

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        metadata = await self.metadata()
        if self._keys is None or refresh:
            jwks = await self._get_json(metadata["jwks_uri"], "key set")
            try:
                self._keys = KeySet.import_key_set(cast(Any, jwks))
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise _unavailable(self.config, "key set: unreadable") from exc
        return self._keys

    async def authorization_request(self, *, redirect_uri: str) -> AuthorizationRequest:
        """A fresh authorization request: code flow, PKCE (S256), `state` and `nonce`."""
        metadata = await self.metadata()
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        async with self._client(redirect_uri=redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                nonce=nonce,
                code_verifier=verifier,
            )
        return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)

    async def complete(
        self,
        *,
        response: Mapping[str, str | None],
        redirect_uri: str,
        code_verifier: str,
        nonce: str,
    ) -> VerifiedSignIn:
        """The provider's answer at the redirect URI (`code`, or `error` and
        `error_description`; `iss`), checked, then `sign_in`. Its `iss` must name this
        provider (RFC 9207, against mix-ups), and must be there when it promised it."""
        error = response.get("error")
        if error:
            said = response.get("error_description")
            raise ChatError(
                f"{self.label} did not sign you in ({error}{f': {said}' if said else ''}).",
                code="oidc_access_denied" if error == "access_denied" else "oidc_provider_error",
            )
        iss = response.get("iss")
        promised = (await self.metadata()).get("authorization_response_iss_parameter_supported")
        if (iss is not None and iss != self.issuer) or (iss is None and promised is True):
            raise ChatError(
                f"The answer did not come from {self.label} (its issuer is {iss!r}): refused.",
                code="oidc_issuer_mismatch",
            )
        code = response.get("code")
        if not code:
            raise ChatError(f"{self.label} sent no sign-in code.", code="oidc_provider_error")
        return await self.sign_in(
            code=code, redirect_uri=redirect_uri, code_verifier=code_verifier, nonce=nonce
        )

    async def sign_in(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> VerifiedSignIn:
        """Exchange the code (with the PKCE verifier) and verify the ID token: signature
        against the provider's key set, `iss`, `aud` (exactly our client), `azp`, `exp`,
        `iat`, `nonce` and `at_hash`."""
        if not nonce or not code_verifier:  # an empty nonce would switch its check off
            raise ValueError("sign_in needs the request's nonce and PKCE verifier")
        metadata = await self.metadata()
        async with self._client(redirect_uri=redirect_uri) as client:
            try:
                token = await client.fetch_token(
                    metadata["token_endpoint"], code=code, code_verifier=code_verifier
                )
            except OAuthError as exc:
                log.info("OIDC %s: code refused: %s %s", self.name, exc.error, exc.description)
                raise _refused(
                    "oidc_code_rejected",
                    f"{self.config.label} refused the sign-in code ({exc.error}).",
                ) from exc
            except (httpx2.HTTPError, ValueError) as exc:
                log.warning("OIDC %s: token request failed: %s", self.name, type(exc).__name__)
                raise _unavailable(self.config, "token request") from exc
            id_token = token.get("id_token")
            if not isinstance(id_token, str):
                raise _refused("oidc_id_token_invalid", f"{self.config.label} sent no ID token.")
            claims = await self._verified_claims(
                id_token, nonce=nonce, access_token=token.get("access_token")
            )
            profile = _profile(claims)
            if not profile and isinstance(metadata.get("userinfo_endpoint"), str):
                profile = await self._userinfo(client, metadata["userinfo_endpoint"], claims)
        return VerifiedSignIn(issuer=self.issuer, subject=str(claims["sub"]), profile=profile)

    async def _verified_claims(
        self, id_token: str, *, nonce: str, access_token: object
    ) -> Mapping[str, Any]:
        metadata = await self.metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in ASYMMETRIC_ALGORITHMS] or ["RS256"]
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(), registry=registry)
            except InvalidKeyIdError:  # a key we have not seen: the provider rotated keys
                decoded = jwt.decode(id_token, await self._key_set(refresh=True), registry=registry)
        except (InvalidKeyIdError, BadSignatureError) as exc:
            raise _refused(
                "oidc_signature_invalid",
                f"The ID token is not signed by {self.config.label} (forged or tampered with).",
            ) from exc
        except (JoseError, ValueError) as exc:
            raise _refused("oidc_id_token_invalid", "The ID token cannot be read.") from exc
        client_id = self.config.client_id
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            options={
                "iss": {"essential": True, "value": self.issuer},
                # Exactly our client: another audience beside us is not trusted either.
                "aud": {
                    "essential": True,
                    "value": client_id,
                    "validate": lambda _claims, aud: aud in (client_id, [client_id]),
                },
            },
            params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
        )
        try:
            claims.validate(leeway=self.clock_skew_seconds)
        except ExpiredTokenError as exc:
            raise _refused("oidc_token_expired", "The ID token has expired.") from exc
        except ClaimError as exc:
            code, detail = _CLAIM_ERRORS.get(
                exc.claim,
                ("oidc_id_token_invalid", f"The ID token's {exc.claim!r} claim is not valid."),
            )
            raise _refused(code, detail) from exc
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise _refused("oidc_id_token_invalid", "The ID token names nobody (no `sub`).")
        return cast(Mapping[str, Any], claims)

    async def _userinfo(
        self, client: AsyncOAuth2Client, url: str, claims: Mapping[str, Any]
    ) -> dict[str, str]:
        """The profile from the UserInfo endpoint, for providers that keep it out of the
        ID token. Only a proposal for a new account: failing here fails nothing."""
        try:
            response = await client.get(url)
            response.raise_for_status()
            info = response.json()
        except (httpx2.HTTPError, OAuthError, ValueError) as exc:
            log.info("OIDC %s: userinfo failed: %s", self.name, type(exc).__name__)
            return {}
        # UserInfo must speak of the same person (OpenID Connect Core 5.3.2).
        if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
            return {}
        return _profile(info)


def _profile(claims: Mapping[str, Any]) -> dict[str, str]:
    return {
        k: v.strip()[:255]
        for k in PROFILE_CLAIMS
        if isinstance(v := claims.get(k), str) and v.strip()
    }


class OpenIDProviders(Mapping[str, OpenIDProvider]):
    """The configured providers by name, in configuration order."""

    def __init__(self, configs: list[OidcProvider], *, clock_skew_seconds: int) -> None:
        self._by_name = {
            c.name: OpenIDProvider(c, clock_skew_seconds=clock_skew_seconds) for c in configs
        }

    def __getitem__(self, name: str) -> OpenIDProvider:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def require(self, name: str) -> OpenIDProvider:
        """The provider called `name`, or 404 `unknown_provider`."""
        provider = self._by_name.get(name)
        if provider is None:
            raise NotFound(f"No sign-in provider is called {name!r} here.", code="unknown_provider")
        return provider

    def by_issuer(self, issuer: str) -> OpenIDProvider | None:
        return next((p for p in self._by_name.values() if p.issuer == issuer), None)
