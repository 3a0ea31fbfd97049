"""A cap on request bodies (MAX_JSON_BODY_BYTES), before they are read.

A pure ASGI middleware: a declared `Content-Length` over the cap is refused at once, and
a body without one (chunked) is counted as it streams in and refused as soon as it goes
over, so no route ever buffers more than the cap. The media upload route is exempt: it
streams to disk under its own limit, MAX_UPLOAD_BYTES.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body goes over the cap. FastAPI lets an
    HTTPException from reading the body through, so the app's handler renders it."""

    def __init__(self, limit: int) -> None:
        # Closing the connection spares the server reading the rest of the body.
        super().__init__(413, _detail(limit), headers={"Connection": "close"})


def _detail(limit: int) -> str:
    return f"The request body is larger than {limit} bytes."


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, limit: int, exempt: Collection[tuple[str, str]] = ()
    ) -> None:
        self.app = app
        self.limit = limit
        # (method, path) pairs that read their body under a limit of their own.
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            # Only if the app let it escape (its handlers normally render it).
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": _detail(self.limit), "code": "payload_too_large"},
            status_code=413,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
