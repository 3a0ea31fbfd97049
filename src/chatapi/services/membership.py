"""Membership: who belongs to a conversation, with which role, and who shares one with
whom. Every rule about access to a conversation starts here."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import Forbidden, NotFound
from chatapi.models import Conversation, ConversationKind, FormerMember, Member, Role

# Roles that manage a group: add and remove members, rename, delete others' messages.
MANAGERS = (Role.owner.value, Role.admin.value)


def not_found() -> NotFound:
    """What a non-member is told about a conversation: it does not exist (404)."""
    return NotFound("No such conversation.", code="conversation_not_found")


async def require_member(
    uow: UnitOfWork, *, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> Member:
    """The caller's membership; a non-member gets 404 so existence does not leak."""
    stmt = (
        select(Member)
        .where(
            col(Member.conversation_id) == conversation_id,
            col(Member.user_id) == user_id,
        )
        .execution_options(populate_existing=True)
    )
    member = (await uow.session.scalars(stmt)).first()
    if member is None:
        raise not_found()
    return member


async def require_reader(
    uow: UnitOfWork, *, user_id: uuid.UUID, conversation_id: uuid.UUID
) -> Member | FormerMember:
    """Who may read a conversation's timeline: a member, all of it; a former member (left
    or removed), up to their departure (`readable_until`). 404 for anyone else."""
    member = await uow.session.get(Member, (conversation_id, user_id), populate_existing=True)
    if member is not None:
        return member
    former = await uow.session.get(FormerMember, (conversation_id, user_id))
    if former is None:
        raise not_found()
    return former


def readable_until(reader: Member | FormerMember) -> int | None:
    """The last seq a reader may see, or None for the whole timeline."""
    return reader.left_seq if isinstance(reader, FormerMember) else None


async def get_conversation(uow: UnitOfWork, conversation_id: uuid.UUID) -> Conversation:
    """The conversation (404 `conversation_not_found` when it does not exist)."""
    conversation = await uow.session.get(Conversation, conversation_id)
    if conversation is None:
        raise not_found()
    return conversation


async def lock_conversation(uow: UnitOfWork, conversation_id: uuid.UUID) -> Conversation:
    """Lock the conversation's row until this transaction ends, and return it fresh.

    Every rule that reads a conversation's members, roles or messages and then writes
    takes this lock first (PostgreSQL `SELECT … FOR UPDATE`; on SQLite the transaction
    holds the database's write lock already). Concurrent changes to one conversation
    then queue here, always the conversation row first and its member and message rows
    after it, so they cannot deadlock, and each reads what the one before it committed.
    Taking a seq (`timeline.next_seq`) locks the same row, so sends queue here too.
    """
    stmt = (
        select(Conversation)
        .where(col(Conversation.id) == conversation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    conversation = await uow.session.scalar(stmt)
    if conversation is None:
        raise not_found()
    return conversation


async def require_group_manager(
    uow: UnitOfWork, *, user_id: uuid.UUID, conversation_id: uuid.UUID, owner_only: bool = False
) -> tuple[Conversation, Member]:
    """The group (locked: `lock_conversation`) and the caller's membership, when the caller
    may manage it (owner or admin; the owner only with `owner_only`)."""
    conversation = await lock_conversation(uow, conversation_id)
    me = await require_member(uow, user_id=user_id, conversation_id=conversation_id)
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
    """The user ids of a conversation's members."""
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


async def co_members_among(
    uow: UnitOfWork, *, user_id: uuid.UUID, candidates: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of `candidates` share at least one conversation with the user (one query)."""
    others = [c for c in candidates if c != user_id]
    if not others:
        return set()
    mine = select(col(Member.conversation_id)).where(col(Member.user_id) == user_id)
    stmt = (
        select(col(Member.user_id))
        .where(col(Member.user_id).in_(others), col(Member.conversation_id).in_(mine))
        .distinct()
    )
    return set((await uow.session.scalars(stmt)).all())
