"""Voice and video calls: who is rung, who is in a call (from which socket), how it ends.

A call's state lives in the database (`calls`, `call_participants`), so every instance
sees the same call and a participant may come back from any of them. Every change of a
call locks its conversation's row first (`membership.lock_conversation`, as every write
to a conversation does), so two changes of one call queue and each reads what the one
before it committed: two devices of one person answering at once, one of them wins.
A call ends once: a conditional UPDATE on `calls.ended_at` decides which transaction
(which instance, which sweeper) records its `call.ended` timeline event.

Media never passes through the server: the participants' browsers connect to each
other (a full mesh, hence at most MAX_CALL_MEMBERS members) and the server relays their
signalling (`call.signal`) between their sockets.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, select, update
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.domain import CallChanged, CallMediaChanged, CallSignalled, CallStep
from chatapi.errors import Conflict, NotFound, PayloadTooLarge, Unprocessable
from chatapi.models import (
    Call,
    CallParticipant,
    CallStatus,
    Conversation,
    ConversationKind,
    EventType,
    Member,
    User,
)
from chatapi.schemas import (
    MAX_CANDIDATE_BYTES,
    MAX_SDP_BYTES,
    CallOutcome,
    CallParticipantRead,
    CallState,
    EventCall,
    IceServer,
    IceServers,
    SignalCandidate,
    SignalDescription,
)
from chatapi.services import membership, timeline

log = logging.getLogger(__name__)

# A full mesh: each participant sends its media to every other one. Beyond a handful the
# uplink and CPU of each browser give out; an SFU (LiveKit, mediasoup) takes over there.
MAX_CALL_MEMBERS = 6


@dataclass(frozen=True)
class CallPolicy:
    """The call timings (settings CALL_RING_TIMEOUT_SECONDS, CALL_REJOIN_SECONDS)."""

    ring_seconds: float = 45.0
    rejoin_seconds: float = 30.0

    @property
    def sweep_seconds(self) -> float:
        """How often each instance ends overdue calls and refreshes its participants."""
        return max(0.2, min(5.0, min(self.ring_seconds, self.rejoin_seconds) / 6))

    @property
    def stale_seconds(self) -> float:
        """A connected participant not refreshed for this long is on a dead instance."""
        return 3 * self.sweep_seconds


def call_not_found() -> NotFound:
    return NotFound("No such call (or it has ended).", code="call_not_found")


def _now() -> datetime:
    return datetime.now(UTC)


# --- reading --------------------------------------------------------------------------


async def _participants(uow: UnitOfWork, call_id: uuid.UUID) -> list[CallParticipant]:
    stmt = (
        select(CallParticipant)
        .where(col(CallParticipant.call_id) == call_id)
        .execution_options(populate_existing=True)
    )
    return list((await uow.session.scalars(stmt)).all())


def _state(call: Call, parts: Sequence[CallParticipant]) -> CallState:
    joined = sorted(
        (p for p in parts if p.status == CallStatus.joined and p.connection_id),
        key=lambda p: (p.joined_at or call.created_at, str(p.user_id)),
    )
    return CallState(
        id=call.id,
        conversation_id=call.conversation_id,
        started_by=call.started_by,
        video=call.video,
        state="ringing" if call.answered_at is None else "active",
        created_at=call.created_at,
        answered_at=call.answered_at,
        ring_until=call.ring_until,
        participants=[
            CallParticipantRead(
                user_id=p.user_id,
                connection_id=p.connection_id or "",
                joined_at=p.joined_at or call.created_at,
                connected=p.connected,
                audio=p.audio,
                video=p.video,
                screen=p.screen,
            )
            for p in joined
        ],
        ringing_user_ids=[p.user_id for p in parts if p.status == CallStatus.ringing],
    )


async def _live_call(uow: UnitOfWork, *, call_id: uuid.UUID, user_id: uuid.UUID) -> Call:
    """A call that has not ended, in a conversation the user is a member of, with its
    conversation's row locked (see the module's docstring); 404 `call_not_found` else."""
    found = await uow.session.get(Call, call_id)
    if found is None or found.ended_at is not None:
        raise call_not_found()
    try:
        await membership.require_member(uow, user_id=user_id, conversation_id=found.conversation_id)
    except NotFound:
        raise call_not_found() from None
    await membership.lock_conversation(uow, found.conversation_id)
    stmt = select(Call).where(col(Call.id) == call_id).execution_options(populate_existing=True)
    call = await uow.session.scalar(stmt)
    if call is None or call.ended_at is not None:
        raise call_not_found()
    return call


async def _user_in_call(
    uow: UnitOfWork, user_ids: Collection[uuid.UUID], *, other_than: uuid.UUID | None = None
) -> set[uuid.UUID]:
    """Which of these users are in a call now (joined, their socket there or not yet
    given up), other than `other_than`."""
    if not user_ids:
        return set()
    stmt = (
        select(col(CallParticipant.user_id))
        .join(Call, col(Call.id) == col(CallParticipant.call_id))
        .where(
            col(CallParticipant.user_id).in_(list(user_ids)),
            col(CallParticipant.status) == CallStatus.joined,
            col(Call.ended_at).is_(None),
        )
    )
    if other_than is not None:
        stmt = stmt.where(col(Call.id) != other_than)
    return set((await uow.session.scalars(stmt)).all())


async def active_calls(uow: UnitOfWork, *, user: User) -> list[CallState]:
    """The calls running or ringing in the user's conversations (a reloaded page shows
    "Rejoin" or the ringing dialog from these)."""
    stmt = (
        select(Call)
        .join(
            Member,
            and_(
                col(Member.conversation_id) == col(Call.conversation_id),
                col(Member.user_id) == user.id,
            ),
        )
        .where(col(Call.ended_at).is_(None))
        .order_by(col(Call.created_at))
    )
    calls = list((await uow.session.scalars(stmt)).all())
    if not calls:
        return []
    parts_stmt = select(CallParticipant).where(
        col(CallParticipant.call_id).in_([c.id for c in calls])
    )
    parts: dict[uuid.UUID, list[CallParticipant]] = {}
    for p in (await uow.session.scalars(parts_stmt)).all():
        parts.setdefault(p.call_id, []).append(p)
    return [_state(c, parts.get(c.id, [])) for c in calls]


# --- changing -------------------------------------------------------------------------


def _emit(
    uow: UnitOfWork,
    step: CallStep,
    call: Call,
    parts: Sequence[CallParticipant],
    *,
    user_id: uuid.UUID,
    recipients: Collection[uuid.UUID],
    connection_id: str | None = None,
) -> CallState:
    state = _state(call, parts)
    uow.emit(
        CallChanged(
            step=step,
            call=state,
            user_id=user_id,
            recipients=tuple(recipients),
            connection_id=connection_id,
        )
    )
    return state


async def invite(
    uow: UnitOfWork,
    *,
    user: User,
    conversation_id: uuid.UUID,
    connection_id: str,
    video: bool,
    policy: CallPolicy,
) -> CallState:
    """Start a call in a conversation, the caller in it from `connection_id`, and ring
    every other member who is not in a call already (those are `busy`). A call running in
    the conversation already is joined instead (as `accept` would): two people calling
    each other at once end up in one call."""
    await membership.require_member(uow, user_id=user.id, conversation_id=conversation_id)
    conversation = await membership.lock_conversation(uow, conversation_id)
    running = await uow.session.scalar(
        select(col(Call.id)).where(
            col(Call.conversation_id) == conversation_id, col(Call.ended_at).is_(None)
        )
    )
    if running is not None:
        return await accept(
            uow,
            user=user,
            call_id=running,
            connection_id=connection_id,
            video=video,
            policy=policy,
        )
    members = await membership.member_ids(uow, conversation_id=conversation_id)
    others = [m for m in members if m != user.id]
    if len(members) > MAX_CALL_MEMBERS:
        raise Unprocessable(
            f"Calls are for conversations of at most {MAX_CALL_MEMBERS} members; this one "
            f"has {len(members)}.",
            code="call_too_large",
        )
    if not others:
        raise Unprocessable("There is nobody else in this conversation to call.", code="call_empty")
    if await _user_in_call(uow, [user.id]):
        raise Conflict("You are in a call already: hang up first.", code="call_busy")
    busy = await _user_in_call(uow, others)
    now = _now()
    call = Call(
        conversation_id=conversation_id,
        started_by=user.id,
        video=video,
        created_at=now,
        ring_until=now + timedelta(seconds=policy.ring_seconds),
    )
    uow.session.add(call)
    parts = [
        CallParticipant(
            call_id=call.id,
            user_id=user.id,
            status=CallStatus.joined,
            connection_id=connection_id,
            connected=True,
            joined_at=now,
            seen_at=now,
            video=video,
        ),
        *(
            CallParticipant(
                call_id=call.id,
                user_id=m,
                status=CallStatus.busy if m in busy else CallStatus.ringing,
                seen_at=now,
            )
            for m in others
        ),
    ]
    uow.session.add_all(parts)
    await uow.session.flush()
    state = _emit(
        uow,
        "call.ringing",
        call,
        parts,
        user_id=user.id,
        recipients=[user.id],
        connection_id=connection_id,
    )
    rung = [m for m in others if m not in busy]
    if rung:
        _emit(
            uow,
            "call.invite",
            call,
            parts,
            user_id=user.id,
            recipients=rung,
            connection_id=connection_id,
        )
    for m in others:
        if m in busy:
            _emit(uow, "call.busy", call, parts, user_id=m, recipients=[user.id])
    if not rung:
        await _end(uow, call, outcome="busy", conversation=conversation)
    return state


async def accept(
    uow: UnitOfWork,
    *,
    user: User,
    call_id: uuid.UUID,
    connection_id: str,
    video: bool,
    policy: CallPolicy,
) -> CallState:
    """Join a call from this socket: answer it, take it up again from a new socket after a
    reload (while the old one is gone), or join a group call running already. A person is
    in a call from one socket: another socket of theirs that is there answers 409
    `call_answered_elsewhere` (of two devices answering at once, one wins)."""
    call = await _live_call(uow, call_id=call_id, user_id=user.id)
    now = _now()
    parts = await _participants(uow, call.id)
    mine = next((p for p in parts if p.user_id == user.id), None)
    if await _user_in_call(uow, [user.id], other_than=call.id):
        raise Conflict("You are in another call: hang up there first.", code="call_busy")
    if mine is None:
        mine = CallParticipant(call_id=call.id, user_id=user.id, status=CallStatus.left)
        uow.session.add(mine)
    elif (
        mine.status == CallStatus.joined
        and mine.connected
        and mine.connection_id != connection_id
        # not a socket of an instance that died (nobody refreshes it any more)
        and mine.seen_at > now - timedelta(seconds=policy.stale_seconds)
    ):
        raise Conflict(
            "You are in this call on another device already.", code="call_answered_elsewhere"
        )
    if mine.status != CallStatus.joined:
        mine.joined_at = now
        mine.video = video
        mine.audio = True
        mine.screen = False
    mine.status = CallStatus.joined
    mine.connection_id = connection_id
    mine.connected = True
    mine.seen_at = now
    if call.answered_at is None and user.id != call.started_by:
        call.answered_at = now
    await uow.session.flush()
    parts = await _participants(uow, call.id)
    members = await membership.member_ids(uow, conversation_id=call.conversation_id)
    return _emit(
        uow,
        "call.accept",
        call,
        parts,
        user_id=user.id,
        recipients=members,
        connection_id=connection_id,
    )


async def decline(uow: UnitOfWork, *, user: User, call_id: uuid.UUID) -> None:
    """Refuse a call that rings you (on every device). When nobody is left to ring and
    nobody answered, the call ends as declined."""
    call = await _live_call(uow, call_id=call_id, user_id=user.id)
    parts = await _participants(uow, call.id)
    mine = next((p for p in parts if p.user_id == user.id), None)
    if mine is None or mine.status != CallStatus.ringing:
        raise Conflict("This call is not ringing you.", code="call_not_ringing")
    mine.status = CallStatus.declined
    await uow.session.flush()
    members = await membership.member_ids(uow, conversation_id=call.conversation_id)
    _emit(uow, "call.decline", call, parts, user_id=user.id, recipients=members)
    if call.answered_at is None and not any(p.status == CallStatus.ringing for p in parts):
        await _end(uow, call, outcome="declined")


async def hangup(
    uow: UnitOfWork, *, user: User, call_id: uuid.UUID, connection_id: str | None = None
) -> None:
    """Leave a call (from any of your devices); a rung person hanging up declines. The
    caller hanging up before anyone answered ends it as missed; otherwise the call ends
    when nobody is left in it (in a direct chat: when either person leaves)."""
    call = await _live_call(uow, call_id=call_id, user_id=user.id)
    parts = await _participants(uow, call.id)
    mine = next((p for p in parts if p.user_id == user.id), None)
    if mine is not None and mine.status == CallStatus.ringing:
        await decline(uow, user=user, call_id=call_id)
        return
    if mine is None or mine.status != CallStatus.joined:
        raise Conflict("You are not in this call.", code="call_not_participant")
    mine.status = CallStatus.left
    mine.connected = False
    await uow.session.flush()
    members = await membership.member_ids(uow, conversation_id=call.conversation_id)
    _emit(
        uow,
        "call.hangup",
        call,
        parts,
        user_id=user.id,
        recipients=members,
        connection_id=connection_id,
    )
    await _end_if_over(uow, call, parts)


async def media(
    uow: UnitOfWork,
    *,
    user: User,
    call_id: uuid.UUID,
    connection_id: str,
    audio: bool,
    video: bool,
    screen: bool,
) -> None:
    """Record and announce the sender's microphone / camera / screen share state."""
    call = await _live_call(uow, call_id=call_id, user_id=user.id)
    parts = await _participants(uow, call.id)
    mine = _joined_from(parts, user.id, connection_id)
    mine.audio, mine.video, mine.screen = audio, video, screen
    uow.emit(
        CallMediaChanged(
            call_id=call.id,
            user_id=user.id,
            audio=audio,
            video=video,
            screen=screen,
            recipients=tuple(p.user_id for p in parts if p.status == CallStatus.joined),
        )
    )


