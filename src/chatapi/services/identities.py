"""Signing in through OpenID Providers: the steps of one sign-in, the account each opens,
creates or links, and the identities an account has linked.

A sign-in goes through one-time steps, each kept server-side in an `oidc_logins` row and
taken by swapping the row's `secret_hash` in one conditional UPDATE, so each secret works
once and only from the browser that started (`browser_hash`, the HttpOnly cookie's digest):

1. `begin`: the authorization request — `state`, `nonce`, PKCE verifier — stored
   (`authorizing`); the browser goes to the provider.
2. `claim_state` (the callback): the state is spent, the row becomes `handed_off` under
   a one-time code for the web client; then, outside any transaction (the provider's
   round trip must not hold SQLite's write lock), the code is exchanged and the ID
   token verified (`oidc.OpenIDProvider.sign_in`); `settle` records the outcome:
   signed in, linked, a new person (signup), or the refusal.
3. `exchange` (the web client POSTs the code): tokens from `auth.start_session`, exactly
   as a password login issues them; or, for a new person, a signup ticket
   (`signing_up`) that `sign_up` (a new account without a password) or
   `link_with_password` (an existing account, confirmed by its password) spends.

An identity is the provider's (`iss`, `sub`), linked to one account; an account has at
most one per provider. Services never commit: the routes do (README, "Who commits").
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from chatapi import security
from chatapi.db import UnitOfWork
from chatapi.errors import BadGateway, ChatError, Conflict, Forbidden, NotAuthenticated, NotFound
from chatapi.models import OidcIdentity, OidcLogin, OidcLoginStage, User
from chatapi.oidc import OpenIDProvider, OpenIDProviders, VerifiedSignIn
from chatapi.ports import LoginAttempts
from chatapi.schemas import TokenPair
from chatapi.services import auth, instance, sessions

# How long each step may take: at the provider, until the web client picks up the
# outcome, and while a new person chooses a username.
AUTHORIZING_TTL = timedelta(minutes=10)
HANDED_OFF_TTL = timedelta(minutes=2)
SIGNING_UP_TTL = timedelta(minutes=15)
MAX_RETURN_TO = 512


@dataclass(frozen=True, slots=True)
class ClaimedState:
    """A callback's state, spent: what the provider round trip needs, and where the
    outcome goes (`settle`)."""

    login_id: uuid.UUID
    handoff_code: str
    provider: str
    purpose: str
    user_id: uuid.UUID | None
    nonce: str
    code_verifier: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    tokens: TokenPair
    return_to: str


@dataclass(frozen=True, slots=True)
class Linked:
    provider: str
    return_to: str


@dataclass(frozen=True, slots=True)
class SignupNeeded:
    """A person the provider vouched for, new here: they choose a username, or link an
    account they already have."""

    ticket: str
    provider: str
    proposed_username: str
    display_name: str
    email: str | None
    username_taken: bool
    return_to: str


Outcome = SignedIn | Linked | SignupNeeded


def _now() -> datetime:
    return datetime.now(UTC)


def _digest(secret: str) -> str:
    return security.token_digest(secret)


def safe_return_to(value: str | None) -> str:
    """A path of this site to come back to, never another site's: `/c/123` stays,
    `//evil.example`, `https://...`, `/\\evil` and anything odd become `/`."""
    if (
        not value
        or len(value) > MAX_RETURN_TO
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)
    ):
        return "/"
    return value


def _invalid_step(what: str) -> ChatError:
    return ChatError(
        f"This {what} has expired or was already used. Start the sign-in again.",
        code="oidc_state_invalid",
    )


async def _purge_expired(uow: UnitOfWork) -> None:
    await uow.session.execute(delete(OidcLogin).where(col(OidcLogin.expires_at) < _now()))


async def _identity_for(uow: UnitOfWork, *, user_id: uuid.UUID, issuer: str) -> OidcIdentity | None:
    return cast(
        OidcIdentity | None,
        await uow.session.scalar(
            select(OidcIdentity).where(
                col(OidcIdentity.user_id) == user_id, col(OidcIdentity.issuer) == issuer
            )
        ),
    )


# --- 1. the authorization request ---------------------------------------------------------


async def begin(
    uow: UnitOfWork,
    *,
    provider: OpenIDProvider,
    browser: str,
    redirect_uri: str,
    return_to: str | None,
    linking: User | None = None,
) -> str:
    """Start a sign-in (or, with `linking`, the linking of this provider to that account):
    the URL of the provider's authorization endpoint to send the browser to."""
    # The provider first: its discovery must not run inside the write transaction.
    request = await provider.authorization_request(redirect_uri=redirect_uri)
    if linking is not None and await _identity_for(uow, user_id=linking.id, issuer=provider.issuer):
        raise Conflict(
            f"Your account is already linked to {provider.label}. Unlink it first to link "
            "another one.",
            code="oidc_provider_already_linked",
        )
    await _purge_expired(uow)
    uow.session.add(
        OidcLogin(
            stage=OidcLoginStage.authorizing.value,
            secret_hash=_digest(request.state),
            browser_hash=_digest(browser),
            provider=provider.name,
            purpose="link" if linking is not None else "login",
            return_to=safe_return_to(return_to),
            user_id=linking.id if linking is not None else None,
            nonce=request.nonce,
            code_verifier=request.code_verifier,
            expires_at=_now() + AUTHORIZING_TTL,
        )
    )
    return request.url


