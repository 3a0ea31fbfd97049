"""Uploads and downloads: a received file becomes a Media row (sniffed, cleaned), and who
may fetch which file.

Visibility: the uploader, and members of the conversation of the (not deleted) message
the file is attached to. Everyone else gets 404, as if the file did not exist.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, or_, select
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import NotFound, RateLimited, Unprocessable, UnsupportedMediaType
from chatapi.media_urls import Variant
from chatapi.models import FormerMember, Media, Member, Message, User
from chatapi.services.media.images import (
    MAX_IMAGE_PIXELS,
    THUMBNAIL_TYPE,
    ImageInfo,
    ImageTooLarge,
    InvalidImage,
    image_slots,
    process_image,
)
from chatapi.services.media.sniff import (
    ALLOWED_TYPES,
    FileType,
    clean_filename,
    detect_type,
    inspection_slots,
)
from chatapi.storage import MediaStorage

log = logging.getLogger(__name__)


# --- uploads ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnattachedCap:
    """At most `limit` uploads per user not attached to any message (0: no cap); they
    expire `grace_seconds` after upload (the orphan cleanup)."""

    limit: int
    grace_seconds: float


async def require_room(
    uow: UnitOfWork, *, uploader_id: uuid.UUID, cap: UnattachedCap, lock: bool = False
) -> None:
    """Refuse (429 `too_many_unattached_uploads`, Retry-After: until the oldest of them
    expires) an upload from someone who keeps `cap.limit` uploads unattached.

    With `lock`, the uploader's row is locked first (PostgreSQL; SQLite's write
    transactions are serial anyway), so concurrent uploads cannot pass the cap together.
    """
    if not cap.limit:
        return
    if lock:
        await uow.session.execute(
            select(col(User.id)).where(col(User.id) == uploader_id).with_for_update()
        )
    oldest = (
        await uow.session.scalars(
            select(col(Media.created_at))
            .where(col(Media.uploader_id) == uploader_id, col(Media.message_id).is_(None))
            .order_by(col(Media.created_at))
            .limit(cap.limit)
        )
    ).all()
    if len(oldest) < cap.limit:
        return
    expires = oldest[0] + timedelta(seconds=cap.grace_seconds)
    raise RateLimited(
        f"You keep {cap.limit} uploads not attached to any message, the most allowed. "
        "Send them in messages first, or wait until the oldest expires.",
        retry_after=int((expires - datetime.now(UTC)).total_seconds()) + 1,
        code="too_many_unattached_uploads",
    )


async def create_from_upload(
    uow: UnitOfWork,
    storage: MediaStorage,
    *,
    uploader_id: uuid.UUID,
    temp: Path,
    filename: str | None,
    cap: UnattachedCap | None = None,
) -> Media:
    """Turn a fully received temporary file into a stored Media row (not yet committed).

    The temporary file is consumed: moved into place, or deleted when refused. When
    the row is not committed after all, call `discard(storage, media)`. With `cap`, the
    uploader's unattached uploads are counted (and locked) last, just before the row.
    """
    try:
        file_type, info = await _inspect(temp)
        size = (await asyncio.to_thread(temp.stat)).st_size
        thumbnail_key = await storage.put_bytes(info.thumbnail) if info else None
        try:
            key = await storage.commit_temp(temp)
        except BaseException:
            await storage.delete(thumbnail_key)
            raise
    except BaseException:
        await storage.discard_temp(temp)
        raise
    if cap is not None:
        try:
            await require_room(uow, uploader_id=uploader_id, cap=cap, lock=True)
        except BaseException:
            await storage.delete(key, thumbnail_key)
            raise
    media = Media(
        uploader_id=uploader_id,
        filename=clean_filename(filename, file_type),
        content_type=file_type.mime,
        size=size,
        width=info.width if info else None,
        height=info.height if info else None,
        storage_key=key,
        thumbnail_key=thumbnail_key,
    )
    uow.session.add(media)
    return media


async def _inspect(temp: Path) -> tuple[FileType, ImageInfo | None]:
    """The file's type from its bytes; an image is also cleaned and measured."""
    async with inspection_slots():
        file_type = await asyncio.to_thread(detect_type, temp)
    if file_type is None:
        raise UnsupportedMediaType(
            "This type of file cannot be shared. Images (JPEG, PNG, GIF, WebP), video "
            "(MP4, WebM, QuickTime), audio (MP3, Ogg, WAV, WebM, M4A), PDF, text, CSV, "
            "Office documents and zip/7z/gz archives can.",
            code="unsupported_media_type",
        )
    if file_type.kind != "image":
        return file_type, None
    try:
        async with image_slots():
            return file_type, await asyncio.to_thread(process_image, temp, file_type.mime)
    except ImageTooLarge as exc:
        raise Unprocessable(
            f"The image has too many pixels (at most {MAX_IMAGE_PIXELS:,}); "
            "scale it down and upload it again.",
            code="image_too_large",
        ) from exc
    except InvalidImage as exc:
        raise Unprocessable(
            "The image could not be read; it may be damaged.", code="invalid_image"
        ) from exc


