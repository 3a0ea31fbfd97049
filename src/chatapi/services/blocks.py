"""Blocking a person, and message requests: who may reach whom.

A block is one-way and immediate. The blocked person can no longer open a direct chat
with the blocker or add them to a group (403 `blocked`); in a direct chat of the two,
neither may send any more (the blocked one: 403 `blocked`; the blocker: 403
`you_blocked`, unblock first) — checked in the send path itself (`messages/send.py`),
which REST and WebSocket share, so nothing is stored. In groups they share, the blocked
person's messages are still delivered; clients collapse them for the blocker (who
knows their blocks list). Unblocking restores all of it.

A direct chat opened by someone the other person shares no conversation with arrives
as a *message request*: the recipient's membership carries `request` until they accept
it; meanwhile its attachments are withheld from them (REST reads) and clients hide
links. Blocking the opener from the request works as any block.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import Forbidden, Unprocessable
from chatapi.models import Block, Member, User
from chatapi.services import users
from chatapi.services.membership import require_member

MAX_BLOCKS = 10_000


def blocked_error() -> Forbidden:
    return Forbidden(
        "This person does not accept messages or invitations from you.", code="blocked"
    )


def you_blocked_error() -> Forbidden:
    return Forbidden(
        "You blocked this person: unblock them first to message them.", code="you_blocked"
    )


async def block(uow: UnitOfWork, *, user: User, blocked_id: uuid.UUID) -> Block:
    """Block someone (idempotent: blocking again keeps the first block's time)."""
    if blocked_id == user.id:
        raise Unprocessable("You cannot block yourself.", code="cannot_block_self")
    await users.get_user(uow, user_id=blocked_id)
    found = await uow.session.get(Block, (user.id, blocked_id))
    if found is not None:
        return found
    count = await uow.session.scalar(
        select(col(Block.blocked_id)).where(col(Block.blocker_id) == user.id).offset(MAX_BLOCKS)
    )
    if count is not None:
        raise Unprocessable(f"You can block at most {MAX_BLOCKS} people.", code="too_many_blocks")
    made = Block(blocker_id=user.id, blocked_id=blocked_id)
    try:
        async with uow.savepoint():
            uow.session.add(made)
            await uow.session.flush()
    except IntegrityError:  # the same block, made concurrently
        again = await uow.session.get(Block, (user.id, blocked_id))
        if again is None:
            raise
        return again
    return made


async def unblock(uow: UnitOfWork, *, user: User, blocked_id: uuid.UUID) -> None:
    """Take a block back (idempotent)."""
    await uow.session.execute(
        delete(Block).where(col(Block.blocker_id) == user.id, col(Block.blocked_id) == blocked_id)
    )


async def list_blocked(uow: UnitOfWork, *, user: User) -> Sequence[tuple[Block, User]]:
    """The people the user blocked, the latest block first."""
    rows = await uow.session.execute(
        select(Block, User)
        .join(User, col(User.id) == col(Block.blocked_id))
        .where(col(Block.blocker_id) == user.id)
        .order_by(col(Block.created_at).desc(), col(Block.blocked_id))
    )
    return [(b, u) for b, u in rows.tuples()]


async def refuse_if_blocked(
    uow: UnitOfWork, *, actor_id: uuid.UUID, targets: Collection[uuid.UUID]
) -> None:
    """403 `blocked` when any of `targets` blocked `actor_id` (opening a direct chat,
    adding people to a group)."""
    others = [t for t in targets if t != actor_id]
    if not others:
        return
    found = await uow.session.scalar(
        select(col(Block.blocker_id))
        .where(col(Block.blocked_id) == actor_id, col(Block.blocker_id).in_(others))
        .limit(1)
    )
    if found is not None:
        raise blocked_error()


# --- message requests ---------------------------------------------------------------


async def accept_request(uow: UnitOfWork, *, user: User, conversation_id: uuid.UUID) -> Member:
    """Accept a message request: the conversation becomes a normal chat for the user
    (idempotent; 404 for a conversation the user is not in)."""
    me = await require_member(uow, user_id=user.id, conversation_id=conversation_id)
    if me.request:
        await uow.session.execute(
            update(Member)
            .where(col(Member.conversation_id) == conversation_id, col(Member.user_id) == user.id)
            .values(request=False)
        )
        me.request = False
    return me
