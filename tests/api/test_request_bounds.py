"""Request bodies are capped before they are read (MAX_JSON_BODY_BYTES; uploads have
their own limit), and a 422 never echoes what was sent nor fails on NaN/1e999."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from helpers import Signup

CAP = 8192
REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_json_body_bytes": CAP}


def assert_413(r: httpx.Response) -> None:
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "payload_too_large"
    assert str(CAP) in r.json()["detail"]


def big_registration(size: int) -> bytes:
    return json.dumps(
        {"username": "bigbody", "password": "long enough", "display_name": "x" * size}
    ).encode()


async def chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_declared_body_over_the_cap_is_413(client: httpx.AsyncClient) -> None:
    r = await client.post(
        REGISTER, content=big_registration(CAP), headers={"Content-Type": "application/json"}
    )
    assert_413(r)
    r = await client.post(TOKEN, data={"username": "someone", "password": "p" * CAP})
    assert_413(r)


async def test_chunked_body_over_the_cap_is_413(client: httpx.AsyncClient) -> None:
    request = client.build_request(
        "POST",
        REGISTER,
        content=chunks(big_registration(CAP)),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in request.headers
    assert_413(await client.send(request))
    # Under the cap, a chunked body is read as usual.
    small = json.dumps({"username": "chunky", "password": "long enough"}).encode()
    r = await client.post(
        REGISTER, content=chunks(small, 10), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 201, r.text


async def test_a_declared_length_over_the_cap_is_refused_without_reading(app: FastAPI) -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": REGISTER,
        "raw_path": REGISTER.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(50 * 1024 * 1024).encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "payload_too_large"


async def test_uploads_keep_their_own_limit(client: httpx.AsyncClient, signup: Signup) -> None:
    alice = await signup()
    r = await client.post(
        "/api/v1/media",
        files={"file": ("notes.txt", b"text " * CAP, "text/plain")},
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text


# --- 422 ------------------------------------------------------------------------------


async def test_422_does_not_echo_a_password_or_a_token(client: httpx.AsyncClient) -> None:
    r = await client.post(REGISTER, json={"username": "shorty", "password": "hunter2"})
    assert r.status_code == 422
    assert "hunter2" not in r.text
    assert all("input" not in item for item in r.json()["detail"])
    assert r.json()["detail"][0]["loc"] == ["body", "password"]
    assert r.json()["detail"][0]["ctx"] == {"min_length": 8}
    secret = "s3cret-" + "t" * 4100
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": secret})
    assert r.status_code == 422
    assert "s3cret" not in r.text


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_non_finite_numbers_are_a_422(
    client: httpx.AsyncClient, signup: Signup, literal: str
) -> None:
    r = await client.post(
        REGISTER,
        content=f'{{"username": "nanny", "password": {literal}}}'.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_error"
    alice = await signup()
    conv = await client.post(
        "/api/v1/conversations",
        headers=alice.headers,
        json={"kind": "group", "title": "t", "member_ids": []},
    )
    r = await client.post(
        f"/api/v1/conversations/{conv.json()['id']}/read",
        content=f'{{"seq": {literal}}}'.encode(),
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
