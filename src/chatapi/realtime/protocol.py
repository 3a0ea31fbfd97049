"""The WebSocket contract of `/api/v1/ws`, in one module: every frame a client may send,
every frame the server writes, and the close codes.

Client frames are a pydantic discriminated union on `type`; `parse_client_frame` turns
raw text into one of them or raises `FrameError` carrying the `error` frame's code, so a
bad frame becomes an `error` frame and never a dead socket. The server writes only the
models of `SERVER_FRAMES` (timeline events are `schemas.EventRead`, the same model the
REST events endpoint returns). `asyncapi.py` publishes all of them as an AsyncAPI
document (`/asyncapi.json`), from which the web client's types are generated.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from chatapi.domain import TypingState
from chatapi.schemas import (
    MAX_SEQ,
    Clean,
    ClientId,
    ConversationKind,
    EventRead,
    MessageBody,
    MessageRead,
    UserRead,
    UserSettingsRead,
)

# Close codes (RFC 6455 ones and the application's 4xxx ones).
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_FRAME_TOO_LARGE = 1009
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_ORIGIN_NOT_ALLOWED = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_RATE_LIMITED = 4429
CLOSE_TOO_MANY_SOCKETS = 4430
# Why a socket of a revoked session (logout, account closed) is closed with 4401.
SESSION_REVOKED_REASON = "session revoked"

# Every close code a client may meet, and what it means (published in /asyncapi.json).
CLOSE_CODES: dict[int, str] = {
    1000: "normal closure",
    1003: "a binary frame was sent; the protocol is JSON text frames",
    1009: "a frame was larger than WS_MAX_FRAME_BYTES",
    1011: "the server failed to set the session up; reconnect",
    1012: "the server is restarting (sent by uvicorn on shutdown); reconnect and catch up",
    1013: "the socket did not keep up with its outgoing frames; reconnect and catch up",
    4401: "invalid or expired token, a token of another user, or the session was revoked "
    "(logout, account closed)",
    4403: "origin not allowed (normally refused with HTTP 403 at the handshake)",
    4408: "no `auth` frame within WS_AUTH_TIMEOUT_SECONDS",
    4429: "rate limit exceeded repeatedly",
    4430: "this user already has WS_MAX_SOCKETS_PER_USER sockets open (on all instances)",
}


# --- client frames -------------------------------------------------------------------------


class _ClientFrame(BaseModel):
    # Unknown fields are ignored so that clients can be newer than the server.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Auth(_ClientFrame):
    """Authenticate the socket, first within the auth timeout, then again to renew."""

    type: Literal["auth"]
    token: Annotated[str, StringConstraints(min_length=1, max_length=8192), Clean]


class MessageSend(_ClientFrame):
    """Send a message; answered by `message.ack` after commit (idempotent by client_id)."""

    type: Literal["message.send"]
    conversation_id: uuid.UUID
    client_id: ClientId
    body: MessageBody = ""
    attachment_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10)
    reply_to_id: uuid.UUID | None = None


class Typing(_ClientFrame):
    """Start or stop typing; a `start` not renewed within the typing TTL expires as `stop`."""

    type: Literal["typing"]
    conversation_id: uuid.UUID
    state: TypingState


class Read(_ClientFrame):
    """Move the read marker (and the delivered one) forward to `seq`."""

    type: Literal["read"]
    conversation_id: uuid.UUID
    seq: int = Field(ge=0, le=MAX_SEQ)


class Delivered(_ClientFrame):
    """Move the delivered marker forward to `seq`."""

    type: Literal["delivered"]
    conversation_id: uuid.UUID
    seq: int = Field(ge=0, le=MAX_SEQ)


class Ping(_ClientFrame):
    """Answered by `pong`; clients use it to detect dead connections."""

    type: Literal["ping"]


CLIENT_FRAMES: tuple[type[BaseModel], ...] = (Auth, MessageSend, Typing, Read, Delivered, Ping)
ClientFrame = Annotated[
    Auth | MessageSend | Typing | Read | Delivered | Ping, Field(discriminator="type")
]


def frame_types(frame: type[BaseModel]) -> tuple[str, ...]:
    """The `type` values a frame model can carry (several for timeline events)."""
    return tuple(get_args(frame.model_fields["type"].annotation))


CLIENT_TYPES: tuple[str, ...] = tuple(t for frame in CLIENT_FRAMES for t in frame_types(frame))
_client_adapter: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)


class FrameError(Exception):
    """A frame the gateway cannot act on; becomes an `error` frame, the socket stays open."""

    def __init__(self, code: str, detail: str, *, client_id: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.client_id = client_id


def parse_client_frame(text: str | bytes) -> ClientFrame:
    """One client frame from its JSON text, or `FrameError` saying what is wrong."""
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise FrameError("invalid_json", "A frame is one JSON object; this was not JSON.") from exc
    if not isinstance(raw, dict):
        raise FrameError("invalid_frame", "A frame is one JSON object with a `type`.")
    client_id = raw.get("client_id") if isinstance(raw.get("client_id"), str) else None
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise FrameError("invalid_frame", "The frame has no `type`.", client_id=client_id)
    if kind not in CLIENT_TYPES:
        raise FrameError(
            "unknown_type",
            f"Unknown frame type {kind[:40]!r}; expected one of: {', '.join(CLIENT_TYPES)}.",
            client_id=client_id,
        )
    try:
        return _client_adapter.validate_python(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'][1:]) or 'frame'}: {err['msg']}"
            for err in exc.errors(include_url=False)[:5]
        )
        raise FrameError(
            "validation_error", f"Invalid `{kind}` frame: {problems}.", client_id=client_id
        ) from exc


# --- server frames -------------------------------------------------------------------------


class _ServerFrame(BaseModel):
    # The server writes every field, defaults included: the published (serialization)
    # schema marks them required, so `type` is always there to discriminate on.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    def text(self) -> str:
        """The frame as the JSON text written to the socket."""
        return orjson.dumps(self.model_dump(mode="json")).decode()


class Ready(_ServerFrame):
    """Authenticated: who you are and this socket's session id."""

    type: Literal["ready"] = "ready"
    user: UserRead
    session_id: str


