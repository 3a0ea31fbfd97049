"""The OpenAPI document, completed with the error answers every operation can give
(FastAPI documents only the ones a route names):

- 422 is either FastAPI's validation list or one of our rules' refusals (a string
  `detail`, e.g. `unknown_users`), always with a `code`;
- an operation with a request body can answer 400 when the body is not text at all
  (FastAPI's "There was an error parsing the body"), and 413 when it is larger than
  MAX_JSON_BODY_BYTES (uploads: MAX_UPLOAD_BYTES).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

_REF = "#/components/schemas/"
UNPROCESSABLE_BODY: dict[str, Any] = {
    "title": "UnprocessableBody",
    "type": "object",
    "required": ["detail", "code"],
    "properties": {
        "detail": {
            "title": "Detail",
            "anyOf": [
                {"type": "array", "items": {"$ref": f"{_REF}ValidationError"}},
                {"type": "string"},
            ],
        },
        "code": {"title": "Code", "type": "string"},
    },
}
_MALFORMED = {
    "description": "Malformed request (a body that cannot be read)",
    "content": {"application/json": {"schema": {"$ref": f"{_REF}ErrorBody"}}},
}
_TOO_LARGE = {
    "description": "The request body is larger than the server accepts",
    "content": {"application/json": {"schema": {"$ref": f"{_REF}ErrorBody"}}},
}


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the completed document (built once, then cached)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_errors(build())
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def document_errors(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    if "ValidationError" not in schemas or "ErrorBody" not in schemas:
        return
    schemas["UnprocessableBody"] = UNPROCESSABLE_BODY
    unprocessable = {"$ref": f"{_REF}UnprocessableBody"}
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            if "422" in responses:
                responses["422"].setdefault("content", {})["application/json"] = {
                    "schema": unprocessable
                }
            if "requestBody" in operation:
                responses.setdefault("400", _MALFORMED)
                responses.setdefault("413", _TOO_LARGE)
