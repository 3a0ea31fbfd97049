"""Where an event stream (`GET /events/stream`) starts: for each conversation it follows,
the seq after which its events are sent, and the last one the caller may read.

The same rules as the events endpoint (`events.list_events`): a member reads the whole
timeline, a former member up to their departure (their `member.removed`), anyone else
nothing (404, existence does not leak).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.models import Conversation, Event, EventType, FormerMember, Member
from chatapi.services.membership import not_found, readable_until, require_reader


@dataclass(frozen=True, slots=True)
class Start:
    """One conversation of a stream: events `after_seq < seq <= until_seq` are replayed
    (`until_seq` None: up to the end, then live)."""

    after_seq: int
    until_seq: int | None = None

    @property
    def live(self) -> bool:
        """Still a member: the stream goes on with this conversation's live events."""
        return self.until_seq is None

    @property
    def replays(self) -> bool:
        return self.until_seq is None or self.until_seq > self.after_seq


async def start_one(
    uow: UnitOfWork,
    *,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    after_seq: int | None,
) -> Start:
    """A stream of one conversation, from `after_seq` (None: from now). A former member
    resuming before their departure gets the rest up to it; otherwise 404."""
    reader = await require_reader(uow, user_id=user_id, conversation_id=conversation_id)
    until = readable_until(reader)
    if until is not None:  # a former member: what is left up to their departure, if any
        if after_seq is None or after_seq >= until:
            raise not_found()
        return Start(after_seq=after_seq, until_seq=until)
    last = await uow.session.scalar(
        select(col(Conversation.last_seq)).where(col(Conversation.id) == conversation_id)
    )
    last = int(last or 0)
    # A seq past the end (a cursor from a database restored to an older backup) resumes
    # from the end: what is committed from now on is not skipped.
    return Start(after_seq=last if after_seq is None else min(after_seq, last))


async def start_all(
    uow: UnitOfWork, *, user_id: uuid.UUID, cursor: dict[uuid.UUID, int] | None
) -> dict[uuid.UUID, Start]:
    """A stream of every conversation of the user, from `cursor` (None: from now).

    - A conversation in the cursor resumes after its seq there; one the user has left
      since resumes up to their departure (its `member.removed` is the last event sent).
    - A conversation of the user that the cursor does not name was joined after the
      cursor was written (the stream names every conversation it follows): it is sent
      from the event that added the user (from its start for a founding member).
    - A conversation named in the cursor that the user cannot read is left out.
    """
    members = (
        await uow.session.execute(
            select(col(Conversation.id), col(Conversation.last_seq)).join(
                Member,
                (col(Member.conversation_id) == col(Conversation.id))
                & (col(Member.user_id) == user_id),
            )
        )
    ).all()
    if cursor is None:
        return {conversation_id: Start(after_seq=last) for conversation_id, last in members}
    starts: dict[uuid.UUID, Start] = {}
    joined = [c for c, _ in members if c not in cursor]
    added = await _added_at(uow, user_id=user_id, conversation_ids=joined)
    for conversation_id, last in members:
        if conversation_id in cursor:  # (a seq past the end resumes from the end)
            starts[conversation_id] = Start(after_seq=min(cursor[conversation_id], last))
        else:
            starts[conversation_id] = Start(after_seq=added.get(conversation_id, 1) - 1)
    left = [c for c in cursor if c not in starts]
    if left:
        formers = await uow.session.scalars(
            select(FormerMember).where(
                col(FormerMember.user_id) == user_id,
                col(FormerMember.conversation_id).in_(left),
            )
        )
        for former in formers:
            after = cursor[former.conversation_id]
            if after < former.left_seq:
                starts[former.conversation_id] = Start(after_seq=after, until_seq=former.left_seq)
    return starts


async def _added_at(
    uow: UnitOfWork, *, user_id: uuid.UUID, conversation_ids: list[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """The seq of the latest `member.added` naming the user in each conversation (none:
    a founding member)."""
    if not conversation_ids:
        return {}
    rows = await uow.session.execute(
        select(col(Event.conversation_id), func.max(col(Event.seq)))
        .where(
            col(Event.conversation_id).in_(conversation_ids),
            col(Event.type) == EventType.member_added.value,
            col(Event.subject_user_id) == user_id,
        )
        .group_by(col(Event.conversation_id))
    )
    return {c: int(s) for c, s in rows.all()}
