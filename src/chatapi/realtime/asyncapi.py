"""The WebSocket contract of `/api/v1/ws` as an AsyncAPI 3.0.0 document (`/asyncapi.json`).

Everything comes from `protocol.py`: one message per model of `CLIENT_FRAMES` and
`SERVER_FRAMES` (named after the model class, summarized by its docstring), their JSON
Schemas in `components.schemas`, the close codes and the timeline event types. Nothing
here lists a frame by hand, so a new frame model is published as soon as it is added to
one of those tuples.

Client frames are described as the server validates them (pydantic mode `validation`:
fields with a default are optional), server frames as the server writes them (mode
`serialization`). When a model appears in both modes with different schemas, pydantic
names them `<Model>-Input` and `<Model>-Output`; message payloads always point at the
name pydantic chose, so that case needs no special handling here.

The web client's `src/realtime/protocol.gen.ts` is generated from this document
(`make gen-protocol`), and `tests/test_asyncapi.py` fails when it is stale.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from chatapi.realtime.protocol import CLIENT_FRAMES, CLOSE_CODES, SERVER_FRAMES, frame_types
from chatapi.schemas import EventRead

ASYNCAPI_VERSION = "3.0.0"
CHANNEL = "ws"
CHANNEL_ADDRESS = "/api/v1/ws"
REF_TEMPLATE = "#/components/schemas/{model}"

_Mode = Literal["validation", "serialization"]


def _frames() -> list[tuple[type[BaseModel], _Mode]]:
    client: list[tuple[type[BaseModel], _Mode]] = [(m, "validation") for m in CLIENT_FRAMES]
    server: list[tuple[type[BaseModel], _Mode]] = [(m, "serialization") for m in SERVER_FRAMES]
    return client + server


def _summary(model: type[BaseModel]) -> str:
    doc = model.__dict__.get("__doc__")
    if not doc:
        raise ValueError(f"{model.__name__} has no docstring: it is the frame's summary")
    return " ".join(inspect.cleandoc(doc).split())


def _sorted(value: Any) -> Any:
    """The same JSON value with every object's keys sorted (lists keep their order)."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def asyncapi_document(*, version: str) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of the WebSocket protocol, keys sorted (stable output)."""
    messages, schemas = _messages_and_schemas()
    document = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "chatapi realtime",
            "version": version,
            "description": (
                "The WebSocket protocol of chatapi at `/api/v1/ws`: text frames, each one JSON "
                "object with a `type`. The prose, examples and guarantees are in "
                "docs/protocol.md; the models in src/chatapi/realtime/protocol.py."
            ),
        },
        "defaultContentType": "application/json",
        "channels": {
            CHANNEL: {
                "address": CHANNEL_ADDRESS,
                "title": "The realtime socket",
                "description": (
                    "One WebSocket per client tab. Send `auth` first; everything else "
                    "after `ready`."
                ),
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": _operations(),
        "components": {"messages": messages, "schemas": schemas},
        "x-close-codes": {str(code): meaning for code, meaning in CLOSE_CODES.items()},
        "x-timeline-event-types": list(frame_types(EventRead)),
    }
    return dict(_sorted(document))


def _messages_and_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """One message per frame model, and the JSON Schemas they refer to."""
    frames = _frames()
    names = [model.__name__ for model, _ in frames]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"two frame models share a class name: {', '.join(duplicates)}")
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = list(frames)
    refs, schema = models_json_schema(modes, ref_template=REF_TEMPLATE)
    messages = {
        model.__name__: {
            "name": model.__name__,
            "title": ", ".join(frame_types(model)),
            "summary": _summary(model),
            "payload": {"$ref": refs[(model, mode)]["$ref"]},
        }
        for model, mode in frames
    }
    return messages, schema.get("$defs", {})


def _operations() -> dict[str, Any]:
    def message_refs(models: tuple[type[BaseModel], ...]) -> list[dict[str, str]]:
        return [{"$ref": f"#/channels/{CHANNEL}/messages/{m.__name__}"} for m in models]

    return {
        "receiveClientFrames": {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{CHANNEL}"},
            "summary": "Frames a client sends to the server.",
            "messages": message_refs(CLIENT_FRAMES),
        },
        "sendServerFrames": {
            "action": "send",
            "channel": {"$ref": f"#/channels/{CHANNEL}"},
            "summary": "Frames the server sends to a client.",
            "messages": message_refs(SERVER_FRAMES),
        },
    }
