"""HTTP middleware of our own (pure ASGI, so streamed responses stay streamed):

- `RequestIds`: a request id for every HTTP request (the client's `X-Request-ID` when it
  is a plain token, else a new one), in every log line of the request (chatapi.logs)
  and in the response's `X-Request-ID`;
- `HttpMetrics`: each request counted and timed by its route template (chatapi.metrics);
- `SecurityHeaders`: the browser-facing headers of every response — a strict
  Content-Security-Policy for the web client, a locked-down one for everything else,
  no framing, no MIME sniffing, same-origin referrers;
- `InternalErrors`: an unexpected exception becomes `500 {detail, code: "internal_error"}`
  (the trace goes to the log, never to the client); a disk or database write failure
  becomes `503 {code: "storage_unavailable"}` and marks the store as failing for
  `/readyz` until a write succeeds again.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatapi import logs
from chatapi.db import is_database_write_failure
from chatapi.health import DATABASE, MEDIA, WriteHealth, is_write_failure
from chatapi.metrics import HTTP_REQUESTS, HTTP_SECONDS

log = logging.getLogger("chatapi.errors")

# Every response, unless the route set its own (media downloads set a stricter CSP).
BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# The web client (web/dist): its own scripts and styles only, no inline code. Images and
# previews may be blob:/data: URLs (uploads being composed; Bootstrap's SVG icons).
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' blob: data:; media-src 'self' blob:; font-src 'self' data:; "
    "connect-src 'self'{ws}; object-src 'none'; worker-src 'self'; manifest-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# The service worker (/sw.js, registered by the web client): a worker takes the policy of
# its own script, so it may fetch the app's own files (to keep the shell for offline use)
# and nothing else.
SW_PATH = "/sw.js"
SW_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# JSON, files and everything that is not a page: nothing may run or load.
NONE_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The interactive API docs (FastAPI's Swagger UI / ReDoc pages) load their scripts from a
# CDN with an inline bootstrap; they get the rules that do not break them.
DOCS_CSP = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'"
DOCS_PATHS = ("/docs", "/redoc")
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def content_security_policy(path: str, content_type: str, host: str) -> str:
    """The policy for a response of this path and type, asked for with this Host."""
    if path.startswith(DOCS_PATHS):
        return DOCS_CSP
    if path == SW_PATH and "javascript" in content_type:
        return SW_CSP
    if not content_type.startswith("text/html"):
        return NONE_CSP
    # 'self' covers ws:/wss: of the page's own host in CSP 3 browsers; older ones need
    # them spelled out (the Host is used only when it is a plain host[:port]).
    ws = f" ws://{host} wss://{host}" if _HOST_RE.fullmatch(host) else ""
    return APP_CSP.format(ws=ws)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        rid = given if _REQUEST_ID.fullmatch(given) else secrets.token_hex(8)
        logs.request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        await self.app(scope, receive, send_with_id)


class HttpMetrics:
    """Counts each HTTP request by its route template (never the
    raw path: ids would make a series per conversation) and times it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = _route(scope)
                HTTP_SECONDS.labels(route, scope["method"]).observe(time.perf_counter() - started)
                HTTP_REQUESTS.labels(route, scope["method"], str(status)).inc()
            await send(message)

        await self.app(scope, receive, timed_send)


def _route(scope: Scope) -> str:
    """The matched route's template ("/api/v1/conversations/{conversation_id}"): the path
    with each path parameter's segment named. Unrouted requests (the web client's files,
    404s) share one series."""
    if scope.get("route") is None:
        return "/api/*" if str(scope.get("path", "")).startswith("/api/") else "other"
    params = {str(v): k for k, v in (scope.get("path_params") or {}).items()}
    segments = str(scope.get("path", "")).split("/")
    return "/".join(f"{{{params[s]}}}" if s in params else s for s in segments)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in BASE_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if "content-security-policy" not in headers:
                    host = Headers(scope=scope).get("host", "")
                    headers["Content-Security-Policy"] = content_security_policy(
                        scope["path"], headers.get("content-type", ""), host
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)


class InternalErrors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            store = _note_write_failure(scope, exc)
            if started:  # too late for an error answer; the server logs it and hangs up
                raise
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if store is not None:
                detail = f"The server cannot write to its {store} now; try again later."
                body = {"detail": detail, "code": "storage_unavailable"}
                response = JSONResponse(body, status_code=503, headers={"Retry-After": "30"})
            else:
                body = {
                    "detail": "The server failed to handle this request; try again later.",
                    "code": "internal_error",
                }
                response = JSONResponse(body, status_code=500)
            await response(scope, receive, send)


def _note_write_failure(scope: Scope, exc: Exception) -> str | None:
    """The store a failed write names (marked failing for /readyz), or None."""
    if is_write_failure(exc):
        store = MEDIA
    elif isinstance(exc, DBAPIError) and is_database_write_failure(exc):
        store = DATABASE
    else:
        return None
    state = getattr(getattr(scope.get("app"), "state", None), "chat", None)
    health: WriteHealth | None = getattr(state, "write_health", None)
    if health is not None:
        health.failed(store, exc)
    return store
