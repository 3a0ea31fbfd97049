"""Login sessions: which access tokens still speak for someone, checked without a
database query per request.

A session is one login: its refresh-token family, whose id every access token of it
carries as its `sid` claim (issued at login, kept on refresh). Revoking a session
(logout, a reused refresh token) or all of a user's sessions (account deletion; a
password change would keep the current one) marks its refresh tokens revoked in the
database — the truth — and emits `SessionsRevoked`. Once committed, every instance
hears it through the broker: its `RevocationCache` learns the session is revoked and
its hub closes the session's sockets with 4401. `auth.authenticate` refuses (401
`invalid_token`) an access token whose session is revoked. The push subscriptions the
revoked sessions registered are deleted with them (that device gets no more pushes).

`RevocationCache` is the small component the app owns: session id -> revoked, loaded
with one indexed query the first time a session is seen on this instance and answered
from memory after that. Revocations are final, so a cached "revoked" never goes stale;
a cached "active" is overwritten by the broadcast. A look-up racing a revocation (the
query read before the commit, the broadcast arrived before the answer) is not cached:
every revocation bumps a generation, and a load started under an older one is dropped.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import ua_parser
from sqlalchemy import Exists, delete, exists, or_, select, update
from sqlalchemy.sql.elements import BindParameter
from sqlmodel import col

from chatapi import security
from chatapi.db import UnitOfWork
from chatapi.domain import SessionsRevoked
from chatapi.errors import NotAuthenticated, NotFound
from chatapi.models import LoginSession, PushSubscription, RefreshToken


class RevocationCache:
    """This instance's memory of which sessions are revoked (see the module docstring)."""

    def __init__(self, *, max_entries: int = 100_000) -> None:
        self._max_entries = max_entries
        # session id -> (user id, revoked)
        self._sessions: dict[uuid.UUID, tuple[uuid.UUID, bool]] = {}
        self._by_user: dict[uuid.UUID, set[uuid.UUID]] = {}
        self.generation = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: uuid.UUID) -> bool | None:
        """True revoked, False active, None not known here yet."""
        entry = self._sessions.get(session_id)
        return None if entry is None else entry[1]

    def store(
        self, user_id: uuid.UUID, session_id: uuid.UUID, revoked: bool, *, generation: int
    ) -> None:
        """Remember what the database said, unless a revocation came in since the query
        started (`generation`): then the answer may predate it."""
        if generation != self.generation:
            return
        if len(self._sessions) >= self._max_entries:
            self._evict()
        self._sessions[session_id] = (user_id, revoked)
        self._by_user.setdefault(user_id, set()).add(session_id)

    def revoked(
        self,
        user_id: uuid.UUID,
        session_id: uuid.UUID | None,
        keep_session_id: uuid.UUID | None = None,
    ) -> None:
        """A revocation was committed (heard through the broker, on every instance)."""
        self.generation += 1
        for sid in self._matching(user_id, session_id, keep_session_id):
            self._sessions[sid] = (user_id, True)
            self._by_user.setdefault(user_id, set()).add(sid)

    def clear(self) -> None:
        """Forget everything (e.g. the broker was down: revocations may have been missed)."""
        self.generation += 1
        self._sessions.clear()
        self._by_user.clear()

    def _matching(
        self, user_id: uuid.UUID, session_id: uuid.UUID | None, keep: uuid.UUID | None
    ) -> Iterator[uuid.UUID]:
        if session_id is not None:
            yield session_id
            return
        for sid in list(self._by_user.get(user_id, ())):
            if sid != keep:
                yield sid

    def _evict(self) -> None:
        # Oldest first (dicts keep insertion order); evicted sessions are loaded again.
        for sid in list(self._sessions)[: max(1, self._max_entries // 10)]:
            user_id, _ = self._sessions.pop(sid)
            sids = self._by_user.get(user_id)
            if sids is not None:
                sids.discard(sid)
                if not sids:
                    del self._by_user[user_id]


def session_ended() -> NotAuthenticated:
    return NotAuthenticated(
        "This session was signed out (logout, or the account was closed). Log in again.",
        code="invalid_token",
    )


async def is_revoked(uow: UnitOfWork, cache: RevocationCache, claims: security.TokenClaims) -> bool:
    """Whether the token's session was revoked: from memory, or one query the first time
    this instance sees the session. Tokens without a session (issued before sessions
    existed; they expire within ACCESS_TOKEN_TTL_SECONDS) are judged by their user alone."""
    sid = claims.sid
    if sid is None:
        return False
    known = cache.get(sid)
    if known is not None:
        return known
    generation = cache.generation
    revoked = bool(await uow.session.scalar(select(revoked_clause(claims.sub, sid))))
    cache.store(claims.sub, sid, revoked, generation=generation)
    return revoked


def revoked_clause(
    user_id: uuid.UUID | BindParameter[uuid.UUID],
    session_id: uuid.UUID | BindParameter[uuid.UUID],
) -> Exists:
    """SQL: the user's login session is revoked (for `is_revoked`, or a column of a bigger
    query, whose answer goes to `RevocationCache.store`). Values or bind parameters."""
    return exists().where(
        col(RefreshToken.family_id) == session_id,
        col(RefreshToken.user_id) == user_id,
        col(RefreshToken.revoked_at).is_not(None),
    )


async def revoked_among(
    uow: UnitOfWork, session_ids: Collection[uuid.UUID], *, chunk: int = 500
) -> set[uuid.UUID]:
    """Which of these sessions are revoked (a query per `chunk` of them)."""
    ids = list(session_ids)
    revoked: set[uuid.UUID] = set()
    for start in range(0, len(ids), chunk):
        stmt = (
            select(col(RefreshToken.family_id))
            .where(
                col(RefreshToken.family_id).in_(ids[start : start + chunk]),
                col(RefreshToken.revoked_at).is_not(None),
            )
            .distinct()
        )
        revoked.update((await uow.session.scalars(stmt)).all())
    return revoked


async def revoke_session(uow: UnitOfWork, *, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """Revoke one login session (its refresh-token family); its access tokens and open
    sockets end once this commits."""
    await uow.session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == session_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    # The device signed out gets no more pushes (its browser's subscription is gone).
    await uow.session.execute(
        delete(PushSubscription).where(
            col(PushSubscription.user_id) == user_id, col(PushSubscription.session_id) == session_id
        )
    )
    uow.emit(SessionsRevoked(user_id=user_id, session_id=session_id))


async def revoke_all(
    uow: UnitOfWork, *, user_id: uuid.UUID, keep_session_id: uuid.UUID | None = None
) -> None:
    """Revoke every session of a user (account deletion), or every one but the current
    one (`keep_session_id`, for a password change)."""
    where = [col(RefreshToken.user_id) == user_id, col(RefreshToken.revoked_at).is_(None)]
    if keep_session_id is not None:
        where.append(col(RefreshToken.family_id) != keep_session_id)
    await uow.session.execute(
        update(RefreshToken).where(*where).values(revoked_at=datetime.now(UTC))
    )
    # Their devices' push subscriptions go with them (those of a token without a session
    # too: no session of theirs is kept).
    doomed = [col(PushSubscription.user_id) == user_id]
    if keep_session_id is not None:
        doomed.append(
            or_(
                col(PushSubscription.session_id).is_(None),
                col(PushSubscription.session_id) != keep_session_id,
            )
        )
    await uow.session.execute(delete(PushSubscription).where(*doomed))
    uow.emit(SessionsRevoked(user_id=user_id, keep_session_id=keep_session_id))


# --- the sessions list: the devices a person is signed in on --------------------------


@dataclass(frozen=True, slots=True)
class Device:
    """Where a sign-in or a token refresh comes from: its User-Agent and address."""

    user_agent: str = ""
    address: str = ""

    def clipped(self) -> Device:
        return Device(self.user_agent[:USER_AGENT_MAX], self.address[:ADDRESS_MAX])


USER_AGENT_MAX = 512
ADDRESS_MAX = 64


@dataclass(frozen=True, slots=True)
class SessionView:
    """A signed-in session as its owner sees it (`SessionRead`)."""

    session: LoginSession
    browser: str | None
    os: str | None


async def record_sign_in(
    uow: UnitOfWork,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    device: Device | None,
    method: str,
) -> None:
    """A new session (a sign-in), listed from now on with its device and address."""
    seen = device.clipped() if device is not None else Device()
    uow.session.add(
        LoginSession(
            id=session_id,
            user_id=user_id,
            user_agent=seen.user_agent,
            address=seen.address,
            method=method[:32],
        )
    )


async def note_use(uow: UnitOfWork, *, session_id: uuid.UUID, device: Device | None) -> None:
    """The session refreshed its tokens: in use now, from this device and address."""
    values: dict[str, object] = {"last_used_at": datetime.now(UTC)}
    if device is not None:
        seen = device.clipped()
        values.update(user_agent=seen.user_agent, address=seen.address)
    await uow.session.execute(
        update(LoginSession).where(col(LoginSession.id) == session_id).values(**values)
    )


def _signed_in(now: datetime) -> Exists:
    """The session's refresh-token family still has a token that can be spent."""
    return exists().where(
        col(RefreshToken.family_id) == col(LoginSession.id),
        col(RefreshToken.revoked_at).is_(None),
        col(RefreshToken.used_at).is_(None),
        col(RefreshToken.expires_at) > now,
    )


async def signed_in(uow: UnitOfWork, *, user_id: uuid.UUID) -> list[SessionView]:
    """The user's sessions that are still signed in, the most recently used first."""
    found = await uow.session.scalars(
        select(LoginSession)
        .where(col(LoginSession.user_id) == user_id, _signed_in(datetime.now(UTC)))
        .order_by(col(LoginSession.last_used_at).desc(), col(LoginSession.id))
    )
    return [SessionView(s, *describe(s.user_agent)) for s in found]


async def sign_out(uow: UnitOfWork, *, user_id: uuid.UUID, session_id: uuid.UUID) -> None:
    """End one of the user's own sessions (a device they no longer use); 404 when it is not
    theirs or no longer signed in."""
    found = await uow.session.scalar(
        select(col(LoginSession.id)).where(
            col(LoginSession.id) == session_id,
            col(LoginSession.user_id) == user_id,
            _signed_in(datetime.now(UTC)),
        )
    )
    if found is None:
        raise NotFound("No such signed-in session.", code="session_not_found")
    await revoke_session(uow, user_id=user_id, session_id=session_id)


@functools.lru_cache(maxsize=1024)
def describe(user_agent: str) -> tuple[str | None, str | None]:
    """The browser (with its major version) and the operating system a User-Agent names,
    e.g. ("Firefox 133", "Windows"); None where it does not say (curl names no OS)."""
    if not user_agent:
        return None, None
    parsed = ua_parser.parse(user_agent)
    browser = None
    if parsed.user_agent is not None and parsed.user_agent.family != "Other":
        major = parsed.user_agent.major
        browser = f"{parsed.user_agent.family} {major}" if major else parsed.user_agent.family
    system = None
    if parsed.os is not None and parsed.os.family != "Other":
        system = parsed.os.family
    return browser, system
