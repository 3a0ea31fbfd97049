"""Domain events: what the services announce, typed, with no wire format.

Services emit them into the unit of work (`UnitOfWork.emit`); once it commits, the unit
of work hands each to its publisher, `realtime.outbound.EventPublisher`, which turns it
into its WebSocket frame and routing header in one place and gives it to the broker. A
rollback drops them. Ephemeral signals (typing, presence) are domain events too, published
by the gateway without a transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from chatapi.schemas import ConversationKind, EventRead, UserSettingsRead

TypingState = Literal["start", "stop"]


@dataclass(frozen=True, slots=True)
class TimelineAppended:
    """A change numbered in a conversation's timeline (`message.new`, `member.added`, ...),
    as every member reads it."""

    event: EventRead


@dataclass(frozen=True, slots=True)
class ConversationCreated:
    """A conversation exists and these users are its first members (it has no seq yet)."""

    conversation_id: uuid.UUID
    kind: ConversationKind
    title: str | None
    member_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True, slots=True)
class MarkersMoved:
    """A member's read/delivered markers moved forward."""

    conversation_id: uuid.UUID
    user_id: uuid.UUID
    read_seq: int
    delivered_seq: int


@dataclass(frozen=True, slots=True)
class TypingChanged:
    """A member started or stopped typing (never stored)."""

    conversation_id: uuid.UUID
    user_id: uuid.UUID
    state: TypingState


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """A user came online or went offline; `recipients` share a conversation with them."""

    user_id: uuid.UUID
    online: bool
    last_seen_at: datetime | None
    recipients: tuple[uuid.UUID, ...]


@dataclass(frozen=True, slots=True)
class ConversationSettingsChanged:
    """A member changed their own settings for a conversation (mute): every device of
    theirs follows at once."""

    conversation_id: uuid.UUID
    user_id: uuid.UUID
    muted: bool
    muted_until: datetime | None


@dataclass(frozen=True, slots=True)
class SessionsRevoked:
    """Login sessions of a user were revoked (logout, a reused refresh token, account
    deletion; a password change some day): their access tokens stop working and their
    open sockets close, on every instance. `session_id` None means all of the user's
    sessions except `keep_session_id` (if any)."""

    user_id: uuid.UUID
    session_id: uuid.UUID | None = None
    keep_session_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class SettingsChanged:
    """A user changed their own settings: their other devices follow at once."""

    user_id: uuid.UUID
    settings: UserSettingsRead


DomainEvent = (
    TimelineAppended
    | ConversationCreated
    | MarkersMoved
    | TypingChanged
    | PresenceChanged
    | SessionsRevoked
    | SettingsChanged
    | ConversationSettingsChanged
)
