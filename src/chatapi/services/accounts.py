"""Closing an account: what happens to its groups, its sessions and its row."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.domain import ProfileChanged
from chatapi.media_urls import MediaSigner
from chatapi.models import Conversation, ConversationKind, Member, User
from chatapi.ports import LoginAttempts
from chatapi.services import auth, avatars, conversations, identities, membership, sessions, users
from chatapi.services.media import files as media_files
from chatapi.services.messages import edit
from chatapi.storage import MediaStorage

DELETED_NAME = "Deleted account"


async def delete_account(
    uow: UnitOfWork,
    storage: MediaStorage,
    *,
    user: User,
    password: str | None,
    client: str,
    limiter: LoginAttempts,
    signer: MediaSigner,
) -> None:
    """Close an account, confirmed with its password (accounts that sign in with single
    sign-on only need none): it leaves its groups, it can no longer log in, and every
    session of it ends at once (tokens refused, sockets closed on every instance).

    What it wrote: its text messages stay as they were sent (the conversations stay
    whole for the others), from "Deleted account"; every file it uploaded is deleted,
    and each message carrying files is deleted with them (`message.deleted`). Its
    profile is cleared (display name "Deleted account", no e-mail address, its picture's
    files deleted; `user.updated` to everyone who shared a conversation with it); the username
    stays taken, so nobody can pose as the person under it.

    It leaves each group as a member leaving would (`conversations.remove_member`): where
    it was the last owner, the longest-standing admin, else member, becomes owner first
    (`member.role_changed`), then `member.removed`. Direct conversations keep it: a
    direct chat is its pair, and its history stays whole for the other person. Its
    OpenID identities are unlinked, so the person may sign up afresh with them.
    """
    if user.password_hash:
        await auth.confirm_password(user, password, client=client, limiter=limiter)
    await edit.delete_with_files(uow, storage, user=user, signer=signer)
    await media_files.delete_uploads_of(uow, storage, user_id=user.id)
    closing = await avatars.forget_avatar(uow, storage, user_id=user.id)
    # Everyone who shared a conversation with it sees "Deleted account" without a picture
    # at once (told before it leaves its groups, so those members are told too).
    await _announce_closed(uow, closing, signer=signer)
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
        .values(
            deleted_at=datetime.now(UTC), password_hash="", display_name=DELETED_NAME, email=None
        )
    )
    await identities.forget_identities(uow, user_id=user.id)
    await sessions.revoke_all(uow, user_id=user.id)


async def _announce_closed(uow: UnitOfWork, user: User, *, signer: MediaSigner) -> None:
    recipients = await membership.co_member_ids(uow, user_id=user.id)
    if not recipients:
        return
    profile = users.profile(user, signer).model_copy(
        update={"display_name": DELETED_NAME, "last_seen_at": None}
    )
    uow.emit(ProfileChanged(user=profile, recipients=tuple(sorted(recipients))))
