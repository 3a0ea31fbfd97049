"""@mentions: which members a message body names, parsed once on send and on edit.

`@username` is a mention when that user is a member of the conversation; `@all` mentions
every member of a group. In a group of more than `OPEN_ALL_MAX_MEMBERS` members only its
owners and admins may use `@all`: written by a plain member there it is simply not a
mention (the message is sent as typed, nobody is notified). In a direct conversation
`@all` is never a mention. Text in inline code (`` `…` ``) and fenced code blocks
mentions nobody, as the web client shows it literally.

Resolution costs one query for a whole batch (the named members, with the senders' own
rows), plus one member count when a batch writes `@all` in a group: the database, under
the send's conversation locks, is the truth.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, delete, func, insert, or_, select
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.models import Conversation, ConversationKind, Member, MessageMention, Role, User

# Groups of at most this many members let anyone write @all.
OPEN_ALL_MAX_MEMBERS = 10
ALL = "all"

_MENTION_ROWS: Table = MessageMention.__table__  # type: ignore[attr-defined]
_INSERT_MENTIONS = insert(_MENTION_ROWS)
# Fenced blocks (to the closing fence, or the end) and inline code spans.
_CODE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?(?:^ {0,3}\1[^\S\n]*$|\Z)|`+[^`\n]*?`+", re.S | re.M)
# `@` not preceded by a word character, `@`, or a dot (so e-mail addresses are no mentions).
_AT_NAME = re.compile(r"(?<![\w@.])@([a-z0-9_.\-]{3,32})", re.I)


@dataclass(frozen=True, slots=True)
class Mentions:
    """Who a message mentions: member ids in order of first mention, and @all."""

    user_ids: tuple[uuid.UUID, ...] = ()
    all: bool = False

    def stored(self) -> list[str] | None:
        """The `messages.mentions` column's value."""
        return [str(u) for u in self.user_ids] or None


NONE = Mentions()


@dataclass(frozen=True, slots=True)
class Written:
    """What a body writes, before it is checked against the members."""

    names: tuple[str, ...]
    all: bool


def written(body: str) -> Written:
    """The lower-case names after `@` outside code, each once in order, and whether
    `@all` is among them. A name's trailing dots and hyphens are punctuation when the
    name with them is no username (`@bob.` at a sentence's end)."""
    if "@" not in body:
        return Written((), False)
    text = _CODE.sub(" ", body) if "`" in body or "~~~" in body else body
    names: dict[str, None] = {}
    for match in _AT_NAME.finditer(text):
        name = match.group(1).lower()
        names[name] = None
        trimmed = name.rstrip(".-")
        if trimmed != name and len(trimmed) >= 3:
            names[trimmed] = None
    wrote_all = ALL in names
    names.pop(ALL, None)
    return Written(tuple(names), wrote_all)


@dataclass(frozen=True, slots=True)
class Draft:
    """One body to resolve: its conversation and sender."""

    conversation_id: uuid.UUID
    sender_id: uuid.UUID
    body: str


async def resolve(uow: UnitOfWork, drafts: Sequence[Draft]) -> list[Mentions]:
    """The mentions of each draft, in order; `NONE` for those that name nobody."""
    wrote = [written(d.body) for d in drafts]
    asking = [(d, w) for d, w in zip(drafts, wrote, strict=True) if w.names or w.all]
    if not asking:
        return [NONE] * len(drafts)
    conversations = {d.conversation_id for d, _ in asking}
    names = {n for _, w in asking for n in w.names}
    senders = {d.sender_id for d, w in asking if w.all}
    wanted = []
    if names:
        wanted.append(col(User.username).in_(names))
    if senders:
        wanted.append(col(Member.user_id).in_(senders))
    stmt = (
        select(
            col(Member.conversation_id), col(Member.user_id), col(User.username), col(Member.role)
        )
        .join(User, col(User.id) == col(Member.user_id))
        .where(col(Member.conversation_id).in_(conversations), or_(*wanted))
    )
    by_name: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
    roles: dict[tuple[uuid.UUID, uuid.UUID], str] = {}
    for conversation_id, user_id, username, role in (await uow.session.execute(stmt)).tuples():
        by_name[(conversation_id, username)] = user_id
        roles[(conversation_id, user_id)] = role
    open_all = await _open_all(uow, {d.conversation_id for d, w in asking if w.all})
    results: list[Mentions] = []
    for draft, w in zip(drafts, wrote, strict=True):
        ids = [by_name[key] for n in w.names if (key := (draft.conversation_id, n)) in by_name]
        everyone = w.all and _may_mention_all(
            open_all.get(draft.conversation_id),
            roles.get((draft.conversation_id, draft.sender_id)),
        )
        results.append(Mentions(tuple(dict.fromkeys(ids)), everyone) if ids or everyone else NONE)
    return results


def _may_mention_all(open_to_all: bool | None, role: str | None) -> bool:
    if open_to_all is None or role is None:  # not a group, or the sender is no member
        return False
    return open_to_all or role in (Role.owner, Role.admin)


async def _open_all(uow: UnitOfWork, conversation_ids: set[uuid.UUID]) -> dict[uuid.UUID, bool]:
    """For each group among these: whether any member may write @all (small groups)."""
    if not conversation_ids:
        return {}
    stmt = (
        select(col(Member.conversation_id), func.count())
        .join(Conversation, col(Conversation.id) == col(Member.conversation_id))
        .where(
            col(Member.conversation_id).in_(conversation_ids),
            col(Conversation.kind) == ConversationKind.group.value,
        )
        .group_by(col(Member.conversation_id))
    )
    return {c: n <= OPEN_ALL_MAX_MEMBERS for c, n in (await uow.session.execute(stmt)).tuples()}


async def store(uow: UnitOfWork, rows: dict[uuid.UUID, Mentions]) -> None:
    """Index the named mentions of new messages (one multi-row INSERT; none when no
    message names anyone)."""
    values = [{"message_id": m, "user_id": u} for m, found in rows.items() for u in found.user_ids]
    if values:
        conn = await uow.session.connection()
        await conn.execute(_INSERT_MENTIONS, values)


async def replace(uow: UnitOfWork, *, message_id: uuid.UUID, mentions: Mentions) -> None:
    """Index an edited (or deleted: `NONE`) message's mentions anew."""
    conn = await uow.session.connection()
    await conn.execute(delete(_MENTION_ROWS).where(_MENTION_ROWS.c.message_id == message_id))
    await store(uow, {message_id: mentions})
