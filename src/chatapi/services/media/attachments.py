"""Attachments: linking uploads to messages, reading them back with signed links, and
removing them with their message.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import Unprocessable
from chatapi.media_urls import MediaSigner
from chatapi.models import Media
from chatapi.schemas import MediaRead, MessageRead
from chatapi.storage import MediaStorage

log = logging.getLogger(__name__)


def to_read(media: Media, *, signer: MediaSigner) -> MediaRead:
    """The API view of a file, with freshly signed links."""
    return MediaRead(
        id=media.id,
        filename=media.filename,
        content_type=media.content_type,
        size=media.size,
        width=media.width,
        height=media.height,
        url=signer.url(media.id),
        thumbnail_url=signer.url(media.id, "thumbnail") if media.thumbnail_key else None,
        created_at=media.created_at,
    )


def for_viewer(message: MessageRead, signer: MediaSigner) -> MessageRead:
    """The message with its files' links signed by `signer` (for its viewer): a sent
    message comes back from the group commit with the broadcast's links, for nobody."""
    if not message.attachments:
        return message
    signed = [
        a.model_copy(
            update={
                "url": signer.url(a.id),
                "thumbnail_url": signer.url(a.id, "thumbnail") if a.thumbnail_url else None,
            }
        )
        for a in message.attachments
    ]
    return message.model_copy(update={"attachments": signed})


# --- attachments ------------------------------------------------------------------------


async def attach(
    uow: UnitOfWork,
    *,
    owner_id: uuid.UUID,
    message_id: uuid.UUID,
    attachment_ids: list[uuid.UUID],
) -> list[Media]:
    """Attach the owner's unattached uploads to a message, in the order given.

    Each link is a conditional update (still unattached, still the owner's), so two
    messages racing for one upload cannot both get it.
    """
    if not attachment_ids:
        return []
    if len(set(attachment_ids)) != len(attachment_ids):
        raise Unprocessable("An upload can be attached only once.", code="invalid_attachment")
    await uow.session.flush()  # the message row must exist before rows point at it
    for position, media_id in enumerate(attachment_ids):
        linked = await uow.session.execute(
            update(Media)
            .where(
                col(Media.id) == media_id,
                col(Media.uploader_id) == owner_id,
                col(Media.message_id).is_(None),
            )
            .values(message_id=message_id, position=position)
            .returning(col(Media.id))
            .execution_options(synchronize_session=False)
        )
        if linked.first() is None:
            raise Unprocessable(
                f"Attachment {media_id} does not exist, is not your upload, or is already "
                "attached to a message. Upload the file again.",
                code="invalid_attachment",
            )
    rows = (
        await uow.session.scalars(
            select(Media)
            .where(col(Media.id).in_(attachment_ids))
            .execution_options(populate_existing=True)
        )
    ).all()
    by_id = {m.id: m for m in rows}
    return [by_id[i] for i in attachment_ids]


async def attachments_for(
    uow: UnitOfWork, *, message_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Media]]:
    """Each message's attachments in order, in one query (every id present in the result)."""
    found: dict[uuid.UUID, list[Media]] = {mid: [] for mid in message_ids}
    if not message_ids:
        return found
    rows = await uow.session.scalars(
        select(Media)
        .where(col(Media.message_id).in_(list(set(message_ids))))
        .order_by(col(Media.message_id), col(Media.position))
    )
    for media in rows:
        assert media.message_id is not None
        found[media.message_id].append(media)
    return found


async def detach_for_deleted_message(
    uow: UnitOfWork, storage: MediaStorage, *, message_id: uuid.UUID
) -> None:
    """Delete a deleted message's files: the rows now, the bytes once the delete commits."""
    result = await uow.session.execute(
        delete(Media)
        .where(col(Media.message_id) == message_id)
        .returning(col(Media.storage_key), col(Media.thumbnail_key))
        .execution_options(synchronize_session=False)
    )
    keys = [key for row in result.all() for key in row if key]
    if keys:
        uow.after_commit(functools.partial(storage.delete, *keys))
