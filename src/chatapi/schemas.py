"""What the API accepts and returns. Shared by REST and the WebSocket gateway."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
)

USERNAME_RE = re.compile(r"^[a-z0-9_.\-]{3,32}$")
MAX_BODY_CHARS = 4000
# The largest seq a client may name (REST and WebSocket alike): the seq columns are
# 32-bit INTEGERs, so no seq is larger, and a larger number would fail in PostgreSQL.
MAX_SEQ = 2**31 - 1


def clean_text(value: str) -> str:
    """Refuse what no database stores as text: NUL (PostgreSQL refuses it; SQLite would
    keep it, so both refuse it here) and lone surrogates (not Unicode, cannot be
    encoded as UTF-8). Raises ValueError, which pydantic turns into a 422."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL (\\u0000) characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


# Every text field a client sends (REST schemas, WebSocket frames, query strings) is a
# CleanStr. Length limits go first: `Annotated[str, StringConstraints(...), Clean]`.
Clean = AfterValidator(clean_text)
CleanStr = Annotated[str, Clean]


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError("the time is out of range") from None


# A point in time a client names (a cursor): with its offset, within range in UTC.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


class Schema(BaseModel):
    """A response model: every field is always present, so OpenAPI marks them required."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )


# --- auth and users -------------------------------------------------------------------


DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64), Clean]


def _username(value: str) -> str:
    value = value.strip().lower()
    if not USERNAME_RE.fullmatch(value):
        raise ValueError("usernames are 3-32 characters of a-z, 0-9, '_', '.' and '-'")
    return value


# A new account's username: case-insensitive, stored lower-case.
Username = Annotated[
    str,
    Clean,
    AfterValidator(_username),
    Field(
        description="3-32 characters of a-z 0-9 _ . - (case-insensitive, stored lower-case)",
        examples=["alice"],
    ),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=1024), Clean]


class UserCreate(BaseModel):
    username: Username
    password: Password = Field(examples=["correct horse battery"])
    display_name: DisplayName | None = None
    email: EmailStr | None = Field(
        default=None, description="optional: where a password-reset link can be sent"
    )


class UserRead(Schema):
    id: uuid.UUID
    username: str
    display_name: str
    created_at: datetime
    online: bool = False
    last_seen_at: datetime | None = None
    email: str | None = Field(
        default=None, description="your own e-mail address: only in answers about yourself"
    )


class UserUpdate(BaseModel):
    """What to change; a field left out stays as it is (`email: null` removes it)."""

    display_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), Clean]
        | None
    ) = None
    email: EmailStr | None = None


class Accepted(Schema):
    detail: str


class PasswordResetRequest(BaseModel):
    login: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254), Clean
    ] = Field(description="your username or e-mail address")


class PasswordResetConfirm(BaseModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=128), Clean]
    new_password: Password


class AccountClosing(BaseModel):
    password: Annotated[str, StringConstraints(max_length=1024), Clean] | None = Field(
        default=None, description="your password (accounts with one must give it)"
    )


class PasswordChange(BaseModel):
    current_password: Annotated[str, StringConstraints(min_length=1, max_length=1024), Clean]
    new_password: Password = Field(examples=["a longer passphrase"])


class SessionRead(Schema):
    """A session signed in to your account: one sign-in on one device."""

    id: uuid.UUID = Field(description="the session's id (the `sid` of its access tokens)")
    created_at: datetime = Field(description="when it signed in")
    last_used_at: datetime = Field(
        description="its last sign-in or token refresh: in use within the access-token "
        "lifetime (ACCESS_TOKEN_TTL_SECONDS) of it"
    )
    browser: str | None = Field(description='from its User-Agent, e.g. "Firefox 133"')
    os: str | None = Field(description='from its User-Agent, e.g. "Windows"')
    user_agent: str = Field(description="its User-Agent as sent ('' when not known)")
    address: str = Field(description="the address it last refreshed from ('' when not known)")
    method: str = Field(description='how it signed in: "password" or the provider\'s name')
    current: bool = Field(description="the session of the token that asks")


class TokenPair(Schema):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the access token expires")


class RefreshRequest(BaseModel):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=4096), Clean]


# --- single sign-on (OpenID Connect) ---------------------------------------------------


class ProviderRead(Schema):
    name: str = Field(description="in the provider's URLs: /api/v1/auth/oidc/{name}/login")
    label: str = Field(description='the button says "Sign in with {label}"')


class AuthOptions(Schema):
    """How people sign in here."""

    password_login: bool = Field(description="false when OIDC_ONLY: no password sign-in")
    registration: bool = Field(description="false when OIDC_ONLY: no registration form")
    password_reset: bool = Field(
        default=False, description="password reset by e-mail is offered (SMTP is set up)"
    )
    providers: list[ProviderRead]


# A path of this site to come back to after signing in (anything else becomes "/").
ReturnTo = Annotated[str, StringConstraints(max_length=512), Clean]
OneTimeSecret = Annotated[str, StringConstraints(min_length=1, max_length=128), Clean]


class OidcLinkStart(BaseModel):
    return_to: ReturnTo = "/"


class OidcAuthorization(Schema):
    authorization_url: str = Field(description="send the browser here (the provider)")


class OidcExchange(BaseModel):
    code: OneTimeSecret = Field(description="the one-time code of /oidc/callback#code=...")


class OidcSignedIn(Schema):
    outcome: Literal["signed_in"] = "signed_in"
    return_to: str
    tokens: TokenPair


class OidcLinked(Schema):
    outcome: Literal["linked"] = "linked"
    return_to: str
    provider: str


class OidcSignupNeeded(Schema):
    """A person the provider vouched for, new here: they create an account (`POST
    /auth/oidc/signup`) or link one they have (`POST /auth/oidc/link-account`)."""

    outcome: Literal["signup"] = "signup"
    return_to: str
    ticket: str = Field(description="spent by signup or link-account; valid 15 minutes")
    provider: str
    proposed_username: str
    username_taken: bool = Field(description="the provider's username is someone else's here")
    display_name: str
    email: str | None


OidcOutcome = Annotated[
    OidcSignedIn | OidcLinked | OidcSignupNeeded, Field(discriminator="outcome")
]


class OidcSignup(BaseModel):
    ticket: OneTimeSecret
    username: Username
    display_name: DisplayName | None = None


class OidcLinkAccount(BaseModel):
    ticket: OneTimeSecret
    username: Annotated[str, StringConstraints(min_length=1, max_length=64), Clean]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024), Clean]


class IdentityRead(Schema):
    provider: str
    label: str
    email: str | None
    created_at: datetime
    last_used_at: datetime | None


class SignInMethods(Schema):
    """How this account signs in: a password, and the providers linked to it."""

    password: bool
    identities: list[IdentityRead]


class ErrorBody(BaseModel):
    detail: str
    code: str


class Health(Schema):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)


# --- media ------------------------------------------------------------------------------


class MediaRead(Schema):
    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None
    url: str = Field(description="signed, expiring URL; works without a header")
    thumbnail_url: str | None = None
    created_at: datetime | None = None


# --- conversations ----------------------------------------------------------------------

Role = Literal["owner", "admin", "member"]
ConversationKind = Literal["direct", "group"]
Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), Clean
]
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=64), Clean]
MAX_MESSAGE_CHARS = 20_000
MessageBody = Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARS), Clean]


class ConversationCreate(BaseModel):
    kind: ConversationKind
    title: Title | None = None
    member_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)


class ConversationUpdate(BaseModel):
    title: Title


class ConversationSettingsUpdate(BaseModel):
    mute: Literal["off", "1h", "8h", "1w", "always"] = Field(
        description="mute notifications for an hour, 8 hours, a week, until unmuted, or not"
    )


class ConversationSettings(Schema):
    muted: bool
    muted_until: datetime | None = Field(description="null when not muted or muted until unmuted")


class MemberAdd(BaseModel):
    user_id: uuid.UUID
    role: Literal["admin", "member"] = "member"


class MemberUpdate(BaseModel):
    role: Role


class MemberRead(Schema):
    user: UserRead
    role: Role
    last_read_seq: int
    last_delivered_seq: int
    joined_at: datetime | None = None


class MessageCreate(BaseModel):
    body: MessageBody = ""
    client_id: ClientId | None = None
    attachment_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10)
    reply_to_id: uuid.UUID | None = None


class MessageUpdate(BaseModel):
    body: MessageBody


class ReactionRead(Schema):
    """One emoji's reactions on a message."""

    emoji: str
    count: int
    user_ids: list[uuid.UUID] = Field(description="who reacted, earliest first")
    me: bool = Field(description="whether you reacted with this emoji")


