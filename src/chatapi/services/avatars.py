"""Profile pictures: a received image becomes a square picture and its thumbnail
(`images.make_avatar`), stored through the media storage; who may fetch them; and the
`user.updated` announcement of its changes (`users.announce_profile`).

Anyone signed in may see anyone's picture, as they may look anyone up
(`GET /users/{id}`). The links in a UserRead are signed and expiring, for no viewer in
particular (`MediaSigner.avatar_url`), and name the picture's version: a replaced or
removed picture's links stop working at once, and its files are deleted after the commit.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import NotFound, Unprocessable, UnsupportedMediaType
from chatapi.media_urls import MediaSigner, Variant
from chatapi.models import User
from chatapi.ports import OnlineUsers
from chatapi.services import users
from chatapi.services.media.files import Download
from chatapi.services.media.images import (
    AVATAR_TYPE,
    MAX_IMAGE_PIXELS,
    Avatar,
    Crop,
    ImageTooLarge,
    InvalidCrop,
    InvalidImage,
    image_slots,
    make_avatar,
)
from chatapi.services.media.sniff import detect_type, inspection_slots
from chatapi.storage import MediaStorage

# What a picture may be made from (the first frame of an animation).
AVATAR_SOURCES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


@dataclass(frozen=True, slots=True)
class NewPicture:
    """A picture set in the unit of work: `keys` are its stored files, to delete when the
    unit of work does not commit after all (`discard`)."""

    user: User
    keys: tuple[str, str]


async def set_avatar(
    uow: UnitOfWork,
    storage: MediaStorage,
    *,
    user_id: uuid.UUID,
    temp: Path,
    crop: Crop | None,
    presence: OnlineUsers,
    signer: MediaSigner,
) -> NewPicture:
    """Make a received image (the temporary file, consumed) the user's picture, cut to
    `crop` (default: the largest centred square). The old picture's files are deleted
    once this commits; nothing changes when the image is refused (415 not an image,
    422 too many pixels / unreadable / a crop outside the image)."""
    try:
        avatar = await _render(temp, crop)
    finally:
        await storage.discard_temp(temp)
    key = await storage.put_bytes(avatar.picture)
    try:
        thumb_key = await storage.put_bytes(avatar.thumbnail)
    except BaseException:
        await storage.delete(key)
        raise
    try:
        user = await _lock(uow, user_id)
        old = (user.avatar_key, user.avatar_thumb_key)
        user.avatar_key, user.avatar_thumb_key = key, thumb_key
        user.avatar_version += 1
        if any(old):
            uow.after_commit(functools.partial(storage.delete, *old))
        await users.announce_profile(uow, user=user, presence=presence, signer=signer)
    except BaseException:
        await storage.delete(key, thumb_key)
        raise
    return NewPicture(user=user, keys=(key, thumb_key))


async def discard(storage: MediaStorage, picture: NewPicture) -> None:
    """Delete the files of a picture whose unit of work did not commit."""
    await storage.delete(*picture.keys)


async def remove_avatar(
    uow: UnitOfWork,
    storage: MediaStorage,
    *,
    user_id: uuid.UUID,
    presence: OnlineUsers,
    signer: MediaSigner,
) -> User:
    """Remove the user's picture (nothing to do without one): its links stop working and
    its files are deleted once this commits."""
    user = await _lock(uow, user_id)
    if user.avatar_key is None and user.avatar_thumb_key is None:
        return user
    old = (user.avatar_key, user.avatar_thumb_key)
    user.avatar_key = user.avatar_thumb_key = None
    user.avatar_version += 1
    uow.after_commit(functools.partial(storage.delete, *old))
    await users.announce_profile(uow, user=user, presence=presence, signer=signer)
    return user


async def forget_avatar(uow: UnitOfWork, storage: MediaStorage, *, user_id: uuid.UUID) -> User:
    """A closing account's picture: gone from its row now, its files after the commit.
    Answers the (locked) row."""
    user = await _lock(uow, user_id)
    old = (user.avatar_key, user.avatar_thumb_key)
    if any(old):
        user.avatar_key = user.avatar_thumb_key = None
        user.avatar_version += 1
        uow.after_commit(functools.partial(storage.delete, *old))
    return user


async def open_avatar(
    uow: UnitOfWork,
    storage: MediaStorage,
    *,
    user_id: uuid.UUID,
    variant: Variant,
    version: int | None,
) -> Download:
    """The stored picture of a user (at `version`, when a link names one); 404
    `avatar_not_found` when there is none, it was replaced, or the account is closed."""
    user = await uow.session.get(User, user_id)
    if (
        user is None
        or user.deleted_at is not None
        or (version is not None and version != user.avatar_version)
    ):
        raise _not_found()
    key = user.avatar_thumb_key if variant == "thumbnail" else user.avatar_key
    if key is None:
        raise _not_found()
    size = await storage.size(key)
    if size is None:
        raise _not_found()
    suffix = ".thumbnail" if variant == "thumbnail" else ""
    return Download(
        media_id=user.id,
        variant=variant,
        key=key,
        size=size,
        content_type=AVATAR_TYPE,
        filename=f"{user.username}{suffix}.webp",
        inline=True,
        version=user.avatar_version,
    )


def _not_found() -> NotFound:
    return NotFound("No such profile picture (it may have been replaced).", code="avatar_not_found")


async def _lock(uow: UnitOfWork, user_id: uuid.UUID) -> User:
    """The user's row, locked (PostgreSQL; SQLite's writes are serial anyway), so two
    changes of the picture at once each delete exactly the files they replaced."""
    stmt = (
        select(User)
        .where(col(User.id) == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    user = (await uow.session.scalars(stmt)).one_or_none()
    if user is None or user.deleted_at is not None:
        raise NotFound("No such user.", code="user_not_found")
    return user


async def _render(temp: Path, crop: Crop | None) -> Avatar:
    async with inspection_slots():
        file_type = await asyncio.to_thread(detect_type, temp)
    if file_type is None or file_type.mime not in AVATAR_SOURCES:
        raise UnsupportedMediaType(
            "A profile picture must be a JPEG, PNG, GIF or WebP image.",
            code="unsupported_media_type",
        )
    try:
        async with image_slots():
            return await asyncio.to_thread(make_avatar, temp, file_type.mime, crop)
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
    except InvalidCrop as exc:
        width, height = exc.size
        raise Unprocessable(
            f"The crop square must lie inside the image ({width}x{height} pixels, "
            "orientation applied).",
            code="invalid_crop",
        ) from exc
