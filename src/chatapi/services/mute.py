"""Muting a conversation: its messages notify only when they mention you, for an hour,
8 hours, a week, or until unmuted. A member's own setting, kept on the server so every
device of theirs follows it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import update
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.domain import ConversationSettingsChanged
from chatapi.models import Member
from chatapi.schemas import ConversationSettings
from chatapi.services.membership import require_member

MuteFor = Literal["off", "1h", "8h", "1w", "always"]

# "Until unmuted", stored as a time no clock reaches.
MUTED_FOREVER = datetime(9999, 12, 31, tzinfo=UTC)
_DURATIONS = {"1h": timedelta(hours=1), "8h": timedelta(hours=8), "1w": timedelta(weeks=1)}


def muted_until(choice: MuteFor, *, now: datetime) -> datetime | None:
    if choice == "off":
        return None
    if choice == "always":
        return MUTED_FOREVER
    return now + _DURATIONS[choice]


def is_muted(until: datetime | None, *, now: datetime) -> bool:
    return until is not None and until > now


def shown_until(until: datetime | None, *, now: datetime) -> datetime | None:
    """What clients see: the end of a mute, None when not muted or muted until unmuted."""
    if until is None or until <= now or until >= MUTED_FOREVER:
        return None
    return until


async def set_mute(
    uow: UnitOfWork, *, user_id: uuid.UUID, conversation_id: uuid.UUID, choice: MuteFor
) -> ConversationSettings:
    """Mute (or unmute) a conversation you are in; 404 for one you are not."""
    await require_member(uow, user_id=user_id, conversation_id=conversation_id)
    until = muted_until(choice, now=datetime.now(UTC))
    await uow.session.execute(
        update(Member)
        .where(col(Member.conversation_id) == conversation_id, col(Member.user_id) == user_id)
        .values(muted_until=until)
    )
    now = datetime.now(UTC)
    settings = ConversationSettings(
        muted=is_muted(until, now=now), muted_until=shown_until(until, now=now)
    )
    uow.emit(
        ConversationSettingsChanged(
            conversation_id=conversation_id,
            user_id=user_id,
            muted=settings.muted,
            muted_until=settings.muted_until,
        )
    )
    return settings