class MessageRead(Schema):
    id: uuid.UUID
    conversation_id: uuid.UUID
    seq: int
    sender_id: uuid.UUID
    body: str
    client_id: str | None
    reply_to_id: uuid.UUID | None
    attachments: list[MediaRead] = Field(default_factory=list)
    created_at: datetime
    edited_at: datetime | None
    deleted: bool
    mentions: list[uuid.UUID] = Field(
        default_factory=list,
        description="members the body mentions by @username (in order of first mention)",
    )
    mentions_all: bool = Field(
        default=False, description="the body mentions everyone (@all, where allowed)"
    )
    reactions: list[ReactionRead] = Field(
        default_factory=list, description="by emoji, in the order first used"
    )
    pinned: bool = False


class FormerMembership(Schema):
    """Set on a conversation the caller left or was removed from: they read its history up
    to `left_seq` (their `member.removed` event), nothing after, and cannot send."""

    left_seq: int
    left_at: datetime
    removed_by: UserRead | None = Field(
        default=None, description="who removed the caller; null when they left themselves"
    )


class ConversationRead(Schema):
    id: uuid.UUID
    kind: ConversationKind
    title: str | None
    created_at: datetime
    last_seq: int
    last_activity_at: datetime | None = None
    members_count: int
    my_role: Role
    unread_count: int
    unread_mentions: int = Field(
        default=0,
        description="unread messages of others (after my read marker, not deleted) that"
        " mention me or @all",
    )
    last_read_seq: int = 0
    last_message: MessageRead | None = None
    other_user: UserRead | None = Field(
        default=None, description="for direct conversations: the other person"
    )
    former: FormerMembership | None = Field(
        default=None,
        description="set when the caller is no longer a member (read-only history)",
    )
    muted: bool = Field(
        default=False, description="you muted it: it notifies only when you are mentioned"
    )
    muted_until: datetime | None = Field(
        default=None, description="when your mute ends; null when muted until you unmute"
    )


