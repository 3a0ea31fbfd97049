"""The python-socketio comparison: the same rooms as the bare baseline, in Socket.IO.

A python-socketio `AsyncServer` (ASGI mode, its defaults otherwise: the stdlib `json`,
asynchronous handlers, 25 s pings) behind `socketio.ASGIApp`. A client connects with
`/socket.io/?EIO=4&transport=websocket&room=NAME` and joins room NAME in the `connect`
handler (before the server acknowledges the Socket.IO `40` connect); every `message`
event is emitted, unchanged, to the whole room, the sender included (as the bare baseline
and chatapi do). Other paths go to a Starlette app with `/healthz`.

Served by uvicorn with the same settings as the bare baseline and `chatapi serve`:

    python -m bench.socketio_baseline --host 127.0.0.1 --port 9001

python-socketio is in the optional `bench` extra (`pip install -e '.[dev,bench]'`).
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import parse_qs

import socketio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

sio = socketio.AsyncServer(
    async_mode="asgi", transports=["websocket"], logger=False, engineio_logger=False
)
room_of: dict[str, str] = {}


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    room = parse_qs(environ.get("QUERY_STRING", "")).get("room", ["lobby"])[0]
    room_of[sid] = room
    await sio.enter_room(sid, room)


@sio.event
async def message(sid: str, data: Any) -> None:
    await sio.emit("message", data, room=room_of[sid])


@sio.event
async def disconnect(sid: str, reason: Any = None) -> None:
    room_of.pop(sid, None)


async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = socketio.ASGIApp(sio, other_asgi_app=Starlette(routes=[Route("/healthz", healthz)]))


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="python-socketio room broadcaster")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    args = parser.parse_args()
    # The same uvicorn settings as bench/baseline.py and `chatapi serve`.
    uvicorn.run(
        "bench.socketio_baseline:app",
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
