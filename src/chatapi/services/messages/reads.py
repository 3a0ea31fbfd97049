"""Messages as clients read them: `MessageRead` with attachments and signed links."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from chatapi.db import UnitOfWork
from chatapi.media_urls import MediaSigner
from chatapi.models import Media, Message
from chatapi.schemas import MessageRead
from chatapi.services.media import attachments


async def to_reads(
    uow: UnitOfWork, messages: Sequence[Message], *, signer: MediaSigner
) -> list[MessageRead]:
    """MessageRead models with attachments, in one attachment query for all of them."""
    if not messages:
        return []
    attached = await attachments.attachments_for(uow, message_ids=[m.id for m in messages])
    return [_read(m, attached.get(m.id, []), signer=signer) for m in messages]


def _read(message: Message, files: Sequence[Media], *, signer: MediaSigner) -> MessageRead:
    deleted = message.deleted_at is not None
    return MessageRead(
        id=message.id,
        conversation_id=message.conversation_id,
        seq=message.seq,
        sender_id=message.sender_id,
        body="" if deleted else message.body,
        client_id=message.client_id,
        reply_to_id=message.reply_to_id,
        attachments=[] if deleted else [attachments.to_read(a, signer=signer) for a in files],
        created_at=message.created_at,
        edited_at=message.edited_at,
        deleted=deleted,
        mentions=[] if deleted else [uuid.UUID(u) for u in message.mentions or ()],
        mentions_all=not deleted and message.mentions_all,
    )
