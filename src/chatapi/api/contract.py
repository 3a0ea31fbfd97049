"""`GET /asyncapi.json`: the machine-readable contract of the WebSocket `/api/v1/ws`.

Served beside `/openapi.json` (not under /api/v1) and, like it, left out of the OpenAPI
document itself. The web client's socket types are generated from it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from chatapi.realtime.asyncapi import asyncapi_document

router = APIRouter()


@cache
def _document(version: str) -> dict[str, Any]:
    return asyncapi_document(version=version)


@router.get("/asyncapi.json", include_in_schema=False)
async def asyncapi_json(request: Request) -> JSONResponse:
    """The AsyncAPI 3.0.0 document of the WebSocket protocol."""
    return JSONResponse(_document(request.app.version))