class ReadMarker(BaseModel):
    seq: int = Field(ge=0, le=MAX_SEQ)


EventTypeName = Literal[
    "message.new",
    "message.edited",
    "message.deleted",
    "member.added",
    "member.removed",
    "member.role_changed",
    "conversation.updated",
    "message.reaction",
    "message.pinned",
    "message.unpinned",
]


class EventMember(BaseModel):
    user_id: uuid.UUID
    role: Role | None = None
    user: UserRead | None = None


class EventConversation(BaseModel):
    id: uuid.UUID
    title: str | None


class EventReaction(BaseModel):
    """What a `message.reaction` event changed: `user_id` added or removed `emoji`."""

    message_id: uuid.UUID
    emoji: str
    user_id: uuid.UUID
    added: bool


class PinRead(Schema):
    """A pinned message of a conversation."""

    message: MessageRead
    pinned_by: uuid.UUID | None
    pinned_at: datetime


class EventRead(BaseModel):
    """A numbered change in a conversation's timeline, as `GET …/events` returns it and the
    WebSocket pushes it to every member."""

    conversation_id: uuid.UUID
    seq: int
    type: EventTypeName
    created_at: datetime
    actor_id: uuid.UUID | None
    message: MessageRead | None = None
    member: EventMember | None = None
    conversation: EventConversation | None = None
    reaction: EventReaction | None = None


