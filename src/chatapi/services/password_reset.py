"""Password reset by e-mail: a single-use link, valid 30 minutes, sent to the address on
the account. Asking gives the same answer whether or not an account matches (the caller
sends the mail after answering, so the time taken says nothing either); using a link
sets the password and signs out every session."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update
from sqlmodel import col

from chatapi import security
from chatapi.db import UnitOfWork
from chatapi.errors import ChatError, RateLimited
from chatapi.models import PasswordReset, User
from chatapi.ports import Quota
from chatapi.services import sessions

RESET_TTL = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class ResetMail:
    """The mail to send: to whom, and the link's secret."""

    to: str
    username: str
    token: str


def _invalid() -> ChatError:
    return ChatError(
        "This reset link is not valid: it was used already, has expired, or was "
        "mistyped. Ask for a new one.",
        code="invalid_reset_token",
    )


async def request_reset(
    uow: UnitOfWork, *, login: str, client: str, per_address: Quota, per_account: Quota
) -> ResetMail | None:
    """A reset link for the account whose username or e-mail address `login` is, when it
    has an e-mail address and a password; None otherwise (the answer is the same). Asks
    count per client address (429 past the limit) and mails per account (silently none
    past it). Links asked for earlier stop working: only the newest one does."""
    await per_address.take(client)
    login = login.strip().lower()
    user = await uow.session.scalar(
        select(User).where(
            or_(col(User.username) == login, col(User.email) == login),
            col(User.deleted_at).is_(None),
        )
    )
    if user is None or not user.email or not user.password_hash:
        return None
    try:
        await per_account.take(str(user.id))
    except RateLimited:  # enough mails for this account for now; the answer stays the same
        return None
    now = datetime.now(UTC)
    await uow.session.execute(
        update(PasswordReset)
        .where(col(PasswordReset.user_id) == user.id, col(PasswordReset.used_at).is_(None))
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    uow.session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=security.token_digest(token),
            created_at=now,
            expires_at=now + RESET_TTL,
        )
    )
    return ResetMail(to=user.email, username=user.username, token=token)


async def reset_password(uow: UnitOfWork, *, token: str, new_password: str) -> None:
    """Spend a reset link: set the password and sign out every session of the account.
    A link works once (two uses at the same moment: one wins) and for 30 minutes."""
    now = datetime.now(UTC)
    found = await uow.session.scalar(
        select(PasswordReset).where(col(PasswordReset.token_hash) == security.token_digest(token))
    )
    if found is None or found.used_at is not None or found.expires_at <= now:
        raise _invalid()
    spent = await uow.session.execute(
        update(PasswordReset)
        .where(col(PasswordReset.id) == found.id, col(PasswordReset.used_at).is_(None))
        .values(used_at=now)
    )
    if cast(CursorResult[Any], spent).rowcount != 1:
        raise _invalid()
    user = await uow.session.get(User, found.user_id)
    if user is None or user.deleted_at is not None:
        raise _invalid()
    password_hash = await asyncio.to_thread(security.hash_password, new_password)
    await uow.session.execute(
        update(User).where(col(User.id) == user.id).values(password_hash=password_hash)
    )
    await sessions.revoke_all(uow, user_id=user.id)


def mail_text(mail: ResetMail, *, link: str) -> tuple[str, str]:
    """The subject and text of a reset mail."""
    minutes = int(RESET_TTL.total_seconds() // 60)
    return (
        "Reset your chatapi password",
        f"Someone (we hope you) asked to reset the password of the chatapi account "
        f"@{mail.username}.\n\n"
        f"To choose a new password, open this link within {minutes} minutes:\n\n"
        f"{link}\n\n"
        "It works once. If you did not ask for this, ignore this mail: your password "
        "stays as it is.\n",
    )
