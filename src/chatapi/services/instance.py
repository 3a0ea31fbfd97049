"""The instance's own people and doors: instance roles (admin, moderator), registration
modes and invite links, and the audit log every moderation or administration action is
written to (who, what, when, why).

Roles are granted by an admin (`PUT /api/v1/admin/users/{id}/role`) or on the command
line (`chatapi admin grant USERNAME moderator|admin`; the first admin is made there).
`REGISTRATION=open|invite|closed` says who may create an account; with `invite`, a new
account needs an invite code, whose uses are counted with one conditional UPDATE, so
however many registrations race for its last use, exactly one gets it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import Forbidden, NotFound
from chatapi.models import AuditEntry, InstanceRole, Invite, User

RegistrationMode = Literal["open", "invite", "closed"]

MAX_INVITE_USES = 10_000
MAX_INVITE_DAYS = 365
AUDIT_LIMIT_MAX = 200


# --- roles ----------------------------------------------------------------------------


def is_moderator(user: User) -> bool:
    """Moderators and admins moderate."""
    return user.role in (InstanceRole.moderator.value, InstanceRole.admin.value)


def is_admin(user: User) -> bool:
    return user.role == InstanceRole.admin.value


def require_moderator(user: User) -> None:
    if not is_moderator(user):
        raise Forbidden("Only the instance's moderators can do that.", code="moderators_only")


def require_admin(user: User) -> None:
    if not is_admin(user):
        raise Forbidden("Only the instance's admins can do that.", code="admins_only")


async def set_role(
    uow: UnitOfWork,
    *,
    actor: User | None,
    target: User,
    role: InstanceRole | None,
    reason: str = "",
) -> User:
    """Grant an instance role, or take it away (`role` None). `actor` None: the command
    line. An admin cannot take their own admin role (the instance would be left without
    a way back in from the UI)."""
    if actor is not None:
        require_admin(actor)
        if actor.id == target.id and role != InstanceRole.admin:
            raise Forbidden(
                "You cannot take away your own admin role; ask another admin.",
                code="cannot_demote_self",
            )
    before = target.role
    value = role.value if role is not None else None
    if before == value:
        return target
    await uow.session.execute(update(User).where(col(User.id) == target.id).values(role=value))
    target.role = value
    audit(
        uow,
        actor_id=actor.id if actor else None,
        action="grant_role" if value else "revoke_role",
        subject_user_id=target.id,
        reason=reason,
        data={"role": value, "was": before},
    )
    return target


async def user_by_username(uow: UnitOfWork, username: str) -> User:
    found = await uow.session.scalar(
        select(User).where(col(User.username) == username.strip().lower())
    )
    if found is None or found.deleted_at is not None:
        raise NotFound(f"No user named {username!r}.", code="user_not_found")
    return found


# --- registration and invites ---------------------------------------------------------


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def create_invite(
    uow: UnitOfWork, *, actor: User | None, max_uses: int, expires_in: timedelta
) -> tuple[Invite, str]:
    """A new invite code (shown once: only its digest is kept), good for `max_uses`
    registrations until it expires."""
    if actor is not None:
        require_admin(actor)
    code = secrets.token_urlsafe(18)
    invite = Invite(
        code_hash=_digest(code),
        created_by=actor.id if actor else None,
        expires_at=datetime.now(UTC) + expires_in,
        max_uses=max_uses,
    )
    uow.session.add(invite)
    await uow.session.flush()
    audit(
        uow,
        actor_id=actor.id if actor else None,
        action="create_invite",
        data={
            "invite_id": str(invite.id),
            "max_uses": max_uses,
            "expires_at": invite.expires_at.isoformat(),
        },
    )
    return invite, code


async def list_invites(uow: UnitOfWork, *, actor: User) -> Sequence[Invite]:
    """Every invite, the newest first (at most 200)."""
    require_admin(actor)
    return (
        await uow.session.scalars(
            select(Invite).order_by(col(Invite.created_at).desc(), col(Invite.id)).limit(200)
        )
    ).all()


async def revoke_invite(uow: UnitOfWork, *, actor: User, invite_id: uuid.UUID) -> None:
    """Make an invite unusable (idempotent); 404 `invite_not_found`."""
    require_admin(actor)
    invite = await uow.session.get(Invite, invite_id)
    if invite is None:
        raise NotFound("No such invite.", code="invite_not_found")
    if invite.revoked_at is None:
        invite.revoked_at = datetime.now(UTC)
        audit(uow, actor_id=actor.id, action="revoke_invite", data={"invite_id": str(invite_id)})


async def admit(uow: UnitOfWork, *, mode: RegistrationMode, invite: str | None) -> None:
    """May a new account be created now? `closed`: 403 `registration_closed`; `invite`: a
    valid invite code is needed (403 `invite_required` / `invalid_invite`), and one of its
    uses is taken in this transaction (given back if the registration rolls back)."""
    if mode == "open":
        return
    if mode == "closed":
        raise Forbidden("This server does not accept new accounts.", code="registration_closed")
    if not invite:
        raise Forbidden(
            "This server accepts new accounts by invitation only: give your invite code.",
            code="invite_required",
        )
    taken = await uow.session.scalar(
        update(Invite)
        .where(
            col(Invite.code_hash) == _digest(invite.strip()),
            col(Invite.uses) < col(Invite.max_uses),
            col(Invite.expires_at) > datetime.now(UTC),
            col(Invite.revoked_at).is_(None),
        )
        .values(uses=col(Invite.uses) + 1)
        .returning(col(Invite.id))
    )
    if taken is None:
        raise Forbidden(
            "This invite code is not valid: it is unknown, expired, revoked or used up.",
            code="invalid_invite",
        )


# --- the audit log --------------------------------------------------------------------


def audit(
    uow: UnitOfWork,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    subject_user_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
    item_id: uuid.UUID | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write an action to the audit log, in the action's own transaction."""
    entry = AuditEntry(
        actor_id=actor_id,
        action=action,
        subject_user_id=subject_user_id,
        message_id=message_id,
        item_id=item_id,
        reason=reason[:1000],
        data=data,
    )
    uow.session.add(entry)
    return entry


async def audit_log(
    uow: UnitOfWork, *, actor: User, before: datetime | None = None, limit: int = 50
) -> Sequence[AuditEntry]:
    """The audit log, newest first, for admins: `before` pages back."""
    require_admin(actor)
    stmt = select(AuditEntry)
    if before is not None:
        stmt = stmt.where(col(AuditEntry.created_at) < before)
    stmt = stmt.order_by(col(AuditEntry.created_at).desc(), col(AuditEntry.id)).limit(
        min(max(limit, 1), AUDIT_LIMIT_MAX)
    )
    return (await uow.session.scalars(stmt)).all()


# --- suspension (set by services/moderation.py) ----------------------------------------

# "For good", stored as a time no clock reaches.
SUSPENDED_FOR_GOOD = datetime(9999, 12, 31, tzinfo=UTC)


def suspended(user: User, *, now: datetime | None = None) -> bool:
    until = user.suspended_until
    return until is not None and until > (now or datetime.now(UTC))


def suspension_error(user: User) -> Forbidden:
    """What a suspended account is told when it tries to sign in (403 `account_suspended`)."""
    until = user.suspended_until
    when = (
        "for good"
        if until is None or until >= SUSPENDED_FOR_GOOD
        else f"until {until.strftime('%Y-%m-%d %H:%M')} UTC"
    )
    return Forbidden(
        f"This account is suspended by the server's moderators {when}.", code="account_suspended"
    )
