"""A person's own settings (notifications, previews, sound), kept on the server so every
device of theirs follows them; a change reaches their other open sockets at once
(`settings.updated`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import Insert, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from chatapi.db import UnitOfWork
from chatapi.domain import SettingsChanged
from chatapi.models import UserSettings
from chatapi.schemas import UserSettingsRead

_TABLE: Table = UserSettings.__table__  # type: ignore[attr-defined]
FIELDS = ("notifications", "notification_previews", "notification_sound")
# No row: everything on.
DEFAULTS = UserSettingsRead(notifications=True, notification_previews=True, notification_sound=True)


async def read_settings(uow: UnitOfWork, *, user_id: uuid.UUID) -> UserSettingsRead:
    """The user's settings (the defaults until they change one)."""
    row = await uow.session.get(UserSettings, user_id)
    return DEFAULTS if row is None else _read(row)


async def update_settings(
    uow: UnitOfWork, *, user_id: uuid.UUID, changes: Mapping[str, bool]
) -> UserSettingsRead:
    """Change some settings (the others stay); all of them as they are now. The user's
    sockets hear `settings.updated` once this commits."""
    changed = {k: bool(v) for k, v in changes.items() if k in FIELDS}
    if not changed:
        return await read_settings(uow, user_id=user_id)
    now = datetime.now(UTC)
    values = {**DEFAULTS.model_dump(), **changed, "user_id": user_id, "updated_at": now}
    # One statement, whoever comes first: two devices changing settings at once never
    # collide on the missing row.
    stmt = _upsert(uow.dialect).values(**values)
    stmt = stmt.on_conflict_do_update(  # type: ignore[attr-defined]
        index_elements=["user_id"], set_={**changed, "updated_at": now}
    )
    await uow.session.execute(stmt)
    row = (
        await uow.session.execute(
            select(
                _TABLE.c.notifications, _TABLE.c.notification_previews, _TABLE.c.notification_sound
            ).where(_TABLE.c.user_id == user_id)
        )
    ).one()
    settings = UserSettingsRead(
        notifications=row[0], notification_previews=row[1], notification_sound=row[2]
    )
    uow.emit(SettingsChanged(user_id=user_id, settings=settings))
    return settings


def _upsert(dialect: str) -> Insert:
    match dialect:
        case "postgresql":
            return postgresql.insert(_TABLE)
        case "sqlite":
            return sqlite.insert(_TABLE)
        case _:
            raise RuntimeError(f"no upsert for the {dialect} dialect")


def _read(row: UserSettings) -> UserSettingsRead:
    return UserSettingsRead(
        notifications=row.notifications,
        notification_previews=row.notification_previews,
        notification_sound=row.notification_sound,
    )