def _joined_from(
    parts: Sequence[CallParticipant], user_id: uuid.UUID, connection_id: str
) -> CallParticipant:
    mine = next((p for p in parts if p.user_id == user_id), None)
    if mine is None or mine.status != CallStatus.joined or mine.connection_id != connection_id:
        raise Conflict(
            "This socket is not in the call: join it with `call.accept` first.",
            code="call_not_participant",
        )
    return mine


def check_signal_size(data: SignalDescription | SignalCandidate) -> None:
    """Refuse a description over MAX_SDP_BYTES or a candidate over MAX_CANDIDATE_BYTES."""
    if isinstance(data, SignalDescription):
        size, limit, what = len(data.sdp.encode()), MAX_SDP_BYTES, "SDP"
    else:
        cand = data.candidate
        size = len(cand.candidate.encode()) if cand is not None else 0
        limit, what = MAX_CANDIDATE_BYTES, "ICE candidate"
    if size > limit:
        raise PayloadTooLarge(
            f"The {what} is {size} bytes; at most {limit} are relayed.",
            code="call_signal_too_large",
        )


async def signal(
    uow: UnitOfWork,
    *,
    user: User,
    call_id: uuid.UUID,
    connection_id: str,
    to_user_id: uuid.UUID,
    data: SignalDescription | SignalCandidate,
) -> CallSignalled:
    """What to relay from this socket to another participant's (nothing is stored): the
    sender must be in the call from this socket, the receiver in it and connected."""
    check_signal_size(data)
    call = await uow.session.get(Call, call_id)
    if call is None or call.ended_at is not None:
        raise call_not_found()
    # Both ends must be members now (someone removed from the conversation mid-call
    # signals nobody and is signalled by nobody); a non-member learns nothing of the call.
    members = set(
        (
            await uow.session.scalars(
                select(col(Member.user_id)).where(
                    col(Member.conversation_id) == call.conversation_id,
                    col(Member.user_id).in_([user.id, to_user_id]),
                )
            )
        ).all()
    )
    if user.id not in members:
        raise call_not_found()
    parts = await _participants(uow, call.id)
    _joined_from(parts, user.id, connection_id)
    peer = next((p for p in parts if p.user_id == to_user_id), None)
    if (
        peer is None
        or to_user_id not in members
        or peer.status != CallStatus.joined
        or not peer.connected
        or not peer.connection_id
        or to_user_id == user.id
    ):
        raise Conflict(
            "That person is not in this call (or their socket is gone).",
            code="call_peer_not_in_call",
        )
    return CallSignalled(
        call_id=call.id,
        from_user_id=user.id,
        from_connection_id=connection_id,
        to_user_id=to_user_id,
        to_connection_id=peer.connection_id,
        data=data,
    )


