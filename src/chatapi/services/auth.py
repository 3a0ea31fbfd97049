"""Accounts and tokens: register, log in, refresh with rotation, log out, authenticate."""

from __future__ import annotations

import asyncio
import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, Uuid, bindparam, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from chatapi import security
from chatapi.db import UnitOfWork
from chatapi.errors import Conflict, Forbidden, NotAuthenticated
from chatapi.models import RefreshToken, User
from chatapi.ports import LoginAttempts, Quota
from chatapi.schemas import TokenPair, UserCreate
from chatapi.services import instance, membership, sessions, users

BAD_CREDENTIALS = "Incorrect username or password."


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    key: str
    access_ttl: int
    refresh_ttl: int


async def register(
    uow: UnitOfWork,
    *,
    data: UserCreate,
    client: str,
    quota: Quota,
    mode: instance.RegistrationMode = "open",
) -> User:
    """Create an account; a username taken in any case is a conflict. The registration
    mode decides whether it may be made at all (`instance.admit`: closed, or an invite
    code needed and one of its uses taken).

    Accounts created per client address are a quota, reserved before the password is
    hashed (given back when the username is taken or the door is shut).
    """
    await quota.take(client)
    try:
        await instance.admit(uow, mode=mode, invite=data.invite)
        return await create_account(
            uow,
            username=data.username,
            display_name=data.display_name or data.username,
            password=data.password,
            email=data.email,
        )
    except (Conflict, Forbidden):
        await quota.give_back(client)
        raise


async def create_account(
    uow: UnitOfWork,
    *,
    username: str,
    display_name: str,
    password: str | None,
    email: str | None = None,
) -> User:
    """Add an account; a username taken in any case is a conflict (409 `username_taken`),
    so is an e-mail address another account has (409 `email_taken`). Without a password,
    the account signs in only through its OpenID identities."""
    taken = await uow.session.scalar(select(col(User.id)).where(col(User.username) == username))
    if taken is not None:
        raise Conflict("That username is taken. Choose another one.", code="username_taken")
    email = email.lower() if email else None
    if email is not None and await users.email_in_use(uow, email):
        raise users.email_taken()
    password_hash = (
        await asyncio.to_thread(security.hash_password, password) if password is not None else ""
    )
    user = User(
        username=username, display_name=display_name, password_hash=password_hash, email=email
    )
    uow.session.add(user)
    try:
        await uow.session.flush()
    except IntegrityError as exc:  # a concurrent registration won the unique index
        raise Conflict(
            "That username is taken. Choose another one.", code="username_taken"
        ) from exc
    return user


async def login(
    uow: UnitOfWork,
    *,
    username: str,
    password: str,
    client: str,
    limiter: LoginAttempts,
    policy: TokenPolicy,
    device: sessions.Device | None = None,
) -> TokenPair:
    """Check credentials and issue a new token pair (a new refresh-token family).

    The attempt is counted before the password is hashed, so parallel guesses cannot
    outrun the limit (429 `rate_limited`); a success gives it back.
    """
    user = await check_password(
        uow, username=username, password=password, client=client, limiter=limiter
    )
    return await start_session(uow, user_id=user.id, policy=policy, device=device)


async def check_password(
    uow: UnitOfWork, *, username: str, password: str, client: str, limiter: LoginAttempts
) -> User:
    """The account whose password this is (a login, or a confirmation that links an
    OpenID identity to it), counted by the login limits.

    An account without a password (it signs in through an OpenID Provider only) is
    refused with 401 `password_not_set`, which says so.
    """
    username = username.strip().lower()
    await limiter.reserve(username=username, client=client)
    user = await uow.session.scalar(
        select(User).where(col(User.username) == username, col(User.deleted_at).is_(None))
    )
    if user is not None and not user.password_hash:
        raise NotAuthenticated(
            "This account has no password: it signs in with single sign-on. Use the "
            '"Sign in with ..." button.',
            code="password_not_set",
        )
    ok = await asyncio.to_thread(
        security.verify_password, password, user.password_hash if user else None
    )
    if user is None or not ok:
        raise NotAuthenticated(BAD_CREDENTIALS, code="invalid_credentials")
    await limiter.succeeded(username=username, client=client)
    return user


async def start_session(
    uow: UnitOfWork,
    *,
    user_id: uuid.UUID,
    policy: TokenPolicy,
    device: sessions.Device | None = None,
    method: str = "password",
) -> TokenPair:
    """A new login session for the user: a new refresh-token family and its first pair,
    listed among the user's sessions with the device it came from. Every way in (a
    password, an OpenID Provider: `method` is its name) ends here, so a suspended account
    is refused here (403 `account_suspended`, until the suspension ends)."""
    user = await uow.session.get(User, user_id)
    if user is not None and instance.suspended(user):
        raise instance.suspension_error(user)
    family = uuid.uuid4()
    await sessions.record_sign_in(
        uow, user_id=user_id, session_id=family, device=device, method=method
    )
    return await _issue_pair(uow, user_id=user_id, family=family, policy=policy)


