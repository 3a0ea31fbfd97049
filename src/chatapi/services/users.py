"""Users: look-ups, search by prefix, profile changes (account deletion: accounts.py)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.domain import ProfileChanged
from chatapi.errors import Conflict, NotFound
from chatapi.media_urls import MediaSigner
from chatapi.models import User
from chatapi.ports import OnlineUsers
from chatapi.schemas import UserRead
from chatapi.services import membership

SEARCH_LIMIT_MAX = 50


def _active() -> ColumnElement[bool]:
    return col(User.deleted_at).is_(None)


async def get_user(uow: UnitOfWork, *, user_id: uuid.UUID) -> User:
    user = await uow.session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise NotFound("No such user.", code="user_not_found")
    return user


async def search_users(uow: UnitOfWork, *, prefix: str, limit: int = 20) -> Sequence[User]:
    """Users whose username or display name starts with `prefix` (case-insensitive)."""
    prefix = prefix.strip().lower()
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    stmt = (
        select(User)
        .where(
            _active(),
            col(User.username).like(f"{escaped}%", escape="\\")
            | col(User.display_name).ilike(f"{escaped}%", escape="\\"),
        )
        .order_by(col(User.username))
        .limit(min(max(limit, 1), SEARCH_LIMIT_MAX))
    )
    return (await uow.session.scalars(stmt)).all()


_KEEP: Any = object()


async def update_profile(
    uow: UnitOfWork,
    *,
    user: User,
    presence: OnlineUsers,
    signer: MediaSigner,
    display_name: str | None = None,
    email: Any = _KEEP,
) -> User:
    """Change the display name and/or the e-mail address (`None` removes it; left out, it
    stays). An address another account has is a conflict (409 `email_taken`). A new
    display name is announced to the user's co-members (`user.updated`, after commit);
    the e-mail address is nobody else's business."""
    user = await uow.session.merge(user)
    if display_name is not None and display_name != user.display_name:
        user.display_name = display_name
        await announce_profile(uow, user=user, presence=presence, signer=signer)
    if email is not _KEEP:
        address = email.lower() if email else None
        if address is not None and await _email_taken(uow, address, other_than=user.id):
            raise email_taken()
        user.email = address
    return user


async def announce_profile(
    uow: UnitOfWork, *, user: User, presence: OnlineUsers, signer: MediaSigner
) -> None:
    """Tell the user's other sockets and everyone who shares a conversation with them
    (`user.updated`, after the commit) what their profile now is."""
    recipients = await membership.co_member_ids(uow, user_id=user.id)
    recipients.add(user.id)
    read = (await to_read(presence, [user], signer=signer))[0]
    uow.emit(ProfileChanged(user=read, recipients=tuple(sorted(recipients))))


def email_taken() -> Conflict:
    return Conflict("Another account has that e-mail address. Use another one.", code="email_taken")


async def _email_taken(uow: UnitOfWork, address: str, *, other_than: uuid.UUID | None) -> bool:
    stmt = select(col(User.id)).where(col(User.email) == address)
    if other_than is not None:
        stmt = stmt.where(col(User.id) != other_than)
    return (await uow.session.scalar(stmt.limit(1))) is not None


async def email_in_use(uow: UnitOfWork, address: str) -> bool:
    return await _email_taken(uow, address.lower(), other_than=None)


async def record_last_seen(
    uow: UnitOfWork, *, user_ids: Collection[uuid.UUID], at: datetime
) -> None:
    """Write `last_seen_at` for users whose last socket closed."""
    await uow.session.execute(
        update(User).where(col(User.id).in_(list(user_ids))).values(last_seen_at=at)
    )


def profile(user: User, signer: MediaSigner, *, online: bool = False) -> UserRead:
    """A user as others see them (no e-mail address), with their picture's signed links."""
    has_picture = user.avatar_key is not None and user.deleted_at is None
    version = user.avatar_version
    return UserRead(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        created_at=user.created_at,
        online=online,
        last_seen_at=user.last_seen_at,
        role=user.role,
        avatar_url=signer.avatar_url(user.id, version, "original") if has_picture else None,
        avatar_thumb_url=(
            signer.avatar_url(user.id, version, "thumbnail") if has_picture else None
        ),
    )


async def to_read(
    presence: OnlineUsers, users: Sequence[User], *, signer: MediaSigner
) -> list[UserRead]:
    """UserRead models with `online` filled in from presence, in one look-up."""
    online = await presence.online({u.id for u in users}) if users else set()
    return [profile(u, signer, online=u.id in online) for u in users]


async def read_self(presence: OnlineUsers, user: User, *, signer: MediaSigner) -> UserRead:
    """`to_read` of yourself: with your e-mail address."""
    read = (await to_read(presence, [user], signer=signer))[0]
    return read.model_copy(update={"email": user.email})


async def to_read_for(
    uow: UnitOfWork,
    presence: OnlineUsers,
    *,
    viewer_id: uuid.UUID,
    users: Sequence[User],
    signer: MediaSigner,
) -> list[UserRead]:
    """`to_read` as `viewer_id` may see them: presence (`online`, `last_seen_at`) only of
    themselves and of people who share a conversation with them; for anyone else
    `online` is false and `last_seen_at` null, as if never seen."""
    visible = await membership.co_members_among(
        uow, user_id=viewer_id, candidates={u.id for u in users}
    )
    visible.add(viewer_id)
    shown = [u for u in users if u.id in visible]
    reads = {r.id: r for r in await to_read(presence, shown, signer=signer)}
    return [
        reads.get(u.id) or profile(u, signer).model_copy(update={"last_seen_at": None})
        for u in users
    ]
