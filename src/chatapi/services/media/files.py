"""Uploads and downloads: a received file becomes a Media row (sniffed, cleaned), and who
may fetch which file.

Visibility: the uploader, and members of the conversation of the (not deleted) message
the file is attached to. Everyone else gets 404, as if the file did not exist.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import NotFound, Unprocessable, UnsupportedMediaType
from chatapi.media_urls import Variant
from chatapi.models import Media, Member, Message
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
    clean_filename,
    detect_type,
    inspection_slots,
)
from chatapi.storage import MediaStorage

log = logging.getLogger(__name__)


# --- uploads ----------------------------------------------------------------------------


async def create_from_upload(
    uow: UnitOfWork,
    storage: MediaStorage,
    *,
    uploader_id: uuid.UUID,
    temp: Path,
    filename: str | None,
) -> Media:
    """Turn a fully received temporary file into a stored Media row (not yet committed).

    The temporary file is consumed: moved into place, or deleted when refused. When
    the row is not committed after all, call `discard(storage, media)`.
    """
    try:
        async with inspection_slots():
            file_type = await asyncio.to_thread(detect_type, temp)
        if file_type is None:
            raise UnsupportedMediaType(
                "This type of file cannot be shared. Images (JPEG, PNG, GIF, WebP), video "
                "(MP4, WebM, QuickTime), audio (MP3, Ogg, WAV, WebM, M4A), PDF, text, CSV, "
                "Office documents and zip/7z/gz archives can.",
                code="unsupported_media_type",
            )
        info: ImageInfo | None = None
        if file_type.kind == "image":
            try:
                async with image_slots():
                    info = await asyncio.to_thread(process_image, temp, file_type.mime)
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


async def discard(storage: MediaStorage, media: Media) -> None:
    """Delete the files of a Media row that was never committed."""
    await storage.delete(media.storage_key, media.thumbnail_key)


# --- visibility -------------------------------------------------------------------------


async def can_view(uow: UnitOfWork, *, media: Media, user_id: uuid.UUID) -> bool:
    """The uploader, or a member of the conversation whose live message carries the file."""
    if media.uploader_id == user_id:
        return True
    if media.message_id is None:
        return False
    stmt = (
        select(col(Member.user_id))
        .join(Message, col(Message.conversation_id) == col(Member.conversation_id))
        .where(
            col(Message.id) == media.message_id,
            col(Message.deleted_at).is_(None),
            col(Member.user_id) == user_id,
        )
        .limit(1)
    )
    return (await uow.session.execute(stmt)).first() is not None


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


async def open_download(
    uow: UnitOfWork,
    storage: MediaStorage,
    *,
    media_id: uuid.UUID,
    variant: Variant,
    viewer_id: uuid.UUID | None,
) -> Download:
    """The stored file behind a media link; 404 when it does not exist or is not visible.

    `viewer_id` None means the caller holds a valid signed URL for this file and variant.
    """
    media = await uow.session.get(Media, media_id)
    if media is None:
        raise _not_found()
    if viewer_id is not None and not await can_view(uow, media=media, user_id=viewer_id):
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