class SnippetPart(Schema):
    """A piece of a search hit's snippet: plain text, never markup. The pieces in order
    are the snippet; `match` marks the words that matched the query (to highlight)."""

    text: str
    match: bool


class SearchHit(Schema):
    """A message that matched a search, with the part of its text around the match."""

    conversation_id: uuid.UUID
    seq: int
    message: MessageRead
    snippet: list[SnippetPart]


class SearchResults(Schema):
    """A page of search hits, newest first, and the cursor of the next page (`before`)."""

    hits: list[SearchHit]
    next_before: str | None = Field(
        description="pass as `before` for the next (older) page; null on the last page"
    )


# --- notifications: settings and Web Push subscriptions -------------------------------


class UserSettingsRead(Schema):
    """Your own settings, the same on every device of yours."""

    notifications: bool = Field(
        description="push notifications at all (false: no push to any device)"
    )
    notification_previews: bool = Field(
        description='pushes show the message\'s text or file name (false: "New message", '
        "with the sender and the conversation still named)"
    )
    notification_sound: bool = Field(description="the web client plays a sound for new messages")


class UserSettingsUpdate(BaseModel):
    """Any subset of the settings; the others stay as they are."""

    model_config = ConfigDict(extra="forbid")

    notifications: bool | None = None
    notification_previews: bool | None = None
    notification_sound: bool | None = None


def b64url_decode(value: str) -> bytes:
    """base64url with or without padding (browsers send it without), or ValueError."""
    text = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9_\-]*={0,2}", text):
        raise ValueError("must be base64url (A-Z a-z 0-9 - _)")
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("must be base64url (A-Z a-z 0-9 - _)") from None


def _p256dh(value: str) -> str:
    raw = b64url_decode(value)
    if len(raw) != 65 or raw[0] != 4:
        raise ValueError(
            f"p256dh must be an uncompressed P-256 public key: 65 bytes, base64url "
            f"(this one decodes to {len(raw)} bytes)"
        )
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise ValueError("p256dh is not a point on the P-256 curve") from None
    return value.strip().rstrip("=")


def _auth_secret(value: str) -> str:
    raw = b64url_decode(value)
    if len(raw) != 16:
        raise ValueError(
            f"auth must be the 16-byte auth secret, base64url (this one decodes to "
            f"{len(raw)} bytes)"
        )
    return value.strip().rstrip("=")


PushEndpoint = Annotated[str, StringConstraints(min_length=1, max_length=2048), Clean]


class PushKeys(BaseModel):
    p256dh: Annotated[str, StringConstraints(max_length=100), AfterValidator(_p256dh)]
    auth: Annotated[str, StringConstraints(max_length=32), AfterValidator(_auth_secret)]


class PushSubscriptionCreate(BaseModel):
    """The browser's `PushSubscription.toJSON()`, as it is."""

    endpoint: PushEndpoint = Field(
        description="the push service URL: https:// (http:// only on loopback when "
        "PUSH_ALLOW_HTTP_LOOPBACK is on)"
    )
    # The browser's own name for it.
    expirationTime: float | None = Field(
        default=None, description="milliseconds since the epoch, or null (ignored)"
    )
    keys: PushKeys


class PushSubscriptionDelete(BaseModel):
    endpoint: PushEndpoint


class PushSubscriptionRead(Schema):
    """A push subscription stored for you (one browser or device)."""

    id: uuid.UUID
    endpoint: str
    created_at: datetime


class VapidPublicKey(Schema):
    public_key: str = Field(
        description="the VAPID public key: the uncompressed P-256 point, base64url, as "
        "PushManager.subscribe() wants it for applicationServerKey"
    )
