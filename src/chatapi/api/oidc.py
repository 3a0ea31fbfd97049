"""Single sign-on with OpenID Connect (README "Single sign-on").

The browser's way: `GET /auth/oidc/{provider}/login` sends it to the provider; the
provider sends it back to `GET /auth/oidc/{provider}/callback`, which sends it on to the
web client's `/oidc/callback#code=<one-time code>`; the web client POSTs that code to
`/auth/oidc/exchange` and gets the tokens (or a signup ticket, or the refusal with its
code). No chatapi token ever travels in a URL. Every step must come from the browser
that started the sign-in: an HttpOnly, SameSite=Lax cookie scoped to these routes.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from chatapi.api import errors
from chatapi.api.auth import NO_STORE, client_address, device_of
from chatapi.api.deps import CurrentUser, ReadUowDep, StateDep, UowDep
from chatapi.api.state import AppState
from chatapi.errors import ChatError
from chatapi.oidc import OpenIDProvider, VerifiedSignIn
from chatapi.schemas import (
    AuthOptions,
    IdentityRead,
    OidcAuthorization,
    OidcExchange,
    OidcLinkAccount,
    OidcLinked,
    OidcLinkStart,
    OidcOutcome,
    OidcSignedIn,
    OidcSignup,
    OidcSignupNeeded,
    ProviderRead,
    SignInMethods,
    TokenPair,
)
from chatapi.services import identities

router = APIRouter(tags=["single sign-on"])

OIDC_PATH = "/api/v1/auth/oidc"
BROWSER_COOKIE = "chatapi_oidc"
BROWSER_COOKIE_MAX_AGE = 3600  # outlives every step of a sign-in
WEB_CALLBACK = "/oidc/callback"
_REDIRECT = {"description": "To the provider, or back to the web client"}


def _browser(request: Request) -> str | None:
    value = request.cookies.get(BROWSER_COOKIE)
    return value if value and 20 <= len(value) <= 100 else None


def _bind_browser(request: Request, response: Response, state: AppState) -> str:
    """This browser's sign-in cookie (made on first use): every step of a sign-in must
    present it, so a sign-in cannot be finished in another browser (login CSRF)."""
    value = _browser(request) or secrets.token_urlsafe(32)
    base = state.settings.public_url or str(request.base_url)
    response.set_cookie(
        BROWSER_COOKIE,
        value,
        max_age=BROWSER_COOKIE_MAX_AGE,
        path=OIDC_PATH,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to the callback
        secure=base.startswith("https:"),
    )
    return value


def _redirect_uri(request: Request, state: AppState, provider: OpenIDProvider) -> str:
    base = state.settings.public_url or str(request.base_url).rstrip("/")
    return f"{base}{OIDC_PATH}/{provider.name}/callback"


def _redirect(url: str, status_code: int, cookies: Response) -> RedirectResponse:
    """A redirect that sets the cookies `cookies` collected, and is never cached."""
    redirect = RedirectResponse(url, status_code=status_code, headers=NO_STORE)
    for value in cookies.headers.getlist("set-cookie"):
        redirect.headers.append("set-cookie", value)
    return redirect


def _to_web_client(code: str, cookies: Response) -> RedirectResponse:
    # In the fragment: never sent to a server, never in a log or a Referer.
    return _redirect(f"{WEB_CALLBACK}#code={code}", status.HTTP_303_SEE_OTHER, cookies)


@router.get("/auth/providers", tags=["auth"])
async def auth_options(state: StateDep) -> AuthOptions:
    """How people sign in here: a password, and which OpenID Providers (the web client's
    "Sign in with ..." buttons). No auth."""
    return AuthOptions(
        password_login=not state.settings.oidc_only,
        registration=not state.settings.oidc_only and state.settings.registration != "closed",
        password_reset=state.mailer is not None,
        providers=[ProviderRead(name=p.name, label=p.label) for p in state.oidc.values()],
        registration_mode=state.settings.registration,
    )


@router.get(
    "/auth/oidc/{provider}/login",
    status_code=status.HTTP_302_FOUND,
    response_class=RedirectResponse,
    responses={302: _REDIRECT, 303: _REDIRECT, **errors(404)},
)
async def oidc_login(
    provider: str,
    request: Request,
    uow: UowDep,
    state: StateDep,
    return_to: Annotated[str, Query(max_length=512)] = "/",
) -> Response:
    """Sign in with a provider (a browser navigation): off to its sign-in page, then back
    to the web client at `return_to` (a path of this site)."""
    op = state.oidc.require(provider)
    response = Response()
    browser = _bind_browser(request, response, state)
    try:
        url = await identities.begin(
            uow,
            provider=op,
            browser=browser,
            redirect_uri=_redirect_uri(request, state, op),
            return_to=return_to,
        )
    except ChatError as error:  # the provider is down or not to be trusted: say so there
        await uow.rollback()
        code = await identities.hand_off_failure(
            uow, browser=browser, provider=op.name, return_to=return_to, error=error
        )
        await uow.commit()
        return _to_web_client(code, response)
    await uow.commit()
    return _redirect(url, status.HTTP_302_FOUND, response)


@router.get(
    "/auth/oidc/{provider}/callback",
    status_code=status.HTTP_303_SEE_OTHER,
    response_class=RedirectResponse,
    responses={303: _REDIRECT, **errors(404)},
)
async def oidc_callback(
    provider: str,
    request: Request,
    state: StateDep,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state_param: Annotated[str | None, Query(alias="state", max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
    error_description: Annotated[str | None, Query(max_length=1024)] = None,
    iss: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """Where the provider sends the browser back (the redirect URI to register there).
    Always answers with a redirect to the web client's `/oidc/callback#code=...`."""
    op = state.oidc.require(provider)
    response = Response()
    browser = _bind_browser(request, response, state)
    # Three short transactions, none held across the provider's round trip.
    async with state.uow() as uow:
        try:
            claimed = await identities.claim_state(
                uow, provider=op, state=state_param or "", browser=browser
            )
        except ChatError as refusal:
            await uow.rollback()
            handoff = await identities.hand_off_failure(
                uow, browser=browser, provider=op.name, return_to="/", error=refusal
            )
            await uow.commit()
            return _to_web_client(handoff, response)
        await uow.commit()
    result: VerifiedSignIn | ChatError
    try:
        result = await op.complete(
            response={
                "code": code,
                "error": error,
                "error_description": error_description,
                "iss": iss,
            },
            redirect_uri=_redirect_uri(request, state, op),
            code_verifier=claimed.code_verifier,
            nonce=claimed.nonce,
        )
    except ChatError as refusal:
        result = refusal
    async with state.uow() as uow:
        await identities.settle(uow, claimed=claimed, provider=op, result=result)
        await uow.commit()
    return _to_web_client(claimed.handoff_code, response)


