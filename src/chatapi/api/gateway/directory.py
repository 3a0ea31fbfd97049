"""The hub's look-ups in the database, through the services."""

from __future__ import annotations

import uuid

from chatapi.api.state import AppState
from chatapi.domain import TimelineAppended
from chatapi.realtime.envelope import Envelope
from chatapi.realtime.outbound import envelope_for
from chatapi.services import events, membership


class ServiceDirectory:
    """The hub's look-ups, through the services, each in its own session."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    async def conversation_seqs(self, user_id: uuid.UUID) -> dict[uuid.UUID, int]:
        async with self.state.read_uow() as uow:
            return await membership.conversation_seqs_for_user(uow, user_id=user_id)

    async def events(
        self, conversation_id: uuid.UUID, *, after_seq: int, until_seq: int | None
    ) -> list[Envelope]:
        async with self.state.read_uow() as uow:
            found = await events.load_events(
                uow,
                conversation_id=conversation_id,
                after_seq=after_seq,
                until_seq=until_seq,
                limit=events.EVENTS_LIMIT_MAX,
                signer=self.state.media_signer,
                presence=self.state.presence,
            )
        # Read back from the timeline, as the hub receives live ones.
        return [envelope_for(TimelineAppended(e)) for e in found]
