"""Reports, the moderators' review queue, and suspensions.

Anyone may report a message they can read, or a person (`report`); the report is an
item of the review queue (`ModerationItem`, kind `report`) and the reporter gets a
confirmation; the reported person is told nothing. The queue is designed to hold the
spam filter's held messages too (kind `held_message`, a later step).

Moderators (and admins) read the queue with each item's context — the messages around
the reported one — and act on an item (`act`): dismiss it, delete the message, suspend
the account for a time or for good, or label the message spam / not spam (kept in
`spam_labels` for the filter to learn from). Every action is written to the audit log
(`instance.audit`) in its own transaction.

A suspension sets `users.suspended_until` and revokes every session of the account
(`sessions.revoke_all`): once committed, its access tokens stop working and its open
sockets close (4401) on every instance, through the same broadcast as a logout; signing
in (password or single sign-on) and refreshing answer 403 `account_suspended` until it
ends. Moderators suspend people without a role; suspending a moderator or an admin
takes an admin.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import Conflict, Forbidden, NotFound, Unprocessable
from chatapi.media_urls import MediaSigner
from chatapi.models import (
    AuditEntry,
    Conversation,
    Message,
    ModerationItem,
    QueueItemKind,
    QueueItemStatus,
    SpamLabel,
    User,
)
from chatapi.ports import OnlineUsers, Quota
from chatapi.schemas import AuditRead, QueueConversation, QueueItemRead
from chatapi.services import instance, sessions, users
from chatapi.services.membership import readable_until, require_reader
from chatapi.services.messages import edit
from chatapi.services.messages.reads import to_reads
from chatapi.storage import MediaStorage

# Messages shown before and after a reported one.
CONTEXT = 3
QUEUE_LIMIT_MAX = 100


def _message_not_found() -> NotFound:
    return NotFound("No such message.", code="message_not_found")


async def report(
    uow: UnitOfWork,
    *,
    reporter: User,
    message_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    reason: str,
    text: str,
    quota: Quota,
) -> ModerationItem:
    """File a report of a message the reporter can read (404 otherwise, as if it did not
    exist), or of a person. Counted against the reporter's quota (429
    `report_rate_limited`)."""
    if (message_id is None) == (user_id is None):
        raise Unprocessable(
            "Report either a message (message_id) or a person (user_id).",
            code="invalid_report",
        )
    if reason == "other" and not text:
        raise Unprocessable(
            "Say what is wrong (text) when the reason is other.", code="text_required"
        )
    conversation_id = None
    if message_id is not None:
        message = await uow.session.get(Message, message_id)
        if message is None:
            raise _message_not_found()
        try:
            reader = await require_reader(
                uow, user_id=reporter.id, conversation_id=message.conversation_id
            )
        except NotFound:
            raise _message_not_found() from None
        until = readable_until(reader)
        if until is not None and message.seq > until:
            raise _message_not_found()
        subject_id = message.sender_id
        conversation_id = message.conversation_id
    else:
        assert user_id is not None
        subject_id = (await users.get_user(uow, user_id=user_id)).id
    if subject_id == reporter.id:
        raise Unprocessable("You cannot report yourself.", code="cannot_report_self")
    await quota.take(str(reporter.id))
    item = ModerationItem(
        kind=QueueItemKind.report.value,
        reporter_id=reporter.id,
        subject_user_id=subject_id,
        message_id=message_id,
        conversation_id=conversation_id,
        reason=reason,
        text=text,
    )
    uow.session.add(item)
    await uow.session.flush()
    return item


# --- suspension -----------------------------------------------------------------------


async def suspend(
    uow: UnitOfWork,
    *,
    actor: User,
    user_id: uuid.UUID,
    hours: int | None,
    reason: str,
    item_id: uuid.UUID | None = None,
) -> User:
    """Suspend an account for `hours`, or for good (None): its sessions end at once,
    everywhere, and it cannot sign in until the suspension ends."""
    instance.require_moderator(actor)
    target = await users.get_user(uow, user_id=user_id)
    if target.id == actor.id:
        raise Forbidden("You cannot suspend yourself.", code="cannot_suspend_self")
    if target.role is not None and not instance.is_admin(actor):
        raise Forbidden("Only an admin can suspend a moderator or an admin.", code="admins_only")
    until = (
        instance.SUSPENDED_FOR_GOOD if hours is None else datetime.now(UTC) + timedelta(hours=hours)
    )
    await uow.session.execute(
        update(User).where(col(User.id) == target.id).values(suspended_until=until)
    )
    target.suspended_until = until
    await sessions.revoke_all(uow, user_id=target.id)
    instance.audit(
        uow,
        actor_id=actor.id,
        action="suspend",
        subject_user_id=target.id,
        item_id=item_id,
        reason=reason,
        data={"hours": hours, "until": until.isoformat()},
    )
    return target


async def lift_suspension(uow: UnitOfWork, *, actor: User, user_id: uuid.UUID, reason: str) -> User:
    """End a suspension now (idempotent)."""
    instance.require_moderator(actor)
    target = await users.get_user(uow, user_id=user_id)
    if target.suspended_until is None:
        return target
    await uow.session.execute(
        update(User).where(col(User.id) == target.id).values(suspended_until=None)
    )
    target.suspended_until = None
    instance.audit(
        uow, actor_id=actor.id, action="lift_suspension", subject_user_id=target.id, reason=reason
    )
    return target


# --- the review queue -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueView:
    """An item with what a moderator needs to judge it (rows, read into schemas by
    the caller's `reads`)."""

    item: ModerationItem
    message: Message | None
    conversation: Conversation | None
    context: list[Message]
    spam_label: bool | None


async def queue(
    uow: UnitOfWork,
    *,
    moderator: User,
    status: QueueItemStatus = QueueItemStatus.open,
    limit: int = 50,
    before: datetime | None = None,
) -> list[QueueView]:
    """The queue's items of one status, the oldest open ones first (resolved: the latest
    first), each with its message, its conversation and the messages around it (in four
    queries, whatever the page's size)."""
    instance.require_moderator(moderator)
    stmt = select(ModerationItem).where(col(ModerationItem.status) == status.value)
    newest_first = status == QueueItemStatus.resolved
    if before is not None:
        stmt = stmt.where(
            col(ModerationItem.created_at) < before
            if newest_first
            else col(ModerationItem.created_at) > before
        )
    order = col(ModerationItem.created_at)
    stmt = stmt.order_by(order.desc() if newest_first else order, col(ModerationItem.id))
    items = list((await uow.session.scalars(stmt.limit(min(max(limit, 1), QUEUE_LIMIT_MAX)))).all())
    return await _views(uow, items)


async def _views(uow: UnitOfWork, items: Sequence[ModerationItem]) -> list[QueueView]:
    message_ids = [i.message_id for i in items if i.message_id is not None]
    messages: dict[uuid.UUID, Message] = {}
    if message_ids:
        found = await uow.session.scalars(select(Message).where(col(Message.id).in_(message_ids)))
        messages = {m.id: m for m in found}
    conversation_ids = {i.conversation_id for i in items if i.conversation_id is not None}
    conversations: dict[uuid.UUID, Conversation] = {}
    if conversation_ids:
        found_c = await uow.session.scalars(
            select(Conversation).where(col(Conversation.id).in_(list(conversation_ids)))
        )
        conversations = {c.id: c for c in found_c}
    around: dict[uuid.UUID, list[Message]] = {}
    if messages:
        windows = [
            and_(
                col(Message.conversation_id) == m.conversation_id,
                col(Message.seq).between(m.seq - CONTEXT, m.seq + CONTEXT),
            )
            for m in messages.values()
        ]
        nearby = (
            await uow.session.scalars(
                select(Message).where(or_(*windows)).order_by(col(Message.seq))
            )
        ).all()
        for m in messages.values():
            around[m.id] = [
                n
                for n in nearby
                if n.conversation_id == m.conversation_id and abs(n.seq - m.seq) <= CONTEXT
            ]
    labels: dict[uuid.UUID, bool] = {}
    if message_ids:
        for message_id, spam in await uow.session.execute(
            select(col(SpamLabel.message_id), col(SpamLabel.spam))
            .where(col(SpamLabel.message_id).in_(message_ids))
            .order_by(col(SpamLabel.created_at))
        ):
            if message_id is not None:
                labels[message_id] = spam
    return [
        QueueView(
            item=i,
            message=messages.get(i.message_id) if i.message_id else None,
            conversation=conversations.get(i.conversation_id) if i.conversation_id else None,
            context=around.get(i.message_id, []) if i.message_id else [],
            spam_label=labels.get(i.message_id) if i.message_id else None,
        )
        for i in items
    ]


async def get_view(uow: UnitOfWork, *, item_id: uuid.UUID) -> QueueView:
    item = await uow.session.get(ModerationItem, item_id, populate_existing=True)
    if item is None:
        raise NotFound("No such item in the review queue.", code="queue_item_not_found")
    return (await _views(uow, [item]))[0]


# What each action resolves the item as (None: it stays as it is).
_RESOLUTIONS = {
    "dismiss": "dismissed",
    "delete_message": "message_deleted",
    "suspend": "suspended",
    "mark_spam": None,
    "mark_not_spam": "not_spam",
}


async def act(
    uow: UnitOfWork,
    storage: MediaStorage,
    *,
    moderator: User,
    item_id: uuid.UUID,
    action: str,
    reason: str,
    suspend_hours: int | None,
    signer: MediaSigner,
) -> QueueView:
    """A moderator's action on a queue item, written to the audit log. `dismiss`,
    `delete_message`, `suspend` and `mark_not_spam` resolve the item (an item resolved
    already: 409 `already_resolved`); `mark_spam` labels its message and leaves it open
    for the next step (delete, suspend)."""
    instance.require_moderator(moderator)
    item = await uow.session.get(ModerationItem, item_id, with_for_update=True)
    if item is None:
        raise NotFound("No such item in the review queue.", code="queue_item_not_found")
    resolution = _RESOLUTIONS[action]
    if resolution is not None and item.status == QueueItemStatus.resolved.value:
        raise Conflict("This item was resolved already.", code="already_resolved")
    message = await uow.session.get(Message, item.message_id) if item.message_id else None
    if action in ("delete_message", "mark_spam", "mark_not_spam") and message is None:
        raise Unprocessable("This item has no message.", code="no_message")
    if action == "delete_message":
        assert message is not None
        await edit.delete_as_moderator(
            uow, storage, message_id=message.id, actor_id=moderator.id, signer=signer
        )
    elif action == "suspend":
        await suspend(
            uow,
            actor=moderator,
            user_id=item.subject_user_id,
            hours=suspend_hours,
            reason=reason,
            item_id=item.id,
        )
    elif action in ("mark_spam", "mark_not_spam"):
        assert message is not None
        uow.session.add(
            SpamLabel(
                message_id=message.id,
                sender_id=message.sender_id,
                body=message.body,
                spam=action == "mark_spam",
                labelled_by=moderator.id,
            )
        )
    if resolution is not None:
        item.status = QueueItemStatus.resolved.value
        item.resolved_at = datetime.now(UTC)
        item.resolved_by = moderator.id
        item.resolution = resolution
    if action != "suspend":  # suspend writes its own entry, with its duration
        instance.audit(
            uow,
            actor_id=moderator.id,
            action=action,
            subject_user_id=item.subject_user_id,
            message_id=item.message_id,
            item_id=item.id,
            reason=reason,
        )
    await uow.session.flush()
    return await get_view(uow, item_id=item.id)


async def read_views(
    uow: UnitOfWork, views: Sequence[QueueView], *, presence: OnlineUsers, signer: MediaSigner
) -> list[QueueItemRead]:
    """Queue items as moderators read them (people and messages in a query each)."""
    people_ids = {
        uid
        for v in views
        for uid in (v.item.reporter_id, v.item.subject_user_id, v.item.resolved_by)
        if uid is not None
    }
    people = (
        list((await uow.session.scalars(select(User).where(col(User.id).in_(people_ids)))).all())
        if people_ids
        else []
    )
    suspended_until = {u.id: u.suspended_until for u in people if instance.suspended(u)}
    by_id = {r.id: r for r in await users.to_read(presence, people, signer=signer)}
    shown: dict[uuid.UUID, Message] = {}
    for v in views:
        for m in [v.message, *v.context]:
            if m is not None:
                shown[m.id] = m
    reads = {r.id: r for r in await to_reads(uow, list(shown.values()), signer=signer)}
    return [
        QueueItemRead(
            id=v.item.id,
            kind=QueueItemKind(v.item.kind).value,
            status=QueueItemStatus(v.item.status).value,
            reason=v.item.reason,
            text=v.item.text,
            created_at=v.item.created_at,
            reporter=by_id.get(v.item.reporter_id) if v.item.reporter_id else None,
            subject=by_id[v.item.subject_user_id],
            subject_suspended_until=suspended_until.get(v.item.subject_user_id),
            message=reads.get(v.message.id) if v.message else None,
            conversation=QueueConversation(
                id=v.conversation.id, kind=v.conversation.kind, title=v.conversation.title
            )
            if v.conversation
            else None,
            context=[reads[m.id] for m in v.context],
            resolved_at=v.item.resolved_at,
            resolved_by=by_id.get(v.item.resolved_by) if v.item.resolved_by else None,
            resolution=v.item.resolution,
            spam_label=v.spam_label,
        )
        for v in views
    ]


async def read_audit(
    uow: UnitOfWork,
    entries: Sequence[AuditEntry],
    *,
    presence: OnlineUsers,
    signer: MediaSigner,
) -> list[AuditRead]:
    """Audit entries with their people read (one query)."""
    ids = {u for e in entries for u in (e.actor_id, e.subject_user_id) if u is not None}
    people = (
        list((await uow.session.scalars(select(User).where(col(User.id).in_(ids)))).all())
        if ids
        else []
    )
    by_id = {r.id: r for r in await users.to_read(presence, people, signer=signer)}
    return [
        AuditRead(
            id=e.id,
            created_at=e.created_at,
            actor=by_id.get(e.actor_id) if e.actor_id else None,
            action=e.action,
            subject=by_id.get(e.subject_user_id) if e.subject_user_id else None,
            message_id=e.message_id,
            item_id=e.item_id,
            reason=e.reason,
            data=e.data,
        )
        for e in entries
    ]
