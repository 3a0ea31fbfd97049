"""Thin routers: HTTP in, one service call, commit, response out."""

from __future__ import annotations

from typing import Any

from chatapi.schemas import ErrorBody

_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, invalid or expired token",
    403: "Not allowed",
    404: "Not found, or not visible to you",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    429: "Rate limited; see Retry-After",
    502: "An OpenID Provider failed or could not be trusted",
    503: "Overloaded: nothing was done; try again after Retry-After",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route can answer."""
    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS[s]} for s in statuses}