async def discard(storage: MediaStorage, media: Media) -> None:
    """Delete the files of a Media row that was never committed."""
    await storage.delete(media.storage_key, media.thumbnail_key)


# --- visibility -------------------------------------------------------------------------


async def can_view(uow: UnitOfWork, *, media: Media, user_id: uuid.UUID) -> bool:
    """The uploader, or a member of the conversation whose live message carries the file;
    and never a closed account (its signed links die with it). One query."""
    viewer = select(col(User.id)).where(col(User.id) == user_id, col(User.deleted_at).is_(None))
    if media.uploader_id != user_id:
        if media.message_id is None:
            return False
        shares = (
            select(col(Member.user_id))
            .join(Message, col(Message.conversation_id) == col(Member.conversation_id))
            .where(
                col(Message.id) == media.message_id,
                col(Message.deleted_at).is_(None),
                col(Member.user_id) == user_id,
            )
            .exists()
        )
        # A former member still sees what was sent before they left, nothing after.
        shared_before_leaving = (
            select(col(FormerMember.user_id))
            .join(Message, col(Message.conversation_id) == col(FormerMember.conversation_id))
            .where(
                col(Message.id) == media.message_id,
                col(Message.deleted_at).is_(None),
                col(Message.seq) <= col(FormerMember.left_seq),
                col(FormerMember.user_id) == user_id,
            )
            .exists()
        )
        viewer = viewer.where(or_(shares, shared_before_leaving))
    return (await uow.session.scalar(viewer.limit(1))) is not None


def _not_found() -> NotFound:
    return NotFound("No such file, or it is not shared with you.", code="media_not_found")


@dataclass(frozen=True, slots=True)
class Download:
    """What to send for a media request: which stored bytes, typed and named how."""

    media_id: uuid.UUID
    variant: Variant
    key: str
    size: int
    content_type: str
    filename: str
    inline: bool
    # Files that change under one id (a profile picture): part of the ETag.
    version: int = 0


async def open_download(
    uow: UnitOfWork,
    storage: MediaStorage,
    *,
    media_id: uuid.UUID,
    variant: Variant,
    viewer_id: uuid.UUID,
) -> Download:
    """The stored file behind a media link; 404 when it does not exist or `viewer_id`
    (the link's viewer, or the Bearer token's user) may not see it."""
    media = await uow.session.get(Media, media_id)
    if media is None:
        raise _not_found()
    if not await can_view(uow, media=media, user_id=viewer_id):
        raise _not_found()
    if variant == "thumbnail":
        if not media.thumbnail_key:
            raise NotFound("This file has no thumbnail.", code="media_not_found")
        key, content_type = media.thumbnail_key, THUMBNAIL_TYPE
        stem = media.filename.rsplit(".", 1)[0]
        filename = f"{stem}.thumbnail.webp"
    else:
        key, content_type, filename = media.storage_key, media.content_type, media.filename
    size = await storage.size(key)
    if size is None:
        raise _not_found()
    file_type = ALLOWED_TYPES.get(content_type)
    return Download(
        media_id=media.id,
        variant=variant,
        key=key,
        size=size,
        content_type=content_type,
        filename=filename,
        inline=file_type is not None and file_type.inline,
    )


async def delete_uploads_of(uow: UnitOfWork, storage: MediaStorage, *, user_id: uuid.UUID) -> None:
    """Every file a user uploaded (a closing account): the rows now, the bytes once the
    unit of work commits. Attached ones are gone from their messages (the caller deletes
    those messages first)."""
    result = await uow.session.execute(
        delete(Media)
        .where(col(Media.uploader_id) == user_id)
        .returning(col(Media.storage_key), col(Media.thumbnail_key))
        .execution_options(synchronize_session=False)
    )
    keys = [key for row in result.all() for key in row if key]
    if keys:
        uow.after_commit(functools.partial(storage.delete, *keys))
