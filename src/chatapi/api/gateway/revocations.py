"""Revocations this process may have missed, and the sockets they should have closed."""

from __future__ import annotations

import uuid

from chatapi.api.state import AppState
from chatapi.domain import SessionsRevoked
from chatapi.realtime.outbound import envelope_for
from chatapi.services import sessions


async def close_revoked_sockets(state: AppState) -> None:
    """After the broker was away, revocations published meanwhile never reached this
    process: find its sockets whose session was revoked (a query per 500 sessions) and
    end them as a heard revocation would — the same `revoke` envelope, through the hub,
    which also tells the revocation cache."""
    owners: dict[uuid.UUID, uuid.UUID] = {
        sink.sid: sink.user_id for sink in state.hub.sinks() if sink.sid is not None
    }
    if not owners:
        return
    async with state.read_uow() as uow:
        revoked = await sessions.revoked_among(uow, owners)
    for sid in revoked:
        state.hub.listener(envelope_for(SessionsRevoked(owners[sid], sid)))
