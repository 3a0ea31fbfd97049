"""Errors as JSON: every error answer is `{"detail", "code"}` with the right status — a
service's `ChatError`, a validation error (never echoing what was sent), or an HTTP error
of the framework (404, 405, ...)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from chatapi.errors import ChatError

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def install_error_handlers(app: FastAPI) -> None:
    """Render every error the app can raise as `{detail, code}` JSON."""

    @app.exception_handler(ChatError)
    async def _chat_error(request: Request, exc: ChatError) -> Response:
        return JSONResponse(
            {"detail": exc.detail, "code": exc.code}, status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return AsciiJSONResponse(
            {"detail": validation_details(exc.errors()), "code": "validation_error"},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(
            {"detail": exc.detail, "code": code},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's list of validation errors without the submitted values: an error never
    echoes what was sent (a password, a token), and a value JSON cannot carry back (NaN,
    1e999 read as infinity) cannot break the answer."""
    details = []
    for error in errors:
        item = {k: error[k] for k in ("type", "loc", "msg") if k in error}
        ctx = error.get("ctx")
        if isinstance(ctx, dict):
            item["ctx"] = {str(k): _plain(v) for k, v in ctx.items()}
        details.append(item)
    return details


def _plain(value: object) -> object:
    """A constraint from an error's context, as a JSON value (finite number or text)."""
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return str(value)


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: a validation error echoes the input,
    and an input holding a lone surrogate cannot be written as UTF-8."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")
