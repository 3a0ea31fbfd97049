"""Presence announcements: who shares a conversation with a user that came online or went
offline is told so; `last_seen_at` is written when the last socket closes."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime

from chatapi.api.state import AppState
from chatapi.domain import PresenceChanged
from chatapi.services import membership, users


async def announce_presence(
    state: AppState,
    user_id: uuid.UUID,
    *,
    online: bool,
    last_seen_at: datetime | None,
    recipients: Collection[uuid.UUID] | None = None,
) -> None:
    """Tell everyone who shares a conversation with the user: `recipients` when the caller
    knows them (a socket's `auth` loads them), else from the database (one query)."""
    if recipients is None:
        async with state.read_uow() as uow:
            recipients = await membership.co_member_ids(uow, user_id=user_id)
    if not recipients:
        return
    await state.publisher.publish(
        PresenceChanged(user_id, online, last_seen_at, recipients=tuple(recipients))
    )


async def went_offline(state: AppState, user_ids: list[uuid.UUID]) -> None:
    """Users whose last socket closed (here, or on an instance that died): one UPDATE for
    their `last_seen_at`, one query for who shares a conversation with each, then a
    `presence` frame per user."""
    if not user_ids:
        return
    now = datetime.now(UTC)
    async with state.uow() as uow:
        await users.record_last_seen(uow, user_ids=user_ids, at=now)
        await uow.commit()
    async with state.read_uow() as uow:
        recipients = await membership.co_member_ids_many(uow, user_ids=user_ids)
    for user_id in user_ids:
        if not recipients[user_id]:
            continue
        await state.publisher.publish(
            PresenceChanged(user_id, False, now, recipients=tuple(recipients[user_id]))
        )