# --- ending ---------------------------------------------------------------------------


async def _end_if_over(uow: UnitOfWork, call: Call, parts: Sequence[CallParticipant]) -> bool:
    joined = [p for p in parts if p.status == CallStatus.joined]
    if call.answered_at is None:
        # the caller left before anyone answered
        return not joined and await _end(uow, call, outcome="missed")
    conversation = await uow.session.get(Conversation, call.conversation_id)
    direct = conversation is not None and conversation.kind == ConversationKind.direct
    if not joined or (direct and len(joined) < 2):
        return await _end(uow, call, outcome="completed")
    return False


async def _end(
    uow: UnitOfWork,
    call: Call,
    *,
    outcome: CallOutcome,
    conversation: Conversation | None = None,
) -> bool:
    """End the call once (whoever gets here first) and record its `call.ended` event;
    False when it had ended already."""
    now = _now()
    ended = await uow.session.execute(
        update(Call)
        .where(col(Call.id) == call.id, col(Call.ended_at).is_(None))
        .values(ended_at=now, outcome=outcome)
        .execution_options(synchronize_session=False)
    )
    if ended.rowcount != 1:  # type: ignore[attr-defined]
        return False
    parts = await _participants(uow, call.id)
    participant_ids = sorted(
        (p.user_id for p in parts if p.joined_at is not None), key=lambda u: str(u)
    )
    await uow.session.execute(
        update(CallParticipant)
        .where(
            col(CallParticipant.call_id) == call.id,
            col(CallParticipant.status).in_([CallStatus.joined, CallStatus.ringing]),
        )
        .values(
            status=case(
                (col(CallParticipant.status) == CallStatus.ringing, CallStatus.missed),
                else_=CallStatus.left,
            ),
            connected=False,
        )
        .execution_options(synchronize_session=False)
    )
    duration = (
        max(0, int((now - call.answered_at).total_seconds()))
        if call.answered_at is not None and outcome == "completed"
        else None
    )
    record = EventCall(
        call_id=call.id,
        video=call.video,
        outcome=outcome,
        duration_seconds=duration,
        started_by=call.started_by,
        participant_ids=participant_ids,
    )
    event = await timeline.record(
        uow,
        conversation_id=call.conversation_id,
        type=EventType.call_ended,
        actor_id=call.started_by,
        data=record.model_dump(mode="json"),
        activity=True,
    )
    timeline.announce(uow, event, call=record)
    return True


