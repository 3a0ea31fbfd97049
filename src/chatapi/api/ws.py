"""WebSocket `/api/v1/ws`: the realtime gateway (frames in docs/protocol.md)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket

from chatapi.realtime.dispatch import Gateway
from chatapi.realtime.protocol import CLOSE_ORIGIN_NOT_ALLOWED
from chatapi.state import AppState

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
