"""`GET /api/v1/events/stream`: the caller's timeline events as Server-Sent Events, for
curl, httpie and scripts that do not speak the WebSocket protocol (docs/protocol.md,
"Event stream").

A realtime consumer like a socket: it is a sink of this process's hub
(`realtime/stream.StreamSink`), so it gets what the user's sockets get, by the same rules
(membership, seq order, revoked sessions, several instances over Redis). It catches up
from the timeline (`services.events`, as the events endpoint does) and goes on live: it
attaches to the hub first, then replays, then drops what the replay already sent.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Receive, Scope, Send

from chatapi.api import errors
from chatapi.api.deps import StateDep, oauth2_scheme
from chatapi.api.state import AppState
from chatapi.errors import BadRequest, NotAuthenticated
from chatapi.models import EventType, User
from chatapi.realtime import stream as s
from chatapi.schemas import MAX_SEQ, EventRead
from chatapi.security import TokenClaims
from chatapi.services import auth, event_stream, events, sessions

router = APIRouter(tags=["events"])

# A write to a reader that takes no bytes at all for this long ends the stream.
SEND_TIMEOUT_SECONDS = 60.0

_EXAMPLE = (
    "id: 01b1…:7\n"
    "event: message.new\n"
    'data: {"conversation_id":"01b1…","seq":7,"type":"message.new",…}\n\n'
    ": keep-alive\n\n"
)


class _StreamResponse(EventSourceResponse):
    """The SSE response, which lets go of the hub's sink however the response ends (even
    when the client left before the first byte)."""

    def __init__(
        self, content: AsyncIterator[ServerSentEvent], *, done: Callable[[], None], **kw: Any
    ) -> None:
        super().__init__(content, **kw)
        self._done = done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._done()


@router.get(
    "/events/stream",
    response_class=EventSourceResponse,
    response_model=None,
    responses={
        200: {
            "description": "Server-Sent Events: `id: <cursor>`, `event: <event type>`, "
            "`data: <Event JSON>` per timeline event; `: keep-alive` comments; a last "
            "`event: stream.end` (`data: {reason, detail}`) when the server ends it.",
            "content": {"text/event-stream": {"schema": {"type": "string"}, "example": _EXAMPLE}},
        },
        **errors(400, 401, 404),
    },
)
async def stream_events(
    state: StateDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    conversation_id: Annotated[
        uuid.UUID | None,
        Query(description="follow this conversation only (default: every one of yours)"),
    ] = None,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_SEQ,
            description="with `conversation_id`: start after this seq (default: from now)",
        ),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="resume after this cursor: the `id` of the last event you got",
        ),
    ] = None,
) -> EventSourceResponse:
    """Follow your timeline events live as Server-Sent Events (`text/event-stream`): every
    conversation of yours, or `conversation_id`'s. Each event's `id` is a cursor: send it
    back as `Last-Event-ID` to resume with nothing lost and nothing repeated (or
    `?after=<seq>` with `conversation_id`). The stream ends when your session is revoked,
    your token expires, you are removed from the conversation you follow, or you read too
    slowly; resume from the last `id`."""
    if not token:
        raise NotAuthenticated("Not authenticated: send `Authorization: Bearer <access_token>`.")
    revocations = state.revocations
    generation = revocations.generation
    async with state.read_uow() as uow:
        user, claims = await auth.authenticate_with_claims(
            uow, token=token, key=state.token_policy.key, revocations=revocations
        )
    cursor = _cursor(last_event_id)
    if after is not None and conversation_id is None:
        raise BadRequest(
            "`after` is a seq of one conversation: give `conversation_id` too.",
            code="after_needs_conversation_id",
        )
    resume_after = after
    if cursor is not None and conversation_id is not None:
        if conversation_id not in cursor:
            raise BadRequest(
                "Last-Event-ID does not name the conversation of this stream.",
                code="invalid_last_event_id",
            )
        resume_after = cursor[conversation_id]

    settings = state.settings
    sink = s.StreamSink(
        user.id,
        claims.sid,
        only=conversation_id,
        max_frames=settings.ws_outbox_size,
        max_bytes=settings.ws_outbox_bytes,
    )
    hub = state.hub
    # Live first, then the catch-up: whatever commits meanwhile is in one or the other.
    await hub.attach(sink, None)
    try:
        async with state.read_uow() as uow:
            if revocations.generation != generation and await sessions.is_revoked(
                uow, revocations, claims
            ):
                raise sessions.session_ended()
            if conversation_id is not None:
                one = await event_stream.start_one(
                    uow, user_id=user.id, conversation_id=conversation_id, after_seq=resume_after
                )
                starts = {conversation_id: one}
            else:
                starts = await event_stream.start_all(uow, user_id=user.id, cursor=cursor)
    except BaseException:
        hub.detach(sink)
        raise
    return _StreamResponse(
        _events(state, user, claims, sink, starts),
        done=lambda: hub.detach(sink),
        ping=settings.sse_keepalive_seconds,
        ping_message_factory=lambda: ServerSentEvent(comment="keep-alive"),
        send_timeout=SEND_TIMEOUT_SECONDS,
        headers={"Cache-Control": "no-store"},
    )


def _cursor(last_event_id: str | None) -> dict[uuid.UUID, int] | None:
    if last_event_id is None or not last_event_id.strip():
        return None
    try:
        return s.parse_cursor(last_event_id)
    except s.CursorError as exc:
        raise BadRequest(
            f"Last-Event-ID is not a cursor of this stream: {exc}. Send the `id` of the "
            "last event you got, e.g. `<conversation id>:<seq>`.",
            code="invalid_last_event_id",
        ) from None


async def _events(
    state: AppState,
    user: User,
    claims: TokenClaims,
    sink: s.StreamSink,
    starts: dict[uuid.UUID, event_stream.Start],
) -> AsyncIterator[ServerSentEvent]:
    """Catch-up, then live: each conversation's events once each, in seq order."""
    # Conversation -> the last seq sent (the stream's cursor).
    positions = {c: start.after_seq for c, start in starts.items()}
    for conversation_id, start in starts.items():
        if start.replays:
            async for read in _replay(state, user, conversation_id, start):
                positions[conversation_id] = read.seq
                yield _sse(conversation_id, read.type, read.model_dump_json(), positions)
        if not start.live:  # a former member: up to their departure, and no further
            del positions[conversation_id]
    if sink.only is not None and sink.only not in positions:
        sink.end(s.MEMBER_REMOVED, "you are not a member of this conversation any more")
    expires = claims.exp.timestamp()
    while True:
        if sink.ended is not None:
            detail = sink.ended_detail
            yield ServerSentEvent(
                event="stream.end",
                data=orjson.dumps({"reason": sink.ended, "detail": detail}).decode(),
            )
            return
        remaining = expires - time.time()
        if remaining <= 0:
            sink.end(s.TOKEN_EXPIRED, "your access token expired: resume with a fresh one")
            continue
        for live in await sink.take(remaining):
            conversation_id = live.conversation_id
            # A conversation not followed yet was joined just now: the hub sends it from
            # the event that added the user (from seq 1 for a new conversation).
            last = positions.setdefault(conversation_id, live.seq - 1)
            if live.seq <= last:
                continue  # the catch-up sent it already
            if live.seq > last + 1:  # a hole the hub skipped: fill it from the timeline
                gap = event_stream.Start(after_seq=last, until_seq=live.seq - 1)
                async for read in _replay(state, user, conversation_id, gap):
                    positions[conversation_id] = read.seq
                    yield _sse(conversation_id, read.type, read.model_dump_json(), positions)
            positions[conversation_id] = live.seq
            yield _sse(conversation_id, live.type, live.data, positions)
            if live.type == EventType.member_removed.value and live.member_id == user.id:
                del positions[conversation_id]  # nothing more comes from it
                if sink.only == conversation_id:
                    sink.end(s.MEMBER_REMOVED, "you were removed from this conversation")
                    break


async def _replay(
    state: AppState, user: User, conversation_id: uuid.UUID, start: event_stream.Start
) -> AsyncIterator[EventRead]:
    """The timeline after `start.after_seq` (up to `start.until_seq`), a page at a time,
    each page read in a short unit of work of its own."""
    after = start.after_seq
    signer = state.media_signer.for_viewer(user.id)
    while True:
        async with state.read_uow() as uow:
            page = await events.load_events(
                uow,
                conversation_id=conversation_id,
                after_seq=after,
                until_seq=start.until_seq,
                limit=events.EVENTS_LIMIT_MAX,
                signer=signer,
                presence=state.presence,
            )
        for read in page:
            yield read
        if len(page) < events.EVENTS_LIMIT_MAX:
            return
        after = page[-1].seq


def _sse(
    conversation_id: uuid.UUID, type_: str, data: str, positions: dict[uuid.UUID, int]
) -> ServerSentEvent:
    """One event; its `id` is the cursor with this event counted in."""
    return ServerSentEvent(data=data, event=type_, id=s.format_cursor(conversation_id, positions))