async def hand_off_failure(
    uow: UnitOfWork, *, browser: str, provider: str, return_to: str | None, error: ChatError
) -> str:
    """A sign-in that failed before or at the callback, handed to the web client like any
    outcome (so it can show the server's words): its one-time code."""
    code = secrets.token_urlsafe(32)
    uow.session.add(
        OidcLogin(
            stage=OidcLoginStage.handed_off.value,
            secret_hash=_digest(code),
            browser_hash=_digest(browser),
            provider=provider[:32],
            purpose="login",
            return_to=safe_return_to(return_to),
            outcome="failed",
            detail=_error_detail(error),
            expires_at=_now() + HANDED_OFF_TTL,
        )
    )
    return code


def _error_detail(error: ChatError) -> dict[str, Any]:
    return {"status": error.status, "code": error.code, "detail": error.detail}


# --- 2. the callback ---------------------------------------------------------------------


async def claim_state(
    uow: UnitOfWork, *, provider: OpenIDProvider, state: str, browser: str
) -> ClaimedState:
    """Spend the callback's `state`: it must be one we issued for this provider, not yet
    used, not expired, and come back to the browser that started the sign-in. Raises
    `oidc_state_invalid` or `oidc_browser_mismatch` otherwise."""
    login = await uow.session.scalar(
        select(OidcLogin).where(
            col(OidcLogin.secret_hash) == _digest(state),
            col(OidcLogin.stage) == OidcLoginStage.authorizing.value,
            col(OidcLogin.expires_at) > _now(),
        )
    )
    if login is None or login.provider != provider.name or not login.nonce:
        raise _invalid_step("sign-in link")
    if not secrets.compare_digest(login.browser_hash, _digest(browser)):
        raise ChatError(
            "This sign-in was started in another browser (or its cookie was blocked). "
            "Start it again here.",
            code="oidc_browser_mismatch",
        )
    # Read before the UPDATE: it refreshes `login` (nonce and verifier become None).
    claimed = ClaimedState(
        login_id=login.id,
        handoff_code=secrets.token_urlsafe(32),
        provider=login.provider,
        purpose=login.purpose,
        user_id=login.user_id,
        nonce=login.nonce,
        code_verifier=login.code_verifier or "",
    )
    spent = await uow.session.execute(
        update(OidcLogin)
        .where(col(OidcLogin.id) == login.id, col(OidcLogin.secret_hash) == _digest(state))
        .values(
            stage=OidcLoginStage.handed_off.value,
            secret_hash=_digest(claimed.handoff_code),
            nonce=None,
            code_verifier=None,
            outcome="failed",  # until settle() says otherwise
            detail=_error_detail(_invalid_step("sign-in")),
            expires_at=_now() + HANDED_OFF_TTL,
        )
    )
    if cast(CursorResult[Any], spent).rowcount != 1:  # a concurrent callback spent it
        raise _invalid_step("sign-in link")
    return claimed


