"""Closing an account: what happens to its groups, its sessions and its row."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.models import Conversation, ConversationKind, Member, User
from chatapi.services import conversations, identities, sessions


async def delete_account(uow: UnitOfWork, *, user: User) -> None:
    """Close an account: it leaves its groups, it can no longer log in, and every session
    of it ends at once (tokens refused, sockets closed on every instance).

    It leaves each group as a member leaving would (`conversations.remove_member`): where
    it was the last owner, the longest-standing admin, else member, becomes owner first
    (`member.role_changed`), then `member.removed`. Direct conversations keep it: a
    direct chat is its pair, and its history stays whole for the other person. Its
    OpenID identities are unlinked, so the person may sign up afresh with them.
    """
    stmt = (
        select(col(Member.conversation_id))
        .join(Conversation, col(Conversation.id) == col(Member.conversation_id))
        .where(
            col(Member.user_id) == user.id, col(Conversation.kind) == ConversationKind.group.value
        )
        .order_by(col(Member.conversation_id))  # locks taken in one order
    )
    for conversation_id in (await uow.session.scalars(stmt)).all():
        await conversations.remove_member(
            uow, actor=user, conversation_id=conversation_id, user_id=user.id
        )
    await uow.session.execute(
        update(User)
        .where(col(User.id) == user.id)
        .values(deleted_at=datetime.now(UTC), password_hash="")
    )
    await identities.forget_identities(uow, user_id=user.id)
    await sessions.revoke_all(uow, user_id=user.id)
