"""Conversations: creating direct and group chats, and changing a group's members, roles
and title. Each change is numbered in the conversation's timeline."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.domain import ConversationCreated
from chatapi.errors import Conflict, Forbidden, NotFound, Unprocessable
from chatapi.media_urls import MediaSigner
from chatapi.models import (
    Conversation,
    ConversationKind,
    Event,
    EventType,
    FormerMember,
    Member,
    Role,
    User,
)
from chatapi.ports import OnlineUsers, Quota
from chatapi.schemas import ConversationCreate, EventConversation, EventMember, MemberRead
from chatapi.services import blocks, timeline, users
from chatapi.services.membership import (
    MANAGERS,
    co_members_among,
    lock_conversation,
    not_found,
    require_group_manager,
    require_member,
)


async def _existing_users(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, User]:
    if not ids:
        return {}
    stmt = select(User).where(col(User.id).in_(ids), col(User.deleted_at).is_(None))
    found = {u.id: u for u in (await uow.session.scalars(stmt)).all()}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise Unprocessable(f"Unknown user id(s): {', '.join(missing)}.", code="unknown_users")
    return found


async def create_conversation(
    uow: UnitOfWork, *, creator: User, data: ConversationCreate, adds: Quota
) -> tuple[Conversation, bool]:
    """Create a group, or find-or-create the direct conversation of a pair (created flag).

    The people a creator puts in a group count against `adds`, the creator's quota of
    members added (429 `member_add_rate_limited`); a direct chat does not.
    """
    others = list(dict.fromkeys(m for m in data.member_ids if m != creator.id))
    requests: set[uuid.UUID] = set()
    if data.kind == "direct":
        if len(data.member_ids) != 1 or not others:
            raise Unprocessable(
                "A direct conversation is with exactly one other person: "
                "give their id in member_ids.",
                code="invalid_direct_members",
            )
        conversation, created = await _direct(uow, creator=creator, other=others[0])
        if not created:
            return conversation, False
        members = [(creator.id, Role.member), (others[0], Role.member)]
        # Someone the creator shares no conversation with gets a message request.
        known = await co_members_among(uow, user_id=creator.id, candidates=others)
        requests = {others[0]} - known
    else:
        if not data.title:
            raise Unprocessable("A group needs a title.", code="title_required")
        await _existing_users(uow, others)
        await blocks.refuse_if_blocked(uow, actor_id=creator.id, targets=others)
        await adds.take(str(creator.id), len(others))
        conversation = Conversation(
            kind=ConversationKind.group.value, title=data.title, created_by=creator.id
        )
        uow.session.add(conversation)
        await uow.session.flush()
        members = [(creator.id, Role.owner), *((uid, Role.member) for uid in others)]
    for uid, role in members:
        uow.session.add(
            Member(
                conversation_id=conversation.id,
                user_id=uid,
                role=role.value,
                request=uid in requests,
            )
        )
    await uow.session.flush()
    uow.emit(
        ConversationCreated(
            conversation_id=conversation.id,
            kind=ConversationKind(conversation.kind).value,
            title=conversation.title,
            member_ids=tuple(uid for uid, _ in members),
        )
    )
    return conversation, True


async def _direct(uow: UnitOfWork, *, creator: User, other: uuid.UUID) -> tuple[Conversation, bool]:
    """The pair's direct conversation: the existing one, or a new one (flushed, no members
    yet). Concurrent requests for one pair make one conversation (a unique key)."""
    await _existing_users(uow, [other])
    key = ":".join(sorted((str(creator.id), str(other))))
    find = select(Conversation).where(col(Conversation.direct_key) == key)
    existing = await uow.session.scalar(find)
    if existing is not None:
        return existing, False
    await blocks.refuse_if_blocked(uow, actor_id=creator.id, targets=[other])
    conversation = Conversation(
        kind=ConversationKind.direct.value, direct_key=key, created_by=creator.id
    )
    try:
        async with uow.savepoint():
            uow.session.add(conversation)
            await uow.session.flush()
    except IntegrityError:  # a concurrent request created the pair first
        existing = await uow.session.scalar(find)
        if existing is None:
            raise
        return existing, False
    return conversation, True


async def rename(
    uow: UnitOfWork, *, actor: User, conversation_id: uuid.UUID, title: str
) -> Conversation:
    """Change a group's title (owner/admin)."""
    conversation, _ = await require_group_manager(
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
    presence: OnlineUsers,
    adds: Quota,
    signer: MediaSigner,
) -> Member:
    """Add someone to a group (owner/admin; only the owner adds admins). Counts against
    `adds`, the actor's quota of members added (429 `member_add_rate_limited`)."""
    _, me = await require_group_manager(uow, user_id=actor.id, conversation_id=conversation_id)
    if role == Role.admin.value and me.role != Role.owner.value:
        raise Forbidden("Only the owner can add admins.", code="not_allowed")
    found = await _existing_users(uow, [user_id])
    await blocks.refuse_if_blocked(uow, actor_id=actor.id, targets=[user_id])
    exists = await uow.session.get(Member, (conversation_id, user_id))
    if exists is not None:
        raise Conflict("That user is already a member.", code="already_member")
    await adds.take(str(actor.id))
    member = Member(conversation_id=conversation_id, user_id=user_id, role=role)
    uow.session.add(member)
    # Back in: a member reads the whole timeline again, so the former-member row goes.
    former = await uow.session.get(FormerMember, (conversation_id, user_id))
    if former is not None:
        await uow.session.delete(former)
    event = await timeline.record(
        uow,
        conversation_id=conversation_id,
        type=EventType.member_added,
        actor_id=actor.id,
        subject_user_id=user_id,
        data={"role": role},
    )
    await uow.session.flush()
    user_read = (await users.to_read(presence, [found[user_id]], signer=signer))[0]
    timeline.announce(uow, event, member=EventMember(user_id=user_id, role=role, user=user_read))
    return member


