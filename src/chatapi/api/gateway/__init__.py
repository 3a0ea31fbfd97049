"""The realtime gateway: WebSocket `/api/v1/ws` (frames: `realtime/protocol.py`, served
as `/asyncapi.json`; prose in docs/protocol.md).

`socket` serves one socket's life and its frames; `directory` answers the hub's
database look-ups; `presence` announces who came online or went offline.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket

from chatapi.api.gateway.socket import Gateway
from chatapi.api.state import AppState
from chatapi.realtime.protocol import CLOSE_ORIGIN_NOT_ALLOWED

router = APIRouter()


def origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """No Origin (scripts, native clients), our own origin, or one in ALLOWED_ORIGINS."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    origin = origin.rstrip("/")
    if origin in allowed:
        return True
    host = websocket.headers.get("host", "")
    parts = urlsplit(origin)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc == host


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.chat
    if not origin_allowed(websocket, state.settings.allowed_origins):
        # Closing before accepting refuses the handshake with HTTP 403.
        await websocket.close(code=CLOSE_ORIGIN_NOT_ALLOWED)
        return
    await websocket.accept()
    await Gateway(state, websocket).serve()