async def disconnected(uow: UnitOfWork, *, connection_id: str) -> None:
    """A socket closed: a participant in a call from it is still in it, disconnected,
    and may take it up again from a new socket (`accept`) within CALL_REJOIN_SECONDS."""
    await uow.session.execute(
        update(CallParticipant)
        .where(
            col(CallParticipant.connection_id) == connection_id,
            col(CallParticipant.status) == CallStatus.joined,
        )
        .values(connected=False, seen_at=_now())
        .execution_options(synchronize_session=False)
    )


async def sweep(
    new_uow: Callable[[], UnitOfWork],
    policy: CallPolicy,
    *,
    connections: Collection[str] = (),
    now: datetime | None = None,
) -> int:
    """One round of an instance's sweeper: refresh the participants connected here, then
    end what is overdue (on any instance): calls nobody answered in time (missed), rung
    people of a running call who did not answer in time, participants gone for longer
    than CALL_REJOIN_SECONDS (they left; a call with nobody left ends). Returns how many
    calls it ended."""
    now = now or _now()
    if connections:
        async with new_uow() as uow:
            await uow.session.execute(
                update(CallParticipant)
                .where(
                    col(CallParticipant.connection_id).in_(list(connections)),
                    col(CallParticipant.status) == CallStatus.joined,
                    col(CallParticipant.connected).is_(True),
                )
                .values(seen_at=now)
                .execution_options(synchronize_session=False)
            )
            await uow.commit()
    gone_before = now - timedelta(seconds=policy.rejoin_seconds)
    async with new_uow() as uow:
        unanswered = (
            await uow.session.scalars(
                select(col(Call.id)).where(
                    col(Call.ended_at).is_(None),
                    col(Call.answered_at).is_(None),
                    col(Call.ring_until) <= now,
                )
            )
        ).all()
        gone = (
            await uow.session.execute(
                select(col(CallParticipant.call_id), col(CallParticipant.user_id))
                .join(Call, col(Call.id) == col(CallParticipant.call_id))
                .where(
                    col(Call.ended_at).is_(None),
                    col(CallParticipant.status) == CallStatus.joined,
                    col(CallParticipant.seen_at) < gone_before,
                )
            )
        ).all()
        still_ringing = (
            await uow.session.scalars(
                select(col(Call.id))
                .join(CallParticipant, col(CallParticipant.call_id) == col(Call.id))
                .where(
                    col(Call.ended_at).is_(None),
                    col(Call.answered_at).is_not(None),
                    col(Call.ring_until) <= now,
                    col(CallParticipant.status) == CallStatus.ringing,
                )
                .distinct()
            )
        ).all()
    ended = 0
    for call_id in unanswered:
        ended += await _in_own_uow(new_uow, _expire_ringing, call_id)
    for call_id, user_id in gone:
        ended += await _in_own_uow(new_uow, _give_up, call_id, user_id, gone_before)
    for call_id in still_ringing:
        await _in_own_uow(new_uow, _stop_ringing, call_id, now)
    return ended


