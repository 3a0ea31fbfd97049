"""Conversations: direct and group chats, members and roles."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import Conflict, Forbidden, NotFound, Unprocessable
from chatapi.models import Conversation, ConversationKind, EventType, Member, Message, Role, User
from chatapi.realtime.envelope import Envelope, dumps
from chatapi.realtime.presence import Presence
from chatapi.schemas import (
    ConversationCreate,
    ConversationRead,
    EventConversation,
    EventMember,
    MemberRead,
    MessageRead,
)
from chatapi.services import timeline, users
from chatapi.services.media import MediaSigner

MANAGERS = (Role.owner.value, Role.admin.value)
LIST_LIMIT_MAX = 500


def _not_found() -> NotFound:
    return NotFound("No such conversation.", code="conversation_not_found")


async def require_member(
    uow: UnitOfWork, *, user_id: uuid.UUID, conversation_id: uuid.UUID, lock: bool = False
) -> Member:
    """The caller's membership; a non-member gets 404 so existence does not leak."""
    stmt = select(Member).where(
        col(Member.conversation_id) == conversation_id,
        col(Member.user_id) == user_id,
    )
    member = (await uow.session.scalars(stmt)).first()
    if member is None:
        raise _not_found()
    return member


async def _conversation(uow: UnitOfWork, conversation_id: uuid.UUID) -> Conversation:
    conversation = await uow.session.get(Conversation, conversation_id)
    if conversation is None:
        raise _not_found()
    return conversation


async def _require_group_manager(
    uow: UnitOfWork, *, user_id: uuid.UUID, conversation_id: uuid.UUID, owner_only: bool = False
) -> tuple[Conversation, Member]:
    me = await require_member(uow, user_id=user_id, conversation_id=conversation_id)
    conversation = await _conversation(uow, conversation_id)
    if conversation.kind != ConversationKind.group:
        raise Forbidden(
            "Direct conversations have exactly two members and no settings to change.",
            code="not_a_group",
        )
    allowed = (Role.owner.value,) if owner_only else MANAGERS
    if me.role not in allowed:
        who = "the owner" if owner_only else "an owner or admin"
        raise Forbidden(f"Only {who} of this group can do that.", code="not_allowed")
    return conversation, me


