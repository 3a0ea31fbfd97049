"""`GET /metrics`: Prometheus' text format (chatapi.metrics), when METRICS_ENABLED."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response

from chatapi.api.deps import StateDep
from chatapi.errors import NotAuthenticated
from chatapi.metrics import exposition

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, state: StateDep) -> Response:
    token = state.settings.metrics_token
    if token is not None and token.get_secret_value():
        given = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise NotAuthenticated("Metrics need the METRICS_TOKEN as a Bearer token.")
    body, content_type = exposition()
    return Response(body, media_type=content_type)