async def settle(
    uow: UnitOfWork,
    *,
    claimed: ClaimedState,
    provider: OpenIDProvider,
    result: VerifiedSignIn | ChatError,
) -> None:
    """Record what a verified sign-in (or its refusal) means for chatapi's accounts."""
    values: dict[str, Any] = {"outcome": "failed"}
    if isinstance(result, ChatError):
        values["detail"] = _error_detail(result)
    else:
        try:
            values = await _resolve(uow, claimed=claimed, provider=provider, signed=result)
        except ChatError as error:
            values["detail"] = _error_detail(error)
    await uow.session.execute(
        update(OidcLogin).where(col(OidcLogin.id) == claimed.login_id).values(**values)
    )


async def _resolve(
    uow: UnitOfWork, *, claimed: ClaimedState, provider: OpenIDProvider, signed: VerifiedSignIn
) -> dict[str, Any]:
    if claimed.purpose == "link":
        if claimed.user_id is None:
            raise _invalid_step("sign-in")
        await _link(uow, user_id=claimed.user_id, provider=provider, signed=signed)
        return {"outcome": "linked", "detail": None}
    identity, owner = await _owner_of(uow, signed)
    if identity is not None and owner is not None:
        identity.last_used_at = _now()
        return {"outcome": "signed_in", "user_id": owner.id, "detail": None}
    return {"outcome": "signup", "subject": signed.subject, "detail": dict(signed.profile)}


async def _owner_of(
    uow: UnitOfWork, signed: VerifiedSignIn
) -> tuple[OidcIdentity | None, User | None]:
    """The identity the provider's (iss, sub) names here, and its account if it is open."""
    identity = await uow.session.scalar(
        select(OidcIdentity).where(
            col(OidcIdentity.issuer) == signed.issuer,
            col(OidcIdentity.subject) == signed.subject,
        )
    )
    owner = await uow.session.get(User, identity.user_id) if identity else None
    if owner is not None and owner.deleted_at is not None:
        owner = None
    return identity, owner


async def _link(
    uow: UnitOfWork, *, user_id: uuid.UUID, provider: OpenIDProvider, signed: VerifiedSignIn
) -> None:
    """Link the identity to the account: nothing to do when it is linked there already;
    409 when another account has it (`oidc_identity_taken`) or this account has another
    identity of the provider (`oidc_provider_already_linked`)."""
    identity, owner = await _owner_of(uow, signed)
    if owner is not None:
        if owner.id == user_id:
            return
        raise Conflict(
            f"This {provider.label} account is already linked to another chatapi account. "
            "Unlink it there first.",
            code="oidc_identity_taken",
        )
    if await _identity_for(uow, user_id=user_id, issuer=provider.issuer):
        raise Conflict(
            f"This account is already linked to another {provider.label} account. Unlink it first.",
            code="oidc_provider_already_linked",
        )
    if identity is not None:  # left by a closed account
        await uow.session.delete(identity)
    uow.session.add(
        OidcIdentity(
            user_id=user_id,
            provider=provider.name,
            issuer=signed.issuer,
            subject=signed.subject,
            email=signed.profile.get("email"),
            last_used_at=_now(),
        )
    )
    try:
        async with uow.savepoint():
            await uow.session.flush()
    except IntegrityError as exc:  # the same person linked elsewhere at the same moment
        raise Conflict(
            f"This {provider.label} account is already linked to another chatapi account.",
            code="oidc_identity_taken",
        ) from exc


# --- 3. the web client's steps ------------------------------------------------------------


async def _take(uow: UnitOfWork, *, secret: str, stage: OidcLoginStage, browser: str) -> OidcLogin:
    """The row waiting for `secret` at `stage`, from this browser; spent (deleted) in this
    transaction, so a refusal that rolls back leaves it usable."""
    login = await uow.session.scalar(
        select(OidcLogin).where(
            col(OidcLogin.secret_hash) == _digest(secret),
            col(OidcLogin.stage) == stage.value,
            col(OidcLogin.expires_at) > _now(),
        )
    )
    what = "sign-in" if stage is OidcLoginStage.handed_off else "signup"
    if login is None:
        raise _invalid_step(what)
    if not secrets.compare_digest(login.browser_hash, _digest(browser)):
        raise ChatError(
            f"This {what} belongs to another browser. Start the sign-in again here.",
            code="oidc_browser_mismatch",
        )
    spent = await uow.session.execute(
        delete(OidcLogin).where(
            col(OidcLogin.id) == login.id, col(OidcLogin.secret_hash) == _digest(secret)
        )
    )
    if cast(CursorResult[Any], spent).rowcount != 1:
        raise _invalid_step(what)
    return login


