"""Domain events become frames here, and only here.

`envelope_for` turns each domain event into its protocol frame, serialized once, with the
routing header the hubs read (`envelope.py`); `EventPublisher` is what units of work and
the gateway publish domain events through.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from chatapi.domain import (
    ConversationCreated,
    ConversationSettingsChanged,
    DomainEvent,
    MarkersMoved,
    PresenceChanged,
    SessionsRevoked,
    SettingsChanged,
    TimelineAppended,
    TypingChanged,
)
from chatapi.models import EventType
from chatapi.realtime import protocol as p
from chatapi.realtime.broker import Broker
from chatapi.realtime.envelope import Envelope
from chatapi.schemas import EventRead

# Timeline events that change who belongs to the conversation (hubs follow them).
MEMBERSHIP_EVENTS = (EventType.member_added.value, EventType.member_removed.value)


def envelope_for(event: DomainEvent) -> Envelope:
    """The broker envelope of a domain event: its frame and who it is routed to."""
    match event:
        case TimelineAppended(event=read):
            return _timeline_envelope(read)
        case ConversationCreated():
            # A notice that makes its recipients members from now on.
            created = p.ConversationCreatedFrame(
                conversation_id=event.conversation_id, kind=event.kind, title=event.title
            )
            return Envelope(
                kind="notice",
                frame=created.text().encode(),
                conversation_id=event.conversation_id,
                user_ids=event.member_ids,
                membership="added",
            )
        case MarkersMoved():
            receipt = p.ReceiptFrame(
                conversation_id=event.conversation_id,
                user_id=event.user_id,
                read_seq=event.read_seq,
                delivered_seq=event.delivered_seq,
            )
            return Envelope(
                kind="receipt",
                frame=receipt.text().encode(),
                conversation_id=event.conversation_id,
                actor_id=event.user_id,
            )
        case TypingChanged():
            typing = p.TypingFrame(
                conversation_id=event.conversation_id, user_id=event.user_id, state=event.state
            )
            return Envelope(
                kind="typing",
                frame=typing.text().encode(),
                conversation_id=event.conversation_id,
                actor_id=event.user_id,
            )
        case PresenceChanged():
            presence = p.PresenceFrame(
                user_id=event.user_id, online=event.online, last_seen_at=event.last_seen_at
            )
            return Envelope(
                kind="presence",
                frame=presence.text().encode(),
                user_ids=event.recipients,
                actor_id=event.user_id,
            )
        case SettingsChanged():
            updated = p.SettingsUpdated(settings=event.settings)
            return Envelope(kind="notice", frame=updated.text().encode(), user_ids=(event.user_id,))
        case ConversationSettingsChanged():
            changed = p.ConversationSettingsFrame(
                conversation_id=event.conversation_id,
                muted=event.muted,
                muted_until=event.muted_until,
            )
            return Envelope(kind="notice", frame=changed.text().encode(), user_ids=(event.user_id,))
        case SessionsRevoked():
            # Not a frame: the hubs close the session's sockets with this reason (4401).
            return Envelope(
                kind="revoke",
                frame=p.SESSION_REVOKED_REASON.encode(),
                user_ids=(event.user_id,),
                session_id=event.session_id,
                keep_session_id=event.keep_session_id,
            )


def _timeline_envelope(read: EventRead) -> Envelope:
    # Member events carry the member in the header, so hubs update their membership
    # caches in seq order.
    membership = ""
    user_ids: tuple[uuid.UUID, ...] = ()
    if read.type in MEMBERSHIP_EVENTS and read.member is not None:
        membership = "added" if read.type == EventType.member_added.value else "removed"
        user_ids = (read.member.user_id,)
    return Envelope(
        kind="event",
        frame=read.model_dump_json().encode(),
        conversation_id=read.conversation_id,
        seq=read.seq,
        user_ids=user_ids,
        membership=membership,
        actor_id=read.actor_id,
        # Media links are signed, and reactions' `me` set, for each recipient by the hub
        # (realtime/personal.py).
        personal=bool(read.message and (read.message.attachments or read.message.reactions)),
    )


class EventPublisher:
    """Publishes domain events through the broker, each as its envelope."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    async def publish(self, event: DomainEvent) -> None:
        await self._broker.publish(envelope_for(event))

    async def publish_many(self, events: Sequence[DomainEvent]) -> None:
        """What one commit announces, in order, in one go (one Redis round trip)."""
        await self._broker.publish_many([envelope_for(event) for event in events])