class AuthRenewed(_ServerFrame):
    """A later `auth` frame renewed the socket's token: the new expiry."""

    type: Literal["auth.renewed"] = "auth.renewed"
    expires_at: datetime


class MessageAck(_ServerFrame):
    """The message of a `message.send` is committed (sent to the sending socket only)."""

    type: Literal["message.ack"] = "message.ack"
    client_id: str
    message: MessageRead


class TypingFrame(_ServerFrame):
    """Someone else in the conversation started or stopped typing."""

    type: Literal["typing"] = "typing"
    conversation_id: uuid.UUID
    user_id: uuid.UUID
    state: TypingState


class ReceiptFrame(_ServerFrame):
    """A member's read/delivered markers moved (to every member, the mover's own sockets
    included)."""

    type: Literal["receipt"] = "receipt"
    conversation_id: uuid.UUID
    user_id: uuid.UUID
    read_seq: int
    delivered_seq: int


class PresenceFrame(_ServerFrame):
    """A user you share a conversation with came online or went offline."""

    type: Literal["presence"] = "presence"
    user_id: uuid.UUID
    online: bool
    last_seen_at: datetime | None


class ConversationCreatedFrame(_ServerFrame):
    """A conversation you belong to was just created (not a timeline event: no seq; its
    first event is seq 1)."""

    type: Literal["conversation.created"] = "conversation.created"
    conversation_id: uuid.UUID
    kind: ConversationKind
    title: str | None


class SettingsUpdated(_ServerFrame):
    """You changed your settings (on this device or another): all of them, as they are
    now (to every socket of yours)."""

    type: Literal["settings.updated"] = "settings.updated"
    settings: UserSettingsRead


class ConversationSettingsFrame(_ServerFrame):
    """Your own settings for a conversation changed (on this device or another): it is
    muted until `muted_until` (null: until unmuted), or not muted. Sent to your sockets only."""

    type: Literal["conversation.settings"] = "conversation.settings"
    conversation_id: uuid.UUID
    muted: bool
    muted_until: datetime | None


class ErrorFrame(_ServerFrame):
    """A frame could not be acted on; the socket stays open."""

    type: Literal["error"] = "error"
    code: str
    detail: str
    client_id: str | None = None


class Pong(_ServerFrame):
    """The answer to `ping`."""

    type: Literal["pong"] = "pong"


# Timeline events (`message.new`, `member.added`, ...) are `EventRead`, shared with REST.
SERVER_FRAMES: tuple[type[BaseModel], ...] = (
    Ready,
    AuthRenewed,
    MessageAck,
    EventRead,
    TypingFrame,
    ReceiptFrame,
    PresenceFrame,
    ConversationCreatedFrame,
    SettingsUpdated,
    ConversationSettingsFrame,
    ErrorFrame,
    Pong,
)
ServerFrame = Annotated[
    Ready
    | AuthRenewed
    | MessageAck
    | EventRead
    | TypingFrame
    | ReceiptFrame
    | PresenceFrame
    | ConversationCreatedFrame
    | SettingsUpdated
    | ConversationSettingsFrame
    | ErrorFrame
    | Pong,
    Field(discriminator="type"),
]

PONG_TEXT = Pong().text()


def error_text(code: str, detail: str, client_id: str | None = None) -> str:
    return ErrorFrame(code=code, detail=detail, client_id=client_id).text()
