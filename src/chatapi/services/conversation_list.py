"""The conversation list: each of a user's conversations with what a list row shows —
member count, unread count, last message, the other person of a direct chat — in a fixed
number of queries, however many conversations there are."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import and_, case, func, or_, select
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.media_urls import MediaSigner
from chatapi.models import (
    Conversation,
    ConversationKind,
    FormerMember,
    Member,
    Message,
    MessageMention,
    User,
)
from chatapi.ports import OnlineUsers
from chatapi.schemas import ConversationRead, FormerMembership, MessageRead, UserRead
from chatapi.services import mute, users
from chatapi.services.membership import not_found
from chatapi.services.messages.reads import to_reads, withhold

LIST_LIMIT_MAX = 500


async def read_conversations(
    uow: UnitOfWork,
    *,
    user: User,
    presence: OnlineUsers,
    signer: MediaSigner,
    conversation_id: uuid.UUID | None = None,
    limit: int = 100,
    before: datetime | None = None,
    include_former: bool = False,
) -> list[ConversationRead]:
    """The caller's conversations, most recently active first (one, with
    `conversation_id`), in six queries: the conversations with my membership, member
    counts, unread counts, last messages, their attachments, the other person of direct
    chats. With `include_former` (and always for one conversation), the groups the
    caller left or was removed from are listed too, as they were at that moment."""
    rows = await _page(uow, user_id=user.id, conversation_id=conversation_id, limit=limit,
                       before=before)  # fmt: skip
    current = await _current_reads(uow, rows, user=user, presence=presence, signer=signer)
    if not (include_former or (conversation_id is not None and not rows)):
        return current
    former = await _former_reads(
        uow,
        user=user,
        presence=presence,
        signer=signer,
        conversation_id=conversation_id,
        limit=limit,
        before=before,
    )
    if conversation_id is not None and not current and not former:
        raise not_found()
    merged = sorted(
        current + former,
        key=lambda c: (-(c.last_activity_at or c.created_at).timestamp(), str(c.id)),
    )
    return merged[: min(max(limit, 1), LIST_LIMIT_MAX)]


async def _current_reads(
    uow: UnitOfWork,
    rows: list[tuple[Conversation, Member]],
    *,
    user: User,
    presence: OnlineUsers,
    signer: MediaSigner,
) -> list[ConversationRead]:
    if not rows:
        return []
    ids = [c.id for c, _ in rows]
    counts = await _member_counts(uow, ids)
    unread, unread_mentions = await _unread_counts(uow, ids, user_id=user.id)
    last = await _last_messages(uow, ids, signer=signer)
    direct_ids = [c.id for c, _ in rows if c.kind == ConversationKind.direct]
    others = await _other_people(uow, direct_ids, user_id=user.id, presence=presence, signer=signer)
    now = datetime.now(UTC)
    return [
        ConversationRead(
            id=c.id,
            kind=c.kind,
            title=c.title,
            created_at=c.created_at,
            last_seq=c.last_seq,
            last_activity_at=c.last_activity_at,
            members_count=counts.get(c.id, 0),
            my_role=m.role,
            unread_count=unread.get(c.id, 0),
            unread_mentions=unread_mentions.get(c.id, 0),
            last_read_seq=m.last_read_seq,
            last_message=_shown(last.get(c.id), request=m.request),
            other_user=others.get(c.id),
            muted=mute.is_muted(m.muted_until, now=now),
            muted_until=mute.shown_until(m.muted_until, now=now),
            request=m.request,
        )
        for c, m in rows
    ]


async def _page(
    uow: UnitOfWork,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID | None,
    limit: int,
    before: datetime | None,
) -> list[tuple[Conversation, Member]]:
    stmt = (
        select(Conversation, Member)
        .join(
            Member,
            and_(
                col(Member.conversation_id) == col(Conversation.id),
                col(Member.user_id) == user_id,
            ),
        )
        .order_by(col(Conversation.last_activity_at).desc(), col(Conversation.id))
        .limit(min(max(limit, 1), LIST_LIMIT_MAX))
    )
    if conversation_id is not None:
        stmt = stmt.where(col(Conversation.id) == conversation_id)
    if before is not None:
        stmt = stmt.where(col(Conversation.last_activity_at) < before)
    return list((await uow.session.execute(stmt)).tuples().all())


async def _former_reads(
    uow: UnitOfWork,
    *,
    user: User,
    presence: OnlineUsers,
    signer: MediaSigner,
    conversation_id: uuid.UUID | None,
    limit: int,
    before: datetime | None,
) -> list[ConversationRead]:
    """The conversations the user left or was removed from, as they were when they went:
    the title, role and read marker of that moment, the last message up to their
    departure, unread counted up to it. Ordered by when they left."""
    stmt = (
        select(Conversation, FormerMember)
        .join(FormerMember, col(FormerMember.conversation_id) == col(Conversation.id))
        .where(col(FormerMember.user_id) == user.id)
        .order_by(col(FormerMember.left_at).desc(), col(Conversation.id))
        .limit(min(max(limit, 1), LIST_LIMIT_MAX))
    )
    if conversation_id is not None:
        stmt = stmt.where(col(Conversation.id) == conversation_id)
    if before is not None:
        stmt = stmt.where(col(FormerMember.left_at) < before)
    rows = list((await uow.session.execute(stmt)).tuples().all())
    if not rows:
        return []
    unread = await _former_unread_counts(uow, [f for _, f in rows])
    last = await _last_messages(
        uow,
        [c.id for c, _ in rows],
        signer=signer,
        until={f.conversation_id: f.left_seq for _, f in rows},
    )
    removers = await _removers(
        uow, [f for _, f in rows], viewer=user, presence=presence, signer=signer
    )
    return [
        ConversationRead(
            id=c.id,
            kind=c.kind,
            title=f.title,
            created_at=c.created_at,
            last_seq=f.left_seq,
            last_activity_at=f.left_at,
            members_count=0,
            my_role=f.role,
            unread_count=unread.get(c.id, 0),
            last_read_seq=f.last_read_seq,
            last_message=last.get(c.id),
            former=FormerMembership(
                left_seq=f.left_seq,
                left_at=f.left_at,
                removed_by=removers.get(f.removed_by) if f.removed_by else None,
            ),
        )
        for c, f in rows
    ]


async def _former_unread_counts(
    uow: UnitOfWork, formers: list[FormerMember]
) -> dict[uuid.UUID, int]:
    """Messages of others after the former member's read marker, up to their departure."""
    if not formers:
        return {}
    user_id = formers[0].user_id
    stmt = (
        select(col(Message.conversation_id), func.count())
        .join(
            FormerMember,
            and_(
                col(FormerMember.conversation_id) == col(Message.conversation_id),
                col(FormerMember.user_id) == user_id,
            ),
        )
        .where(
            col(Message.conversation_id).in_([f.conversation_id for f in formers]),
            col(Message.seq) > col(FormerMember.last_read_seq),
            col(Message.seq) <= col(FormerMember.left_seq),
            col(Message.sender_id) != user_id,
            col(Message.deleted_at).is_(None),
        )
        .group_by(col(Message.conversation_id))
    )
    return dict((await uow.session.execute(stmt)).tuples().all())