async def exchange(
    uow: UnitOfWork,
    *,
    code: str,
    browser: str,
    providers: OpenIDProviders,
    policy: auth.TokenPolicy,
    device: sessions.Device | None = None,
) -> Outcome:
    """The web client's one-time code for what the sign-in came to: a session (its
    tokens), a linked identity, or a signup ticket for a new person. A refused sign-in
    raises its error here."""
    login = await _take(uow, secret=code, stage=OidcLoginStage.handed_off, browser=browser)
    if login.outcome == "signed_in" and login.user_id is not None:
        user = await uow.session.get(User, login.user_id)
        if user is None or user.deleted_at is not None:
            raise NotAuthenticated("This account no longer exists.", code="invalid_token")
        tokens = await auth.start_session(
            uow, user_id=user.id, policy=policy, device=device, method=login.provider
        )
        return SignedIn(tokens=tokens, return_to=login.return_to)
    if login.outcome == "linked":
        return Linked(provider=login.provider, return_to=login.return_to)
    if login.outcome == "signup" and login.subject:
        return await _signup_ticket(uow, login=login, browser=browser, providers=providers)
    raise _stored_error(login.detail or {})


def _stored_error(detail: dict[str, Any]) -> ChatError:
    """A refusal recorded at the callback, raised again for the web client to show."""
    classes: dict[object, type[ChatError]] = {
        cls.status: cls for cls in (NotAuthenticated, NotFound, Conflict, BadGateway)
    }
    error_cls = classes.get(detail.get("status"), ChatError)
    return error_cls(
        str(detail.get("detail") or "The sign-in failed. Start again."),
        code=str(detail.get("code") or "oidc_sign_in_failed"),
    )


async def _signup_ticket(
    uow: UnitOfWork, *, login: OidcLogin, browser: str, providers: OpenIDProviders
) -> SignupNeeded:
    provider = providers.require(login.provider)
    profile = {k: v for k, v in (login.detail or {}).items() if isinstance(v, str)}
    base = propose_username(profile)
    proposed = await free_username(uow, base)
    ticket = secrets.token_urlsafe(32)
    uow.session.add(
        OidcLogin(
            stage=OidcLoginStage.signing_up.value,
            secret_hash=_digest(ticket),
            browser_hash=_digest(browser),
            provider=provider.name,
            purpose="login",
            return_to=login.return_to,
            outcome="signup",
            subject=login.subject,
            detail=profile,
            expires_at=_now() + SIGNING_UP_TTL,
        )
    )
    return SignupNeeded(
        ticket=ticket,
        provider=provider.name,
        proposed_username=proposed,
        display_name=(profile.get("name") or proposed)[:64],
        email=profile.get("email"),
        username_taken=proposed != base,
        return_to=login.return_to,
    )


def propose_username(profile: dict[str, str]) -> str:
    """A username from what the provider says (`preferred_username`, else the nickname,
    the e-mail's local part, the name), folded to chatapi's rules: `Zoë Ng` -> `zoe-ng`."""
    for key in ("preferred_username", "nickname", "email", "given_name", "name"):
        value = profile.get(key, "")
        if key == "email":
            value = value.partition("@")[0]
        ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
        folded = re.sub(r"[^a-z0-9_.-]+", "-", ascii_text.lower()).strip("-_.")[:28]
        if len(folded) >= 3:
            return folded
    return "user"


async def free_username(uow: UnitOfWork, base: str) -> str:
    """`base`, or the first of `base-2`, `base-3`, ... nobody has (a random suffix after
    that)."""
    candidates = [base] + [f"{base[:28]}-{n}" for n in range(2, 10)]
    taken = set(
        (
            await uow.session.scalars(
                select(col(User.username)).where(col(User.username).in_(candidates))
            )
        ).all()
    )
    free = next((c for c in candidates if c not in taken), None)
    return free or f"{base[:23]}-{secrets.token_hex(4)}"