async def refresh(
    uow: UnitOfWork, *, token: str, policy: TokenPolicy, device: sessions.Device | None = None
) -> TokenPair | NotAuthenticated:
    """Spend a refresh token for a new pair. A spent token presented again revokes its family.

    That refusal is returned, not raised: the revocation must be committed first, by the
    caller, which then raises it.
    """
    stored = await _stored_refresh_token(uow, token=token, policy=policy)
    owner = await uow.session.get(User, stored.user_id)
    if owner is not None and instance.suspended(owner):
        raise instance.suspension_error(owner)
    now = datetime.now(UTC)
    if stored.used_at is not None or stored.revoked_at is not None:
        await _revoke_family(uow, stored)
        return NotAuthenticated(
            "This refresh token was already used; every session from it is now signed out. "
            "Log in again.",
            code="refresh_token_reused",
        )
    # Spend it with a conditional update so two concurrent refreshes cannot both succeed.
    spent = await uow.session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.id) == stored.id, col(RefreshToken.used_at).is_(None))
        .values(used_at=now)
    )
    if cast(CursorResult[Any], spent).rowcount != 1:
        await _revoke_family(uow, stored)
        return NotAuthenticated(
            "This refresh token was already used; log in again.", code="refresh_token_reused"
        )
    user = await uow.session.get(User, stored.user_id)
    if user is None or user.deleted_at is not None:
        raise NotAuthenticated("This account no longer exists.", code="invalid_token")
    await sessions.note_use(uow, session_id=stored.family_id, device=device)
    return await _issue_pair(uow, user_id=stored.user_id, family=stored.family_id, policy=policy)


async def confirm_password(
    user: User, password: str | None, *, client: str, limiter: LoginAttempts
) -> None:
    """The person at the keyboard proves the account is theirs before a grave change
    (a new password, closing the account): 403 `password_required` / `wrong_password`.
    Wrong guesses count against the login limits like failed logins."""
    if not password:
        raise Forbidden("Type your password to confirm.", code="password_required")
    await limiter.reserve(username=user.username, client=client)
    if not await asyncio.to_thread(security.verify_password, password, user.password_hash):
        raise Forbidden("The password is not right. Type it again.", code="wrong_password")
    await limiter.succeeded(username=user.username, client=client)


async def change_password(
    uow: UnitOfWork,
    *,
    user: User,
    current: str,
    new: str,
    session_id: uuid.UUID | None,
    client: str,
    limiter: LoginAttempts,
) -> None:
    """Set a new password, given the current one, and sign out every other session
    (`session_id`, the one asking, stays signed in). Wrong guesses count against the
    login limits like failed logins (429 `rate_limited` past them)."""
    if not user.password_hash:
        raise Conflict(
            "This account has no password: it signs in with single sign-on.",
            code="password_not_set",
        )
    await limiter.reserve(username=user.username, client=client)
    if not await asyncio.to_thread(security.verify_password, current, user.password_hash):
        raise Forbidden("The current password is not right. Type it again.", code="wrong_password")
    await limiter.succeeded(username=user.username, client=client)
    password_hash = await asyncio.to_thread(security.hash_password, new)
    await uow.session.execute(
        update(User).where(col(User.id) == user.id).values(password_hash=password_hash)
    )
    await sessions.revoke_all(uow, user_id=user.id, keep_session_id=session_id)


async def logout(uow: UnitOfWork, *, token: str, policy: TokenPolicy) -> None:
    """Revoke the refresh token's whole family."""
    stored = await _stored_refresh_token(uow, token=token, policy=policy)
    await _revoke_family(uow, stored)


async def authenticate(
    uow: UnitOfWork, *, token: str, key: str, revocations: sessions.RevocationCache
) -> User:
    """The user an access token speaks for; 401 for anything else."""
    user, _ = await authenticate_with_claims(uow, token=token, key=key, revocations=revocations)
    return user


async def authenticate_with_claims(
    uow: UnitOfWork, *, token: str, key: str, revocations: sessions.RevocationCache
) -> tuple[User, security.TokenClaims]:
    """`authenticate`, also returning the token's claims (e.g. when it expires). A token
    of a revoked session is refused too, without a query once its session is cached."""
    claims = access_claims(token, key=key)
    user = await uow.session.get(User, claims.sub)
    if user is None or user.deleted_at is not None:
        raise _account_gone()
    if instance.suspended(user):
        raise _suspended()
    if await sessions.is_revoked(uow, revocations, claims):
        raise sessions.session_ended()
    return user, claims


def access_claims(token: str, *, key: str) -> security.TokenClaims:
    """The claims of a valid access token; 401 for anything else (no query)."""
    try:
        return security.decode_token(token, key=key, expected_type="access")
    except security.InvalidToken as exc:
        raise NotAuthenticated(
            "The access token is invalid or expired. Log in or refresh it.", code="invalid_token"
        ) from exc


