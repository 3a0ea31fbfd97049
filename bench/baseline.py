"""The bare baseline: a minimal Starlette WebSocket room broadcaster.

No auth, no database, no JSON parsing: `/ws?room=NAME` joins a room (one set of sockets
per room); the socket's first text frame is answered with `{"type":"ready"}` (standing
in for chatapi's `auth` -> `ready`, so the load generator runs one code path for both),
and every later text frame is re-sent, unchanged, to every member of the room, the
sender included (as chatapi sends `message.new` to the sender's sockets too).

`POST /upload` streams the request body to a file (the bare floor for scenario 6).

Served by uvicorn with the same settings as `chatapi serve` (cli.serve):

    python -m bench.baseline --host 127.0.0.1 --port 9000
"""

from __future__ import annotations

import argparse
import os
import tempfile

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

READY = '{"type":"ready"}'
rooms: dict[str, set[WebSocket]] = {}


async def room_socket(websocket: WebSocket) -> None:
    room = websocket.query_params.get("room", "lobby")
    await websocket.accept()
    members = rooms.setdefault(room, set())
    try:
        await websocket.receive_text()
        members.add(websocket)
        await websocket.send_text(READY)
        while True:
            text = await websocket.receive_text()
            for member in list(members):
                try:
                    await member.send_text(text)
                except (WebSocketDisconnect, RuntimeError, OSError):
                    members.discard(member)
    except WebSocketDisconnect:
        pass
    finally:
        members.discard(websocket)


async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def upload(request: Request) -> JSONResponse:
    size = 0
    fd, path = tempfile.mkstemp(prefix="baseline-upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
                size += len(chunk)
    finally:
        os.unlink(path)
    return JSONResponse({"size": size}, status_code=201)


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/upload", upload, methods=["POST"]),
        WebSocketRoute("/ws", room_socket),
    ]
)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="bare WebSocket room broadcaster")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    # The same uvicorn settings as `chatapi serve` (src/chatapi/cli.py).
    uvicorn.run(
        "bench.baseline:app",
        host=args.host,
        port=args.port,
        workers=1,
        loop="auto",
        http="auto",
        ws_max_size=65536,
        ws_per_message_deflate=False,
        proxy_headers=True,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
