"""The server's logs as an operator reads them: one JSON object per line, a request id per
HTTP request and a session id per socket, and never a password, token or message body —
checked by grepping the whole log of a real server after a session that touches every
kind of secret, at the most talkative level."""

from __future__ import annotations

import io
import json
import shutil
import uuid
from pathlib import Path

import pytest
from PIL import Image

from helpers import PASSWORD
from servers import Api, Client, Server, server_env

pytestmark = pytest.mark.slow


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (30, 20), "green").save(buf, "PNG")
    return buf.getvalue()


async def test_the_log_is_json_with_ids_and_holds_no_secrets(
    tmp_path: Path, sqlite_template: Path, request: pytest.FixtureRequest
) -> None:
    db = tmp_path / "chatapi.db"
    shutil.copy(sqlite_template, db)
    env = server_env(
        tmp_path, f"sqlite+aiosqlite:///{db}", redis_url=None, redis_prefix="unused",
        log_level="debug", log_format="json",
    )  # fmt: skip
    srv = Server(tmp_path, env)
    srv.start()
    request.addfinalizer(srv.stop)
    body = f"the body nobody logs {uuid.uuid4().hex}"
    secrets: list[str] = [PASSWORD, body]
    async with Api(srv.base_url) as api:
        alice, bob = await api.signup(), await api.signup()
        secrets += [alice.token, bob.token]
        r = await api.http.post(
            "/api/v1/auth/token", data={"username": alice.username, "password": PASSWORD}
        )
        refresh = r.json()["refresh_token"]
        r = await api.http.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
        assert r.status_code == 200
        secrets += [refresh, r.json()["refresh_token"], r.json()["access_token"]]
        # A wrong password is logged as a failure, without the password.
        wrong = f"wrong-{uuid.uuid4().hex}"
        await api.http.post(
            "/api/v1/auth/token", data={"username": alice.username, "password": wrong}
        )
        secrets.append(wrong)

        conv = await api.group(alice, [bob])
        socket = await Client.open(srv.ws_url, bob.token)
        try:
            r = await api.http.post(
                "/api/v1/media", headers=alice.headers, files={"file": ("p.png", _png())}
            )
            media_id = r.json()["id"]
            r = await api.http.post(
                f"/api/v1/conversations/{conv}/messages",
                headers={**alice.headers, "X-Request-ID": "trace-me-1"},
                json={"body": body, "attachment_ids": [media_id]},
            )
            assert r.status_code == 201 and r.headers["x-request-id"] == "trace-me-1"
            new = await socket.expect("message.new")
            url = new["message"]["attachments"][0]["url"]
            assert (await api.http.get(url)).status_code == 200
            signature = url.split("sig=")[1].split("&")[0]
            secrets.append(signature)
            # A request id the client did not choose well is replaced by ours.
            r = await api.http.get("/healthz", headers={"X-Request-ID": "bad id <script>"})
            assert len(r.headers["x-request-id"]) == 16
        finally:
            await socket.aclose()
    srv.stop()

    lines = (tmp_path / f"server-{srv.port}.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert entries and all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    text = "\n".join(lines)
    for secret in secrets:
        assert secret not in text, f"a secret reached the log: {secret[:12]}…"
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    assert access and all(e.get("request_id") for e in access)
    assert any(e.get("request_id") == "trace-me-1" for e in access)
    assert any("sig=[redacted]" in e["message"] for e in access)
    sockets = [e for e in entries if e["logger"].startswith("chatapi.api.gateway")]
    assert sockets and all(e.get("session_id") for e in sockets)