async def member_ids(uow: UnitOfWork, *, conversation_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = select(col(Member.user_id)).where(col(Member.conversation_id) == conversation_id)
    return list((await uow.session.scalars(stmt)).all())


async def conversation_seqs_for_user(
    uow: UnitOfWork, *, user_id: uuid.UUID
) -> dict[uuid.UUID, int]:
    """The user's conversations and the last seq of each (one query)."""
    stmt = select(col(Conversation.id), col(Conversation.last_seq)).join(
        Member,
        and_(col(Member.conversation_id) == col(Conversation.id), col(Member.user_id) == user_id),
    )
    return dict((await uow.session.execute(stmt)).tuples().all())


async def co_member_ids(uow: UnitOfWork, *, user_id: uuid.UUID) -> set[uuid.UUID]:
    """Everyone who shares at least one conversation with the user (not the user)."""
    mine = select(col(Member.conversation_id)).where(col(Member.user_id) == user_id)
    stmt = (
        select(col(Member.user_id))
        .where(col(Member.conversation_id).in_(mine), col(Member.user_id) != user_id)
        .distinct()
    )
    return set((await uow.session.scalars(stmt)).all())


async def co_member_ids_many(
    uow: UnitOfWork, *, user_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    """`co_member_ids` for many users in one query."""
    found: dict[uuid.UUID, set[uuid.UUID]] = {u: set() for u in user_ids}
    if not user_ids:
        return found
    mine = aliased(Member)
    other = aliased(Member)
    stmt = (
        select(col(mine.user_id), col(other.user_id))
        .join(other, col(other.conversation_id) == col(mine.conversation_id))
        .where(col(mine.user_id).in_(list(user_ids)), col(other.user_id) != col(mine.user_id))
        .distinct()
    )
    for user_id, co_member in (await uow.session.execute(stmt)).tuples():
        found[user_id].add(co_member)
    return found


async def _existing_users(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, User]:
    if not ids:
        return {}
    stmt = select(User).where(col(User.id).in_(ids), col(User.deleted_at).is_(None))
    found = {u.id: u for u in (await uow.session.scalars(stmt)).all()}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise Unprocessable(f"Unknown user id(s): {', '.join(missing)}.", code="unknown_users")
    return found


def _announce_created(
    uow: UnitOfWork, conversation: Conversation, members: Sequence[uuid.UUID]
) -> None:
    # Not a timeline event (it has no seq): a notice to the members' sockets that a
    # conversation they belong to now exists, so clients can show it at once.
    frame = dumps(
        {
            "type": "conversation.created",
            "conversation_id": conversation.id,
            "kind": conversation.kind,
            "title": conversation.title,
        }
    )
    uow.emit(
        Envelope(
            kind="notice",
            frame=frame,
            conversation_id=conversation.id,
            user_ids=tuple(members),
            membership="added",
        )
    )


async def create_conversation(
    uow: UnitOfWork, *, creator: User, data: ConversationCreate
) -> tuple[Conversation, bool]:
    """Create a group, or find-or-create the direct conversation of a pair (created flag)."""
    others = list(dict.fromkeys(m for m in data.member_ids if m != creator.id))
    if data.kind == "direct":
        if len(data.member_ids) != 1 or not others:
            raise Unprocessable(
                "A direct conversation is with exactly one other person: "
                "give their id in member_ids.",
                code="invalid_direct_members",
            )
        other = others[0]
        await _existing_users(uow, [other])
        key = ":".join(sorted((str(creator.id), str(other))))
        existing = await uow.session.scalar(
            select(Conversation).where(col(Conversation.direct_key) == key)
        )
        if existing is not None:
            return existing, False
        conversation = Conversation(
            kind=ConversationKind.direct.value, direct_key=key, created_by=creator.id
        )
        uow.session.add(conversation)
        try:
            await uow.session.flush()
        except IntegrityError:  # a concurrent request created the pair first
            await uow.rollback()
            existing = await uow.session.scalar(
                select(Conversation).where(col(Conversation.direct_key) == key)
            )
            if existing is None:
                raise
            return existing, False
        members = [creator.id, other]
        for uid in members:
            uow.session.add(
                Member(conversation_id=conversation.id, user_id=uid, role=Role.member.value)
            )
    else:
        if not data.title:
            raise Unprocessable("A group needs a title.", code="title_required")
        await _existing_users(uow, others)
        conversation = Conversation(
            kind=ConversationKind.group.value, title=data.title, created_by=creator.id
        )
        uow.session.add(conversation)
        await uow.session.flush()
        uow.session.add(
            Member(conversation_id=conversation.id, user_id=creator.id, role=Role.owner.value)
        )
        for uid in others:
            uow.session.add(
                Member(conversation_id=conversation.id, user_id=uid, role=Role.member.value)
            )
        members = [creator.id, *others]
    await uow.session.flush()
    _announce_created(uow, conversation, members)
    return conversation, True


async def rename(
    uow: UnitOfWork, *, actor: User, conversation_id: uuid.UUID, title: str
) -> Conversation:
    """Change a group's title (owner/admin)."""
    conversation, _ = await _require_group_manager(
        uow, user_id=actor.id, conversation_id=conversation_id
    )
    conversation.title = title
    event = await timeline.record(
        uow,
        conversation_id=conversation_id,
        type=EventType.conversation_updated,
        actor_id=actor.id,
        data={"title": title},
    )
    await uow.session.flush()
    await uow.session.refresh(conversation)
    timeline.announce(
        uow,
        event,
        conversation=EventConversation(id=conversation_id, title=title),
    )
    return conversation


async def add_member(
    uow: UnitOfWork,
    *,
    actor: User,
    conversation_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
    presence: Presence,
) -> Member:
    """Add someone to a group (owner/admin; only the owner adds admins)."""
    _, me = await _require_group_manager(uow, user_id=actor.id, conversation_id=conversation_id)
    if role == Role.admin.value and me.role != Role.owner.value:
        raise Forbidden("Only the owner can add admins.", code="not_allowed")
    found = await _existing_users(uow, [user_id])
    exists = await uow.session.get(Member, (conversation_id, user_id))
    if exists is not None:
        raise Conflict("That user is already a member.", code="already_member")
    member = Member(conversation_id=conversation_id, user_id=user_id, role=role)
    uow.session.add(member)
    event = await timeline.record(
        uow,
        conversation_id=conversation_id,
        type=EventType.member_added,
        actor_id=actor.id,
        subject_user_id=user_id,
        data={"role": role},
    )
    await uow.session.flush()
    user_read = (await users.to_read(presence, [found[user_id]]))[0]
    timeline.announce(uow, event, member=EventMember(user_id=user_id, role=role, user=user_read))
    return member


async def change_role(
    uow: UnitOfWork, *, actor: User, conversation_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> Member:
    """Set a member's role (owner only). The group always keeps an owner."""
    await _require_group_manager(
        uow, user_id=actor.id, conversation_id=conversation_id, owner_only=True
    )
    target = await uow.session.get(Member, (conversation_id, user_id))
    if target is None:
        raise NotFound("That user is not a member of this conversation.", code="member_not_found")
    if target.role == role:
        return target
    if target.role == Role.owner.value and await _owner_count(uow, conversation_id) <= 1:
        raise Conflict(
            "A group always keeps an owner: make someone else owner first.", code="last_owner"
        )
    target.role = role
    await _record_role_change(uow, actor_id=actor.id, member=target)
    return target


async def _owner_count(uow: UnitOfWork, conversation_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(
        col(Member.conversation_id) == conversation_id,
        col(Member.role) == Role.owner.value,
    )
    return int(await uow.session.scalar(stmt) or 0)


async def _record_role_change(
    uow: UnitOfWork, *, actor_id: uuid.UUID | None, member: Member
) -> None:
    event = await timeline.record(
        uow,
        conversation_id=member.conversation_id,
        type=EventType.member_role_changed,
        actor_id=actor_id,
        subject_user_id=member.user_id,
        data={"role": member.role},
    )
    await uow.session.flush()
    timeline.announce(
        uow,
        event,
        member=EventMember(user_id=member.user_id, role=member.role),
    )


async def remove_member(
    uow: UnitOfWork, *, actor: User, conversation_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Remove someone (owner/admin), or leave (anyone, for themselves).

    Admins remove members; the owner removes anyone. When the last owner leaves, the
    longest-standing admin, else member, becomes owner.
    """
    me = await require_member(uow, user_id=actor.id, conversation_id=conversation_id)
    conversation = await _conversation(uow, conversation_id)
    if conversation.kind != ConversationKind.group:
        raise Forbidden("You cannot leave or change a direct conversation.", code="not_a_group")
    if user_id == actor.id:
        target = me
    else:
        if me.role not in MANAGERS:
            raise Forbidden("Only an owner or admin can remove members.", code="not_allowed")
        found = await uow.session.get(Member, (conversation_id, user_id))
        if found is None:
            raise NotFound(
                "That user is not a member of this conversation.", code="member_not_found"
            )
        target = found
        if me.role == Role.admin.value and target.role in MANAGERS:
            raise Forbidden(
                "Admins can remove members, not owners or other admins.", code="not_allowed"
            )
    if target.role == Role.owner.value and await _owner_count(uow, conversation_id) <= 1:
        successor = (
            await uow.session.scalars(
                select(Member)
                .where(
                    col(Member.conversation_id) == conversation_id,
                    col(Member.user_id) != target.user_id,
                )
                .order_by(
                    (col(Member.role) == Role.admin.value).desc(),
                    col(Member.joined_at),
                    col(Member.user_id),
                )
                .limit(1)
            )
        ).first()
        if successor is not None:
            successor.role = Role.owner.value
            await _record_role_change(uow, actor_id=None, member=successor)
    await uow.session.delete(target)
    event = await timeline.record(
        uow,
        conversation_id=conversation_id,
        type=EventType.member_removed,
        actor_id=actor.id,
        subject_user_id=target.user_id,
    )
    await uow.session.flush()
    timeline.announce(uow, event, member=EventMember(user_id=target.user_id))


async def list_members(
    uow: UnitOfWork, *, user: User, conversation_id: uuid.UUID, presence: Presence
) -> list[MemberRead]:
    await require_member(uow, user_id=user.id, conversation_id=conversation_id)
    rows = (
        await uow.session.execute(
            select(Member, User)
            .join(User, col(User.id) == col(Member.user_id))
            .where(col(Member.conversation_id) == conversation_id)
            .order_by(col(Member.joined_at), col(Member.user_id))
        )
    ).all()
    reads = await users.to_read(presence, [u for _, u in rows])
    return [
        MemberRead(
            user=r,
            role=m.role,
            last_read_seq=m.last_read_seq,
            last_delivered_seq=m.last_delivered_seq,
            joined_at=m.joined_at,
        )
        for (m, _), r in zip(rows, reads, strict=True)
    ]


async def read_conversations(
    uow: UnitOfWork,
    *,
    user: User,
    presence: Presence,
    signer: MediaSigner,
    conversation_id: uuid.UUID | None = None,
    limit: int = 100,
    before: datetime | None = None,
) -> list[ConversationRead]:
    """The caller's conversations, most recently active first, in a fixed number of queries.

    One query each for: the conversations with my membership, member counts, unread
    counts, last messages, their attachments, the other person of direct chats.
    """
    from chatapi.services import messages as messages_service

    stmt = (
        select(Conversation, Member)
        .join(
            Member,
            and_(
                col(Member.conversation_id) == col(Conversation.id),
                col(Member.user_id) == user.id,
            ),
        )
        .order_by(col(Conversation.last_activity_at).desc(), col(Conversation.id))
        .limit(min(max(limit, 1), LIST_LIMIT_MAX))
    )
    if conversation_id is not None:
        stmt = stmt.where(col(Conversation.id) == conversation_id)
    if before is not None:
        stmt = stmt.where(col(Conversation.last_activity_at) < before)
    rows = (await uow.session.execute(stmt)).all()
    if conversation_id is not None and not rows:
        raise _not_found()
    if not rows:
        return []
    ids = [c.id for c, _ in rows]

    counts = dict(
        (
            await uow.session.execute(
                select(col(Member.conversation_id), func.count())
                .where(col(Member.conversation_id).in_(ids))
                .group_by(col(Member.conversation_id))
            )
        )
        .tuples()
        .all()
    )

    me = (
        select(col(Member.conversation_id), col(Member.last_read_seq))
        .where(col(Member.user_id) == user.id)
        .subquery()
    )
    unread = dict(
        (
            await uow.session.execute(
                select(col(Message.conversation_id), func.count())
                .join(me, me.c.conversation_id == col(Message.conversation_id))
                .where(
                    col(Message.conversation_id).in_(ids),
                    col(Message.seq) > me.c.last_read_seq,
                    col(Message.sender_id) != user.id,
                    col(Message.deleted_at).is_(None),
                )
                .group_by(col(Message.conversation_id))
            )
        )
        .tuples()
        .all()
    )

    latest = (
        select(col(Message.conversation_id), func.max(col(Message.seq)).label("seq"))
        .where(col(Message.conversation_id).in_(ids))
        .group_by(col(Message.conversation_id))
        .subquery()
    )
    last_rows = (
        await uow.session.scalars(
            select(Message).join(
                latest,
                and_(
                    latest.c.conversation_id == col(Message.conversation_id),
                    latest.c.seq == col(Message.seq),
                ),
            )
        )
    ).all()
    last_reads = await messages_service.to_reads(uow, last_rows, signer=signer)
    last_by_conv: dict[uuid.UUID, MessageRead] = {m.conversation_id: m for m in last_reads}

    direct_ids = [c.id for c, _ in rows if c.kind == ConversationKind.direct]
    others: dict[uuid.UUID, User] = {}
    if direct_ids:
        other_rows = (
            (
                await uow.session.execute(
                    select(col(Member.conversation_id), User)
                    .join(User, col(User.id) == col(Member.user_id))
                    .where(col(Member.conversation_id).in_(ids), col(Member.user_id) != user.id)
                    .where(
                        col(Member.conversation_id).in_(
                            select(col(Conversation.id)).where(
                                col(Conversation.kind) == ConversationKind.direct.value
                            )
                        )
                    )
                )
            )
            .tuples()
            .all()
        )
        others = dict(other_rows)
    other_reads = {
        u.id: r
        for u, r in zip(
            others.values(), await users.to_read(presence, list(others.values())), strict=True
        )
    }
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
            last_read_seq=m.last_read_seq,
            last_message=last_by_conv.get(c.id),
            other_user=other_reads.get(others[c.id].id) if c.id in others else None,
        )
        for c, m in rows
    ]
