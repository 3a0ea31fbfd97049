"""Orphan cleanup: uploads never attached to a message are deleted after a grace period."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.models import Media
from chatapi.storage import MediaStorage

log = logging.getLogger(__name__)


# --- orphan cleanup ---------------------------------------------------------------------


async def delete_orphans(
    uow: UnitOfWork, storage: MediaStorage, *, older_than: datetime, limit: int = 500
) -> int:
    """Delete up to `limit` uploads never attached and created before `older_than`.

    The files go once the unit of work commits. Returns how many rows were deleted.
    """
    ids = (
        await uow.session.scalars(
            select(col(Media.id))
            .where(col(Media.message_id).is_(None), col(Media.created_at) < older_than)
            .limit(limit)
        )
    ).all()
    if not ids:
        return 0
    result = await uow.session.execute(
        delete(Media)
        .where(col(Media.id).in_(ids), col(Media.message_id).is_(None))
        .returning(col(Media.storage_key), col(Media.thumbnail_key))
        .execution_options(synchronize_session=False)
    )
    rows = result.all()
    keys = [key for row in rows for key in row if key]
    if keys:
        uow.after_commit(functools.partial(storage.delete, *keys))
    return len(rows)


async def cleanup_orphans(
    new_uow: Callable[[], UnitOfWork],
    storage: MediaStorage,
    *,
    grace_seconds: float,
    now: datetime | None = None,
) -> int:
    """Remove every upload not attached within the grace period, and stale temp files."""
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=grace_seconds)
    total = 0
    while True:
        async with new_uow() as uow:
            deleted = await delete_orphans(uow, storage, older_than=cutoff)
            await uow.commit()
        total += deleted
        if deleted < 500:
            break
    await storage.sweep_temp(older_than_seconds=grace_seconds)
    if total:
        log.info("deleted %d unattached uploads", total)
    return total


class OrphanCleanup:
    """Owns the background task that runs cleanup_orphans periodically; stop() cancels it."""

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        storage: MediaStorage,
        *,
        grace_seconds: float,
        interval_seconds: float | None = None,
    ) -> None:
        self._new_uow = new_uow
        self._storage = storage
        self._grace = grace_seconds
        self._interval = interval_seconds or max(60.0, min(3600.0, grace_seconds / 2))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="media-orphan-cleanup")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await cleanup_orphans(self._new_uow, self._storage, grace_seconds=self._grace)
            except Exception:
                log.exception("media orphan cleanup failed; retrying next round")