@functools.cache
def _socket_auth_statement(with_revoked: bool, with_circle: bool) -> Select[Any]:
    """`authenticate_socket`'s statement, built once per variant (bind parameters `uid`,
    `sid`): building it took longer than running it."""
    uid = bindparam("uid", type_=Uuid())
    stmt: Select[Any] = select(User).where(col(User.id) == uid)
    if with_revoked:
        revoked = sessions.revoked_clause(uid, bindparam("sid", type_=Uuid()))
        stmt = stmt.add_columns(revoked.label("revoked"))
    if with_circle:
        circle = membership.circle(uid)
        stmt = stmt.add_columns(circle.c.kind, circle.c.id, circle.c.seq).outerjoin(circle, true())
    return stmt


def _suspended() -> NotAuthenticated:
    return NotAuthenticated(
        "This account is suspended by the server's moderators.", code="account_suspended"
    )


def _account_gone() -> NotAuthenticated:
    return NotAuthenticated("This account no longer exists.", code="invalid_token")


@dataclass(frozen=True, slots=True)
class SocketAuth:
    """What a socket's `auth` found, in one statement (`authenticate_socket`)."""

    user: User
    # With `with_circle`: the user's conversations and the last seq of each, and everyone
    # who shares one with them (for the hub's routing and the presence announcement).
    conversations: dict[uuid.UUID, int] | None = None
    co_members: set[uuid.UUID] | None = None


async def authenticate_socket(
    uow: UnitOfWork,
    *,
    claims: security.TokenClaims,
    revocations: sessions.RevocationCache,
    with_circle: bool,
) -> SocketAuth:
    """`authenticate_with_claims` for a socket's `auth` (its token decoded already), in one
    statement: the user; whether the token's session is revoked, unless this instance
    knows; and `with_circle` (the user's first socket here) their conversations and
    co-members too (`membership.circle`), which would otherwise be two more queries."""
    sid = claims.sid
    known = None if sid is None else revocations.get(sid)
    generation = revocations.generation
    ask_revoked = sid is not None and known is None
    stmt = _socket_auth_statement(ask_revoked, with_circle)
    rows = (await uow.session.execute(stmt, {"uid": claims.sub, "sid": sid})).all()
    if not rows or rows[0].User.deleted_at is not None:
        raise _account_gone()
    if instance.suspended(rows[0].User):
        raise _suspended()
    found = SocketAuth(user=rows[0].User)
    if ask_revoked:
        assert sid is not None
        known = bool(rows[0].revoked)
        revocations.store(claims.sub, sid, known, generation=generation)
    if known:
        raise sessions.session_ended()
    if not with_circle:
        return found
    conversations: dict[uuid.UUID, int] = {}
    co_members: set[uuid.UUID] = set()
    for row in rows:
        if row.kind == membership.CONVERSATION:
            conversations[row.id] = row.seq
        elif row.kind == membership.CO_MEMBER:
            co_members.add(row.id)
    return SocketAuth(user=found.user, conversations=conversations, co_members=co_members)


async def _stored_refresh_token(
    uow: UnitOfWork, *, token: str, policy: TokenPolicy
) -> RefreshToken:
    try:
        claims = security.decode_token(token, key=policy.key, expected_type="refresh")
    except security.InvalidToken as exc:
        raise NotAuthenticated(
            "The refresh token is invalid or expired. Log in again.", code="invalid_token"
        ) from exc
    stored = await uow.session.get(RefreshToken, claims.jti)
    if stored is None or stored.token_hash != security.token_digest(token):
        raise NotAuthenticated(
            "The refresh token is not known. Log in again.", code="invalid_token"
        )
    return stored


async def _revoke_family(uow: UnitOfWork, stored: RefreshToken) -> None:
    await sessions.revoke_session(uow, user_id=stored.user_id, session_id=stored.family_id)


async def _issue_pair(
    uow: UnitOfWork, *, user_id: uuid.UUID, family: uuid.UUID, policy: TokenPolicy
) -> TokenPair:
    access, _ = security.issue_token(
        key=policy.key,
        subject=user_id,
        token_type="access",
        ttl_seconds=policy.access_ttl,
        sid=family,  # the session: revoking the family ends its access tokens too
    )
    refresh_token, claims = security.issue_token(
        key=policy.key,
        subject=user_id,
        token_type="refresh",
        ttl_seconds=policy.refresh_ttl,
        family=family,
    )
    uow.session.add(
        RefreshToken(
            id=claims.jti,
            user_id=user_id,
            family_id=family,
            token_hash=security.token_digest(refresh_token),
            created_at=claims.iat,
            expires_at=claims.exp,
        )
    )
    return TokenPair(access_token=access, refresh_token=refresh_token, expires_in=policy.access_ttl)