async def _removers(
    uow: UnitOfWork,
    formers: list[FormerMember],
    *,
    viewer: User,
    presence: OnlineUsers,
    signer: MediaSigner,
) -> dict[uuid.UUID, UserRead]:
    ids = {f.removed_by for f in formers if f.removed_by is not None}
    if not ids:
        return {}
    found = (await uow.session.scalars(select(User).where(col(User.id).in_(ids)))).all()
    reads = await users.to_read_for(uow, presence, viewer_id=viewer.id, users=found, signer=signer)
    return {r.id: r for r in reads}


async def _member_counts(uow: UnitOfWork, ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    stmt = (
        select(col(Member.conversation_id), func.count())
        .where(col(Member.conversation_id).in_(ids))
        .group_by(col(Member.conversation_id))
    )
    return dict((await uow.session.execute(stmt)).tuples().all())


async def _unread_counts(
    uow: UnitOfWork, ids: list[uuid.UUID], *, user_id: uuid.UUID
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, int]]:
    """Messages of others after my read marker, not deleted; and how many of them mention
    me (a key lookup in `message_mentions` per unread message) or @all. One query."""
    me = (
        select(col(Member.conversation_id), col(Member.last_read_seq))
        .where(col(Member.user_id) == user_id)
        .subquery()
    )
    named = (
        select(col(MessageMention.message_id))
        .where(
            col(MessageMention.message_id) == col(Message.id),
            col(MessageMention.user_id) == user_id,
        )
        .exists()
    )
    mentioned = func.sum(case((or_(col(Message.mentions_all), named), 1), else_=0))
    stmt = (
        select(col(Message.conversation_id), func.count(), mentioned)
        .join(me, me.c.conversation_id == col(Message.conversation_id))
        .where(
            col(Message.conversation_id).in_(ids),
            col(Message.seq) > me.c.last_read_seq,
            col(Message.sender_id) != user_id,
            col(Message.deleted_at).is_(None),
        )
        .group_by(col(Message.conversation_id))
    )
    rows = (await uow.session.execute(stmt)).tuples().all()
    return {c: n for c, n, _ in rows}, {c: int(m or 0) for c, _, m in rows}


async def _last_messages(
    uow: UnitOfWork,
    ids: list[uuid.UUID],
    *,
    signer: MediaSigner,
    until: dict[uuid.UUID, int] | None = None,
) -> dict[uuid.UUID, MessageRead]:
    """The newest message of each conversation (with `until`: the newest up to its seq)."""
    latest_stmt = (
        select(col(Message.conversation_id), func.max(col(Message.seq)).label("seq"))
        .where(col(Message.conversation_id).in_(ids))
        .group_by(col(Message.conversation_id))
    )
    if until:
        latest_stmt = latest_stmt.where(
            or_(
                *(
                    and_(col(Message.conversation_id) == cid, col(Message.seq) <= seq)
                    for cid, seq in until.items()
                )
            )
        )
    latest = latest_stmt.subquery()
    stmt = select(Message).join(
        latest,
        and_(
            latest.c.conversation_id == col(Message.conversation_id),
            latest.c.seq == col(Message.seq),
        ),
    )
    rows = (await uow.session.scalars(stmt)).all()
    return {m.conversation_id: m for m in await to_reads(uow, rows, signer=signer)}


async def _other_people(
    uow: UnitOfWork,
    direct_ids: list[uuid.UUID],
    *,
    user_id: uuid.UUID,
    presence: OnlineUsers,
    signer: MediaSigner,
) -> dict[uuid.UUID, UserRead]:
    """The other member of each direct conversation."""
    if not direct_ids:
        return {}
    stmt = (
        select(col(Member.conversation_id), User)
        .join(User, col(User.id) == col(Member.user_id))
        .where(col(Member.conversation_id).in_(direct_ids), col(Member.user_id) != user_id)
    )
    others = dict((await uow.session.execute(stmt)).tuples().all())
    reads = await users.to_read(presence, list(others.values()), signer=signer)
    return dict(zip(others, reads, strict=True))


def _shown(message: MessageRead | None, *, request: bool) -> MessageRead | None:
    """The last message as the member may see it (a request's attachments withheld)."""
    if message is None or not request:
        return message
    return withhold([message])[0]