async def _in_own_uow(new_uow: Callable[[], UnitOfWork], step: Any, *args: Any) -> int:
    try:
        async with new_uow() as uow:
            done = bool(await step(uow, *args))
            await uow.commit()
            return int(done)
    except Exception:
        log.exception("calls: sweeping call %s failed; retrying next round", args[0])
        return 0


async def _locked(uow: UnitOfWork, call_id: uuid.UUID) -> Call | None:
    call = await uow.session.get(Call, call_id)
    if call is None or call.ended_at is not None:
        return None
    await membership.lock_conversation(uow, call.conversation_id)
    stmt = select(Call).where(col(Call.id) == call_id).execution_options(populate_existing=True)
    call = await uow.session.scalar(stmt)
    return call if call is not None and call.ended_at is None else None


async def _expire_ringing(uow: UnitOfWork, call_id: uuid.UUID) -> bool:
    call = await _locked(uow, call_id)
    if call is None or call.answered_at is not None or call.ring_until > _now():
        return False
    return await _end(uow, call, outcome="missed")


async def _give_up(
    uow: UnitOfWork, call_id: uuid.UUID, user_id: uuid.UUID, gone_before: datetime
) -> bool:
    call = await _locked(uow, call_id)
    if call is None:
        return False
    parts = await _participants(uow, call.id)
    mine = next((p for p in parts if p.user_id == user_id), None)
    if mine is None or mine.status != CallStatus.joined or mine.seen_at >= gone_before:
        return False  # came back meanwhile
    mine.status = CallStatus.left
    mine.connected = False
    await uow.session.flush()
    members = await membership.member_ids(uow, conversation_id=call.conversation_id)
    _emit(uow, "call.hangup", call, parts, user_id=user_id, recipients=members)
    return await _end_if_over(uow, call, parts)