@router.post("/auth/oidc/exchange", responses=errors(400, 401, 404, 409, 502))
async def oidc_exchange(
    payload: OidcExchange, request: Request, uow: UowDep, state: StateDep, response: Response
) -> OidcOutcome:
    """The web client's one-time code (from `/oidc/callback#code=`) for what the sign-in
    came to: signed in (tokens), linked, or a new person (a signup ticket). A refused
    sign-in answers its error here, e.g. 401 `oidc_nonce_mismatch`."""
    response.headers.update(NO_STORE)
    outcome = await identities.exchange(
        uow,
        code=payload.code,
        browser=_browser(request) or "",
        providers=state.oidc,
        policy=state.token_policy,
        device=device_of(request),
    )
    await uow.commit()
    if isinstance(outcome, identities.SignedIn):
        return OidcSignedIn(tokens=outcome.tokens, return_to=outcome.return_to)
    if isinstance(outcome, identities.Linked):
        return OidcLinked(provider=outcome.provider, return_to=outcome.return_to)
    return OidcSignupNeeded(
        ticket=outcome.ticket,
        provider=outcome.provider,
        proposed_username=outcome.proposed_username,
        username_taken=outcome.username_taken,
        display_name=outcome.display_name,
        email=outcome.email,
        return_to=outcome.return_to,
    )


@router.post(
    "/auth/oidc/signup", status_code=status.HTTP_201_CREATED, responses=errors(400, 404, 409)
)
async def oidc_signup(
    payload: OidcSignup, request: Request, uow: UowDep, state: StateDep, response: Response
) -> TokenPair:
    """Create the account of a person new here (no password: they sign in with the
    provider), and sign in. 409 `username_taken`: the ticket stays good for another name."""
    response.headers.update(NO_STORE)
    signed = await identities.sign_up(
        uow,
        registration=state.settings.registration,
        ticket=payload.ticket,
        browser=_browser(request) or "",
        username=payload.username,
        display_name=payload.display_name,
        providers=state.oidc,
        policy=state.token_policy,
        device=device_of(request),
    )
    await uow.commit()
    return signed.tokens


@router.post("/auth/oidc/link-account", responses=errors(400, 401, 404, 409, 429))
async def oidc_link_account(
    payload: OidcLinkAccount, request: Request, uow: UowDep, state: StateDep, response: Response
) -> TokenPair:
    """Link the new identity to an account you already have, confirmed with its password
    (counted like a login), and sign in to it."""
    response.headers.update(NO_STORE)
    signed = await identities.link_with_password(
        uow,
        ticket=payload.ticket,
        browser=_browser(request) or "",
        username=payload.username,
        password=payload.password,
        client=client_address(request),
        limiter=state.login_limiter,
        providers=state.oidc,
        policy=state.token_policy,
        device=device_of(request),
    )
    await uow.commit()
    return signed.tokens


@router.post("/auth/oidc/{provider}/link", responses=errors(401, 404, 409, 502))
async def oidc_link(
    provider: str,
    payload: OidcLinkStart,
    request: Request,
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
    response: Response,
) -> OidcAuthorization:
    """Link a provider to your account: send the browser to `authorization_url`; it comes
    back through the callback to `return_to`."""
    op = state.oidc.require(provider)
    response.headers.update(NO_STORE)
    url = await identities.begin(
        uow,
        provider=op,
        browser=_bind_browser(request, response, state),
        redirect_uri=_redirect_uri(request, state, op),
        return_to=payload.return_to,
        linking=user,
    )
    await uow.commit()
    return OidcAuthorization(authorization_url=url)


@router.get("/users/me/sign-in-methods", tags=["users"], responses=errors(401))
async def sign_in_methods(user: CurrentUser, uow: ReadUowDep, state: StateDep) -> SignInMethods:
    """How your account signs in: whether it has a password, and its linked providers."""
    linked = await identities.identities_of(uow, user=user)
    return SignInMethods(
        password=bool(user.password_hash),
        identities=[
            IdentityRead(
                provider=i.provider,
                label=(p.label if (p := state.oidc.by_issuer(i.issuer)) else i.provider),
                email=i.email,
                created_at=i.created_at,
                last_used_at=i.last_used_at,
            )
            for i in linked
        ],
    )


@router.delete(
    "/users/me/identities/{provider}",
    tags=["users"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 404, 409),
)
async def unlink_identity(
    provider: str, user: CurrentUser, uow: UowDep, state: StateDep
) -> Response:
    """Unlink a provider. 409 `last_sign_in_method` when it is your only way to sign in."""
    await identities.unlink(uow, user=user, provider=provider, providers=state.oidc)
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
