"""`/asyncapi.json` publishes the whole WebSocket contract of `realtime/protocol.py`, and the
web client's generated frame types (web/src/realtime/protocol.gen.ts) match it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from chatapi import __version__
from chatapi.main import create_app
from chatapi.realtime.asyncapi import asyncapi_document
from chatapi.realtime.protocol import (
    CLIENT_FRAMES,
    CLIENT_TYPES,
    CLOSE_CODES,
    SERVER_FRAMES,
    frame_types,
)
from chatapi.schemas import EventRead
from chatapi.settings import Settings
from helpers import ROOT, make_settings

WEB = ROOT / "web"
SCRIPT = WEB / "scripts" / "gen-protocol.mjs"
GENERATED = WEB / "src" / "realtime" / "protocol.gen.ts"


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        assert part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def _operation_frames(doc: dict[str, Any], operation: str) -> dict[str, list[str]]:
    """Message name -> the `type` values of its payload, for one operation."""
    frames: dict[str, list[str]] = {}
    for ref in doc["operations"][operation]["messages"]:
        message = _resolve(doc, ref["$ref"])
        message = _resolve(doc, message["$ref"]) if "$ref" in message else message
        schema = _resolve(doc, message["payload"]["$ref"])
        kind = schema["properties"]["type"]
        frames[message["name"]] = [kind["const"]] if "const" in kind else kind["enum"]
    return frames


@pytest.fixture
def document() -> dict[str, Any]:
    return asyncapi_document(version=__version__)


async def test_served_document_is_the_contract(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await client.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    doc = response.json()
    assert doc == asyncapi_document(version=app.version)
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["version"] == app.version
    assert "docs/protocol.md" in doc["info"]["description"]
    assert doc["channels"]["ws"]["address"] == "/api/v1/ws"
    # Like /openapi.json, it is not an API endpoint of the OpenAPI document.
    assert "/asyncapi.json" not in (await client.get("/openapi.json")).json()["paths"]


async def test_web_client_fallback_leaves_the_document_alone(
    tmp_path: Path, settings: Settings
) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<html>chatapi web</html>")
    settings.web_dist_dir = dist
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.get("/asyncapi.json")).json()["asyncapi"] == "3.0.0"
        missing = await c.get("/asyncapi.json/nope")
        assert missing.status_code == 404
        assert missing.json()["code"] == "not_found"


def test_every_frame_is_a_message_with_a_resolving_payload(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    channel = document["channels"]["ws"]["messages"]
    models = (*CLIENT_FRAMES, *SERVER_FRAMES)
    assert sorted(messages) == sorted(m.__name__ for m in models)
    assert sorted(channel) == sorted(messages)
    for model in models:
        message = messages[model.__name__]
        assert message["name"] == model.__name__
        assert message["summary"], f"{model.__name__} needs a docstring"
        schema = _resolve(document, message["payload"]["$ref"])
        assert schema["type"] == "object"
        assert "type" in schema["properties"]
    for operation, action, frames in (
        ("receiveClientFrames", "receive", CLIENT_FRAMES),
        ("sendServerFrames", "send", SERVER_FRAMES),
    ):
        op = document["operations"][operation]
        assert op["action"] == action
        assert op["channel"] == {"$ref": "#/channels/ws"}
        assert list(_operation_frames(document, operation)) == [m.__name__ for m in frames]


def test_every_type_is_published(document: dict[str, Any]) -> None:
    client = _operation_frames(document, "receiveClientFrames")
    assert [t for types in client.values() for t in types] == list(CLIENT_TYPES)
    server = _operation_frames(document, "sendServerFrames")
    published = {t for types in server.values() for t in types}
    for model in SERVER_FRAMES:
        for kind in frame_types(model):
            assert kind in published, f"server frame type {kind!r} ({model.__name__}) is missing"
    assert document["x-timeline-event-types"] == list(frame_types(EventRead))
    assert server["EventRead"] == list(frame_types(EventRead))
    assert document["x-close-codes"] == {str(code): text for code, text in CLOSE_CODES.items()}


def test_server_frames_publish_every_field_as_required(document: dict[str, Any]) -> None:
    # The server writes every field of its frames (defaults included), and the client's
    # types rely on it: a field missing from `required` would become optional there.
    # EventRead is shared with REST, whose optional members are really optional.
    schemas = document["components"]["schemas"]
    for model in SERVER_FRAMES:
        if model is EventRead:
            continue
        assert set(schemas[model.__name__]["required"]) == set(model.model_fields), model


def test_a_model_in_both_directions_gets_two_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    # A client frame nesting a model the server also sends: pydantic names the two modes
    # `<Model>-Input` / `<Model>-Output` when their schemas differ, and payloads follow.
    from chatapi.realtime import asyncapi
    from chatapi.schemas import UserRead

    class Echo(BaseModel):
        """A test client frame carrying a user."""

        type: Literal["echo"]
        user: UserRead

    monkeypatch.setattr(asyncapi, "CLIENT_FRAMES", (*CLIENT_FRAMES, Echo))
    doc = asyncapi.asyncapi_document(version="test")
    schemas = doc["components"]["schemas"]
    assert {"UserRead-Input", "UserRead-Output"} <= set(schemas)
    assert "UserRead" not in schemas
    echo = _resolve(doc, doc["components"]["messages"]["Echo"]["payload"]["$ref"])
    assert echo["properties"]["user"] == {"$ref": "#/components/schemas/UserRead-Input"}
    ready = _resolve(doc, doc["components"]["messages"]["Ready"]["payload"]["$ref"])
    assert ready["properties"]["user"] == {"$ref": "#/components/schemas/UserRead-Output"}
    assert json.dumps(doc) == json.dumps(asyncapi.asyncapi_document(version="test"))


def test_protocol_doc_tables_name_every_frame_type() -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text()
    client_table = doc.split("## Client → server", 1)[1].split("\n## ", 1)[0]
    server_table = doc.split("## Server → client", 1)[1].split("\n## ", 1)[0]
    for kind in CLIENT_TYPES:
        assert f"| `{kind}` |" in client_table, f"docs/protocol.md: no row for client `{kind}`"
    for model in SERVER_FRAMES:
        for kind in frame_types(model):
            assert f"`{kind}`" in server_table, f"docs/protocol.md: no row for server `{kind}`"
    assert "/asyncapi.json" in doc
    assert "web/src/realtime/protocol.gen.ts" in doc


def test_document_is_deterministic(document: dict[str, Any]) -> None:
    again = asyncapi_document(version=__version__)
    assert json.dumps(again) == json.dumps(document)
    assert json.dumps(document) == json.dumps(document, sort_keys=True)


def test_cli_prints_the_document(tmp_path: Path, document: dict[str, Any]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "chatapi.cli", "asyncapi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == json.dumps(document, indent=2, sort_keys=True) + "\n"


async def test_generated_protocol_is_up_to_date(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (WEB / "node_modules" / "openapi-typescript").is_dir():
        pytest.fail("node and web/node_modules are needed: run `make web-deps` (make test does)")
    app = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/x.db"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        spec = (await c.get("/asyncapi.json")).json()
    spec_file = tmp_path / "asyncapi.json"
    spec_file.write_text(json.dumps(spec, indent=2, sort_keys=True))
    out = tmp_path / "protocol.gen.ts"
    subprocess.run(
        [node, str(SCRIPT)],
        cwd=WEB,
        env={**os.environ, "ASYNCAPI_JSON": str(spec_file), "PROTOCOL_GEN_TS": str(out)},
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert out.read_text() == GENERATED.read_text(), (
        "web/src/realtime/protocol.gen.ts is out of date with the server: run `make gen-protocol`"
    )