async def sign_up(
    uow: UnitOfWork,
    *,
    ticket: str,
    browser: str,
    username: str,
    display_name: str | None,
    providers: OpenIDProviders,
    policy: auth.TokenPolicy,
    device: sessions.Device | None = None,
    registration: instance.RegistrationMode = "open",
) -> SignedIn:
    """Create the new person's account — no password: it signs in through this provider —
    link the identity and sign in. A taken username is 409 `username_taken`, and the
    ticket stays usable for another try. Only with REGISTRATION=open: an invite-only or
    closed server answers 403 `registration_closed` (sign in with an existing account and
    link the provider instead)."""
    if registration != "open":
        raise Forbidden(
            "This server does not let new accounts sign up with single sign-on.",
            code="registration_closed",
        )
    login = await _take(uow, secret=ticket, stage=OidcLoginStage.signing_up, browser=browser)
    provider = providers.require(login.provider)
    profile = {k: v for k, v in (login.detail or {}).items() if isinstance(v, str)}
    user = await auth.create_account(
        uow,
        username=username,
        display_name=(display_name or profile.get("name") or username)[:64],
        password=None,
    )
    signed = VerifiedSignIn(issuer=provider.issuer, subject=login.subject or "", profile=profile)
    await _link(uow, user_id=user.id, provider=provider, signed=signed)
    tokens = await auth.start_session(
        uow, user_id=user.id, policy=policy, device=device, method=provider.name
    )
    return SignedIn(tokens=tokens, return_to=login.return_to)


async def link_with_password(
    uow: UnitOfWork,
    *,
    ticket: str,
    browser: str,
    username: str,
    password: str,
    client: str,
    limiter: LoginAttempts,
    providers: OpenIDProviders,
    policy: auth.TokenPolicy,
    device: sessions.Device | None = None,
) -> SignedIn:
    """Link the new identity to an account the person already has, proven by its
    password (counted like a login), and sign in to it."""
    login = await _take(uow, secret=ticket, stage=OidcLoginStage.signing_up, browser=browser)
    provider = providers.require(login.provider)
    try:
        user = await auth.check_password(
            uow, username=username, password=password, client=client, limiter=limiter
        )
    except NotAuthenticated as exc:
        if exc.code != "password_not_set":
            raise
        raise NotAuthenticated(
            "That account has no password to confirm it with. Sign in to it with its own "
            f"provider, then link {provider.label} from its settings.",
            code="password_not_set",
        ) from exc
    profile = {k: v for k, v in (login.detail or {}).items() if isinstance(v, str)}
    signed = VerifiedSignIn(issuer=provider.issuer, subject=login.subject or "", profile=profile)
    await _link(uow, user_id=user.id, provider=provider, signed=signed)
    tokens = await auth.start_session(
        uow, user_id=user.id, policy=policy, device=device, method=provider.name
    )
    return SignedIn(tokens=tokens, return_to=login.return_to)


# --- an account's identities --------------------------------------------------------------


async def identities_of(uow: UnitOfWork, *, user: User) -> list[OidcIdentity]:
    """The identities linked to the account, oldest first."""
    rows = await uow.session.scalars(
        select(OidcIdentity)
        .where(col(OidcIdentity.user_id) == user.id)
        .order_by(col(OidcIdentity.created_at))
    )
    return list(rows.all())


async def unlink(uow: UnitOfWork, *, user: User, provider: str, providers: OpenIDProviders) -> None:
    """Unlink a provider from the account — refused (409 `last_sign_in_method`) when it is
    the account's only way in (no password, no other identity)."""
    configured = providers.get(provider)
    where = (
        col(OidcIdentity.issuer) == configured.issuer
        if configured is not None
        else col(OidcIdentity.provider) == provider
    )
    identity = await uow.session.scalar(
        select(OidcIdentity).where(col(OidcIdentity.user_id) == user.id, where)
    )
    if identity is None:
        raise NotFound(f"Your account is not linked to {provider!r}.", code="identity_not_found")
    others = await uow.session.scalar(
        select(func.count())
        .select_from(OidcIdentity)
        .where(col(OidcIdentity.user_id) == user.id, col(OidcIdentity.id) != identity.id)
    )
    if not user.password_hash and not others:
        raise Conflict(
            "This is the only way you sign in: your account has no password and no other "
            "linked provider. Link another provider first.",
            code="last_sign_in_method",
        )
    await uow.session.delete(identity)


async def forget_identities(uow: UnitOfWork, *, user_id: uuid.UUID) -> None:
    """A closed account's identities and sign-ins in progress: the person may sign up
    afresh with the same provider account."""
    await uow.session.execute(delete(OidcIdentity).where(col(OidcIdentity.user_id) == user_id))
    await uow.session.execute(delete(OidcLogin).where(col(OidcLogin.user_id) == user_id))
