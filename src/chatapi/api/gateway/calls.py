"""The call frames of one socket: each a thin call of `services.calls`.

A socket that joins a call is remembered in `AppState.call_connections` until it closes:
the instance's sweeper keeps its participant row fresh meanwhile, and its close marks the
participant disconnected (they may take the call up again from a new socket).
"""

from __future__ import annotations

import logging

from chatapi.api.state import AppState
from chatapi.models import User
from chatapi.realtime import protocol as p
from chatapi.realtime.connection import Connection
from chatapi.services import calls

log = logging.getLogger(__name__)

CallFrame = p.CallInvite | p.CallAccept | p.CallDecline | p.CallHangup | p.CallSignal | p.CallMedia


async def on_call_frame(state: AppState, conn: Connection, user: User, frame: CallFrame) -> None:
    connection_id = conn.session_id
    if isinstance(frame, p.CallSignal):
        # Nothing is written: read, then relay (like typing, without a transaction).
        async with state.read_uow() as uow:
            relayed = await calls.signal(
                uow,
                user=user,
                call_id=frame.call_id,
                connection_id=connection_id,
                to_user_id=frame.to_user_id,
                data=frame.data,
            )
        await state.publisher.publish(relayed)
        return
    policy = state.call_policy
    async with state.uow() as uow:
        match frame:
            case p.CallInvite():
                await calls.invite(
                    uow,
                    user=user,
                    conversation_id=frame.conversation_id,
                    connection_id=connection_id,
                    video=frame.video,
                    policy=policy,
                )
                joined = True
            case p.CallAccept():
                await calls.accept(
                    uow,
                    user=user,
                    call_id=frame.call_id,
                    connection_id=connection_id,
                    video=frame.video,
                    policy=policy,
                )
                joined = True
            case p.CallDecline():
                await calls.decline(uow, user=user, call_id=frame.call_id)
                joined = False
            case p.CallHangup():
                await calls.hangup(
                    uow, user=user, call_id=frame.call_id, connection_id=connection_id
                )
                joined = False
            case p.CallMedia():
                await calls.media(
                    uow,
                    user=user,
                    call_id=frame.call_id,
                    connection_id=connection_id,
                    audio=frame.audio,
                    video=frame.video,
                    screen=frame.screen,
                )
                joined = True
        await uow.commit()
    if joined:
        state.call_connections.add(connection_id)


async def socket_closed(state: AppState, conn: Connection) -> None:
    """The socket is gone: if it was in a call, its participant is disconnected (not
    gone: they may rejoin from a new socket within CALL_REJOIN_SECONDS)."""
    connection_id = conn.session_id
    if connection_id not in state.call_connections:
        return
    state.call_connections.discard(connection_id)
    async with state.uow() as uow:
        await calls.disconnected(uow, connection_id=connection_id)
        await uow.commit()
