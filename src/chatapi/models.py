"""SQLModel tables: the schema. Alembic migrations are generated from these and read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ConversationKind(StrEnum):
    direct = "direct"
    group = "group"


class Role(StrEnum):
    owner = "owner"
    admin = "admin"
    member = "member"


class EventType(StrEnum):
    message_new = "message.new"
    message_edited = "message.edited"
    message_deleted = "message.deleted"
    member_added = "member.added"
    member_removed = "member.removed"
    member_role_changed = "member.role_changed"
    conversation_updated = "conversation.updated"
    message_reaction = "message.reaction"
    message_pinned = "message.pinned"
    message_unpinned = "message.unpinned"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    username: str = Field(max_length=32, unique=True)  # stored lower-case
    display_name: str = Field(max_length=64)
    password_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Optional, stored lower-case; where a password-reset link goes (never shown to others).
    email: str | None = Field(default=None, max_length=254, unique=True, index=True)


class RefreshToken(SQLModel, table=True):
    """One issued refresh token. Only its SHA-256 is stored; `family_id` ties a rotation chain."""

    __tablename__ = "refresh_tokens"

    id: uuid.UUID = Field(primary_key=True)  # the token's jti
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    family_id: uuid.UUID = Field(index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PasswordReset(SQLModel, table=True):
    """A password-reset link sent by e-mail: single use, valid 30 minutes. Only the
    SHA-256 of its secret is stored."""

    __tablename__ = "password_resets"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginSession(SQLModel, table=True):
    """One sign-in on a device, as its owner's list of sessions shows it. Its id is the
    refresh-token family's (the `sid` of its access tokens); it is signed in while that
    family has an unspent, unrevoked, unexpired token."""

    __tablename__ = "login_sessions"

    id: uuid.UUID = Field(primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The sign-in, then each token refresh: the device was in use then.
    last_used_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    user_agent: str = Field(default="", max_length=512)
    address: str = Field(default="", max_length=64)
    # "password", or the OpenID Provider's name.
    method: str = Field(default="password", max_length=32)


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=16)
    title: str | None = Field(default=None, max_length=128)
    # "<smaller uuid>:<larger uuid>" for direct conversations: a unique key, so two
    # concurrent "open a direct chat" requests end up with one conversation.
    direct_key: str | None = Field(default=None, max_length=80, unique=True)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_activity_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    last_seq: int = Field(default=0)


class Member(SQLModel, table=True):
    __tablename__ = "conversation_members"

    conversation_id: uuid.UUID = Field(
        foreign_key="conversations.id", primary_key=True, ondelete="CASCADE"
    )
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, index=True)
    role: str = Field(max_length=16)
    joined_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_read_seq: int = Field(default=0)
    last_delivered_seq: int = Field(default=0)
    # Notifications muted until then (MUTED_FOREVER: until unmuted); None: not muted.
    muted_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class FormerMember(SQLModel, table=True):
    """Someone who left a group or was removed from it, and may still read its history up
    to `left_seq` (the seq of their `member.removed` event), nothing after. Gone when they
    rejoin or forget the conversation. What they saw then is kept here, not re-read: the
    group's title, their role and their read marker as they were at that moment."""

    __tablename__ = "conversation_former_members"

    conversation_id: uuid.UUID = Field(
        foreign_key="conversations.id", primary_key=True, ondelete="CASCADE"
    )
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, index=True)
    left_seq: int
    left_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    removed_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    role: str = Field(max_length=16)
    title: str | None = Field(default=None, max_length=128)
    last_read_seq: int = Field(default=0)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("conversation_id", "seq"),
        sa.UniqueConstraint("conversation_id", "sender_id", "client_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    conversation_id: uuid.UUID = Field(foreign_key="conversations.id", ondelete="CASCADE")
    seq: int
    sender_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    body: str = Field(default="", sa_type=sa.Text)
    client_id: str | None = Field(default=None, max_length=64)
    reply_to_id: uuid.UUID | None = Field(default=None, foreign_key="messages.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Who the body mentions (member user ids, as strings, in order of first mention; null
    # when none) and whether it mentions @all: parsed once on send and on edit
    # (services/messages/mentions.py), so readers need not parse. `MessageMention` rows
    # index the same per user, for the unread-mentions count.
    mentions: list[str] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    mentions_all: bool = Field(default=False)


class MessageMention(SQLModel, table=True):
    """One member mentioned by name in one message: the index behind each member's
    `unread_mentions` (a key lookup per unread message). Rewritten when the message is
    edited, dropped when it is deleted."""

    __tablename__ = "message_mentions"

    message_id: uuid.UUID = Field(foreign_key="messages.id", primary_key=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True)


class Event(SQLModel, table=True):
    """The conversation timeline: one row per change, keyed by (conversation, seq).

    Events reference the message or member they concern instead of copying it, so a
    catch-up always shows the current state (a deleted message's body is gone there too).
    """

    __tablename__ = "conversation_events"

    conversation_id: uuid.UUID = Field(
        foreign_key="conversations.id", primary_key=True, ondelete="CASCADE"
    )
    seq: int = Field(primary_key=True)
    type: str = Field(max_length=32)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    message_id: uuid.UUID | None = Field(default=None, foreign_key="messages.id")
    subject_user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    data: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)


class Reaction(SQLModel, table=True):
    """One person's emoji on a message: at most one row per (message, user, emoji)."""

    __tablename__ = "message_reactions"

    message_id: uuid.UUID = Field(foreign_key="messages.id", primary_key=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, index=True)
    emoji: str = Field(max_length=64, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Pin(SQLModel, table=True):
    """A message pinned in its conversation (at most once); gone when the message is deleted."""

    __tablename__ = "message_pins"

    message_id: uuid.UUID = Field(foreign_key="messages.id", primary_key=True, ondelete="CASCADE")
    conversation_id: uuid.UUID = Field(
        foreign_key="conversations.id", index=True, ondelete="CASCADE"
    )
    pinned_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    pinned_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Media(SQLModel, table=True):
    """An uploaded file. `message_id` is set once it is attached to a message."""

    __tablename__ = "media"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    uploader_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=128)
    size: int = Field(sa_type=sa.BigInteger)
    width: int | None = None
    height: int | None = None
    storage_key: str = Field(max_length=128)
    thumbnail_key: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    message_id: uuid.UUID | None = Field(
        default=None, foreign_key="messages.id", index=True, ondelete="SET NULL"
    )
    position: int = Field(default=0)


class OidcIdentity(SQLModel, table=True):
    """An account's way in through an OpenID Provider: the provider's `iss` and `sub` name
    the person there (the only stable pair OpenID Connect promises). At most one per
    provider per account."""

    __tablename__ = "oidc_identities"
    __table_args__ = (
        sa.UniqueConstraint("issuer", "subject"),
        sa.UniqueConstraint("user_id", "issuer"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    # The configured provider's name when it was linked (shown if it leaves the configuration).
    provider: str = Field(max_length=32)
    issuer: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    # How the provider named the person when it was linked (shown in settings).
    email: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OidcLoginStage(StrEnum):
    authorizing = "authorizing"  # at the provider; `secret_hash` is the state's
    handed_off = "handed_off"  # back; `secret_hash` is the web client's one-time code's
    signing_up = "signing_up"  # a new person choosing a username; the signup ticket's


class OidcLogin(SQLModel, table=True):
    """A sign-in with an OpenID Provider in progress, kept server-side through its one-time
    steps. Each step is taken by swapping `secret_hash` in one conditional UPDATE, so every
    secret (state, hand-off code, signup ticket) works once; every step must come from the
    browser that started it (`browser_hash`, an HttpOnly cookie's SHA-256)."""

    __tablename__ = "oidc_logins"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    stage: str = Field(max_length=16)
    secret_hash: str = Field(max_length=64, unique=True)
    browser_hash: str = Field(max_length=64)
    provider: str = Field(max_length=32)
    purpose: str = Field(max_length=8)  # "login" or "link"
    return_to: str = Field(max_length=512)
    # Linking: the account that links. Handed off after a sign-in: the account signed in.
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="CASCADE")
    nonce: str | None = Field(default=None, max_length=128)
    code_verifier: str | None = Field(default=None, max_length=128)
    # Handed off: "signed_in", "linked", "signup" or "failed".
    outcome: str | None = Field(default=None, max_length=16)
    subject: str | None = Field(default=None, max_length=255)
    # What the provider said of the person (signup), or the error (failed).
    detail: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


# The full-text search index, made by hand in its migration (message_search) because it is
# not portable SQL: SQLite's FTS5 table `messages_fts` (and its shadow tables), PostgreSQL's
# generated column `messages.search_vector` and its indexes. No ORM code maps them.
SEARCH_INDEX_OBJECTS = ("messages_fts", "search_vector", "ix_messages_search")


def is_search_index(name: str | None) -> bool:
    """Whether a schema object is part of the search index (Alembic's comparison skips it)."""
    return name is not None and name.startswith(SEARCH_INDEX_OBJECTS)


class UserSettings(SQLModel, table=True):
    """A person's own preferences, the same on every device of theirs (no row: the
    defaults, everything on)."""

    __tablename__ = "user_settings"

    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    # Push notifications to any device at all.
    notifications: bool = Field(default=True)
    # Pushes may show the message's text (or file name); off: "New message" only.
    notification_previews: bool = Field(default=True)
    # The web client plays a sound for a new message.
    notification_sound: bool = Field(default=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PushSubscription(SQLModel, table=True):
    """One browser's Web Push subscription (RFC 8030): where to send a push and the keys to
    encrypt it with (RFC 8291). Unique per endpoint: a browser posting it again moves it to
    whoever posts. Bound to the login session that posted it, so signing that device out
    deletes it."""

    __tablename__ = "push_subscriptions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    # The refresh-token family (login session) that posted it; None for tokens without one.
    session_id: uuid.UUID | None = Field(default=None, index=True)
    endpoint: str = Field(max_length=2048, unique=True)
    # The browser's ECDH public key (65 bytes) and auth secret (16 bytes), base64url.
    p256dh: str = Field(max_length=100)
    auth: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