async def change_role(
    uow: UnitOfWork, *, actor: User, conversation_id: uuid.UUID, user_id: uuid.UUID, role: str
) -> Member:
    """Set a member's role (owner only). The group always keeps an owner."""
    await require_group_manager(
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
    # The conversation row first: two owners leaving at once queue here, and the second
    # counts the owners the first one left.
    conversation = await lock_conversation(uow, conversation_id)
    me = await require_member(uow, user_id=actor.id, conversation_id=conversation_id)
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
        await _promote_successor(uow, conversation_id=conversation_id, leaving=target.user_id)
    await uow.session.delete(target)
    event = await timeline.record(
        uow,
        conversation_id=conversation_id,
        type=EventType.member_removed,
        actor_id=actor.id,
        subject_user_id=target.user_id,
    )
    await _remember_departure(uow, conversation=conversation, member=target, event=event)
    await uow.session.flush()
    timeline.announce(uow, event, member=EventMember(user_id=target.user_id))


async def _remember_departure(
    uow: UnitOfWork, *, conversation: Conversation, member: Member, event: Event
) -> None:
    """Keep what a departing member may still read: the history up to their removal."""
    former = await uow.session.get(FormerMember, (conversation.id, member.user_id))
    if former is None:
        former = FormerMember(
            conversation_id=conversation.id, user_id=member.user_id, left_seq=event.seq, role=""
        )
        uow.session.add(former)
    former.left_seq = event.seq
    former.left_at = event.created_at
    former.removed_by = None if event.actor_id == member.user_id else event.actor_id
    former.role = member.role
    former.title = conversation.title
    former.last_read_seq = member.last_read_seq


async def forget(uow: UnitOfWork, *, user: User, conversation_id: uuid.UUID) -> None:
    """A former member deletes the conversation from their list, and their read access
    to its history with it (404 when they were never in it or are a member now)."""
    former = await uow.session.get(FormerMember, (conversation_id, user.id))
    if former is None:
        raise not_found()
    await uow.session.delete(former)


async def _promote_successor(
    uow: UnitOfWork, *, conversation_id: uuid.UUID, leaving: uuid.UUID
) -> None:
    """The last owner is leaving: the longest-standing admin, else member, becomes owner."""
    successor = (
        await uow.session.scalars(
            select(Member)
            .where(col(Member.conversation_id) == conversation_id, col(Member.user_id) != leaving)
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


async def list_members(
    uow: UnitOfWork,
    *,
    user: User,
    conversation_id: uuid.UUID,
    presence: OnlineUsers,
    signer: MediaSigner,
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
    reads = await users.to_read(presence, [u for _, u in rows], signer=signer)
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
