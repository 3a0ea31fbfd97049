from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from chatapi.api import errors
from chatapi.api.deps import CurrentReader, CurrentUser, ReadUowDep, StateDep, UowDep
from chatapi.errors import Unprocessable
from chatapi.schemas import MAX_SEQ, EventRead, MessageCreate, MessageRead, MessageUpdate
from chatapi.services import events
from chatapi.services.media import attachments
from chatapi.services.messages import edit, history

router = APIRouter(tags=["messages"], responses=errors(401))


@router.post(
    "/conversations/{conversation_id}/messages",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": MessageRead, "description": "a retry: the first message"},
        **errors(404, 429, 503),
    },
)
async def post_message(
    conversation_id: uuid.UUID,
    payload: MessageCreate,
    user: CurrentUser,
    state: StateDep,
    response: Response,
) -> MessageRead:
    """Send a message. A retry with the same `client_id` answers 200 with the first one.
    503 `overloaded` (with Retry-After) when the server's send queue is full: not stored,
    send it again (with the same `client_id`)."""
    # The committed message (sends that arrive together share one commit).
    message, created = await state.sends.send(
        sender=user,
        conversation_id=conversation_id,
        body=payload.body,
        client_id=payload.client_id,
        attachment_ids=payload.attachment_ids,
        reply_to_id=payload.reply_to_id,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return attachments.for_viewer(message, state.media_signer.for_viewer(user.id))


@router.get(
    "/conversations/{conversation_id}/messages",
    responses={
        **errors(404),
        422: {"description": "`before_seq` and `around_seq` together, or a validation error"},
    },
)
async def list_messages(
    conversation_id: uuid.UUID,
    user: CurrentReader,
    uow: ReadUowDep,
    state: StateDep,
    before_seq: Annotated[
        int | None, Query(ge=1, le=MAX_SEQ, description="only messages before this seq")
    ] = None,
    around_seq: Annotated[
        int | None,
        Query(ge=1, le=MAX_SEQ, description="messages around this seq (not with before_seq)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=history.HISTORY_LIMIT_MAX)] = 50,
) -> list[MessageRead]:
    """History, ascending by seq: the newest `limit` messages before `before_seq`; or,
    with `around_seq`, up to `limit` messages around it (`limit // 2` before it, the rest
    from it on) — to open a conversation at one message, e.g. a search hit."""
    if before_seq is not None and around_seq is not None:
        raise Unprocessable(
            "Give `before_seq` or `around_seq`, not both.", code="conflicting_cursors"
        )
    return await history.history(
        uow,
        user=user,
        conversation_id=conversation_id,
        before_seq=before_seq,
        around_seq=around_seq,
        limit=limit,
        signer=state.media_signer.for_viewer(user.id),
    )


@router.get("/conversations/{conversation_id}/events", responses=errors(404))
async def list_events(
    conversation_id: uuid.UUID,
    user: CurrentReader,
    uow: ReadUowDep,
    state: StateDep,
    after_seq: Annotated[int, Query(ge=0, le=MAX_SEQ, description="last seq you have seen")] = 0,
    limit: Annotated[int, Query(ge=1, le=events.EVENTS_LIMIT_MAX)] = 50,
) -> list[EventRead]:
    """Catch up: every event with `seq > after_seq`, ascending."""
    return await events.list_events(
        uow,
        viewer=user,
        conversation_id=conversation_id,
        after_seq=after_seq,
        limit=limit,
        signer=state.media_signer.for_viewer(user.id),
        presence=state.presence,
    )


@router.patch("/messages/{message_id}", responses=errors(403, 404))
async def edit_message(
    message_id: uuid.UUID,
    payload: MessageUpdate,
    user: CurrentUser,
    uow: UowDep,
    state: StateDep,
) -> MessageRead:
    """Edit the text of your own message."""
    signer = state.media_signer.for_viewer(user.id)  # the hub signs the frame per member
    message = await edit.edit_message(
        uow, user=user, message_id=message_id, body=payload.body, signer=signer
    )
    await uow.commit()
    return message


@router.delete(
    "/messages/{message_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(403, 404)
)
async def delete_message(
    message_id: uuid.UUID, user: CurrentUser, uow: UowDep, state: StateDep
) -> Response:
    """Delete a message: yours, or anyone's in a group you own or administer."""
    await edit.delete_message(
        uow, state.storage, user=user, message_id=message_id, signer=state.media_signer
    )
    await uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
