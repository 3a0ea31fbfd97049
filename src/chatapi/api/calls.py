"""Voice and video calls over REST: the ICE servers, and the calls running now. The call
itself is signalled over the WebSocket (`call.*` frames, docs/protocol.md)."""

from __future__ import annotations

from fastapi import APIRouter

from chatapi.api import errors
from chatapi.api.deps import CurrentUser, ReadUowDep, StateDep
from chatapi.schemas import CallState, IceServers
from chatapi.services import calls

router = APIRouter(prefix="/calls", tags=["calls"], responses=errors(401))


@router.get("/ice-servers")
async def get_ice_servers(user: CurrentUser, state: StateDep) -> IceServers:
    """The STUN and TURN servers for `new RTCPeerConnection({iceServers})`. The TURN
    credential is coturn's time-limited kind (`use-auth-secret`): valid until
    `expires_at` (TURN_TTL_SECONDS), issued to signed-in users only. Without STUN_URLS
    and TURN_URLS configured the list is empty (calls work on a local network only)."""
    settings = state.settings
    return calls.ice_servers(
        user=user,
        stun_urls=settings.stun_urls,
        turn_urls=settings.turn_urls,
        turn_secret=settings.turn_secret.get_secret_value() if settings.turn_secret else None,
        ttl_seconds=settings.turn_ttl_seconds,
    )


@router.get("/active")
async def list_active_calls(user: CurrentUser, uow: ReadUowDep) -> list[CallState]:
    """The calls ringing or running in your conversations, oldest first: after a reload,
    join yours again (`call.accept`) or answer the one ringing you."""
    return await calls.active_calls(uow, user=user)