async def _stop_ringing(uow: UnitOfWork, call_id: uuid.UUID, now: datetime) -> bool:
    call = await _locked(uow, call_id)
    if call is None:
        return False
    parts = await _participants(uow, call.id)
    rung = [p for p in parts if p.status == CallStatus.ringing]
    for p in rung:
        p.status = CallStatus.missed
    await uow.session.flush()
    members = await membership.member_ids(uow, conversation_id=call.conversation_id)
    for p in rung:
        _emit(uow, "call.decline", call, parts, user_id=p.user_id, recipients=members)
    return False


class CallSweeper:
    """Each instance's sweeper task (started and stopped with the app): `sweep` every
    `policy.sweep_seconds`, so deadlines fire even when the instance that started a call
    is gone; `connections()` names the sockets in a call on this instance."""

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        policy: CallPolicy,
        connections: Callable[[], Collection[str]],
    ) -> None:
        self._new_uow = new_uow
        self._policy = policy
        self._connections = connections
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="call-sweeper")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._policy.sweep_seconds)
            try:
                await sweep(self._new_uow, self._policy, connections=set(self._connections()))
            except Exception:
                log.exception("calls: sweep failed; retrying next round")


# --- ICE servers ----------------------------------------------------------------------


def turn_credential(secret: str, *, user_id: uuid.UUID, expires_at: int) -> tuple[str, str]:
    """coturn's `use-auth-secret` (the TURN REST API): the username is
    `<expiry unix time>:<user>`, the password base64(HMAC-SHA1(secret, username))."""
    username = f"{expires_at}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(
    *,
    user: User,
    stun_urls: Sequence[str],
    turn_urls: Sequence[str],
    turn_secret: str | None,
    ttl_seconds: int,
    now: datetime | None = None,
) -> IceServers:
    """The ICE servers for a user's calls, with a TURN credential valid `ttl_seconds`."""
    now = now or _now()
    expires = int(now.timestamp()) + ttl_seconds
    servers: list[IceServer] = []
    if stun_urls:
        servers.append(IceServer(urls=list(stun_urls)))
    if turn_urls and turn_secret:
        username, credential = turn_credential(turn_secret, user_id=user.id, expires_at=expires)
        servers.append(IceServer(urls=list(turn_urls), username=username, credential=credential))
    return IceServers(ice_servers=servers, expires_at=datetime.fromtimestamp(expires, UTC))
