"""The realtime gateway: WebSocket `/api/v1/ws` (frames: `realtime/protocol.py`, served
as `/asyncapi.json`; prose in docs/protocol.md).

`socket` serves one socket's life and its frames; `directory` answers the hub's
database look-ups; `presence` announces who came online or went offline.

The endpoint is a plain ASGI app that the application serves ahead of its HTTP
middleware and router (`main.ChatApp`): none of them acts on a WebSocket, and each
would keep a frame alive (FastAPI's route three exit stacks) for the socket's life.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from chatapi.api.gateway.socket import Gateway
from chatapi.api.state import AppState
from chatapi.realtime.protocol import CLOSE_ORIGIN_NOT_ALLOWED


def route_path(scope: Scope) -> str:
    """The scope's path within the application (without the server's root path)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


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


async def websocket_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI app of `/api/v1/ws` (`scope["app"]` is the application)."""
    websocket = WebSocket(scope, receive=receive, send=send)
    state: AppState = scope["app"].state.chat
    if not origin_allowed(websocket, state.settings.allowed_origins):
        # Closing before accepting refuses the handshake with HTTP 403.
        await websocket.close(code=CLOSE_ORIGIN_NOT_ALLOWED)
        return
    await websocket.accept()
    await Gateway(state, websocket).serve()
