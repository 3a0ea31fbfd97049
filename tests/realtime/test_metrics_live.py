"""`/metrics` of a real server after a short load: every metric README lists is there and
moves — sockets, frames, deliveries, send→ack, group-commit batches, outbox closes, the
broker's failures and reconnects across a Redis outage, HTTP requests, uploads."""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
from pathlib import Path

import httpx
import pytest
from PIL import Image

from helpers import eventually
from servers import Api, Client, RawClient, Server, free_port, server_env, start_redis

pytestmark = pytest.mark.slow

TOKEN = "scrape-me"


def _values(text: str, name: str) -> float:
    """The sum of every series of `name` (a histogram: its `_count`)."""
    total = 0.0
    for line in text.splitlines():
        m = re.fullmatch(rf"{re.escape(name)}(?:\{{.*\}})? (\S+)", line)
        if m:
            total += float(m.group(1))
    return total


async def test_every_metric_is_present_and_moves_under_a_short_load(
    tmp_path: Path, sqlite_template: Path, request: pytest.FixtureRequest
) -> None:
    port = free_port()
    redis_proc = start_redis(port)
    request.addfinalizer(lambda: (redis_proc.kill(), redis_proc.wait()))
    db = tmp_path / "chatapi.db"
    shutil.copy(sqlite_template, db)
    env = server_env(
        tmp_path, f"sqlite+aiosqlite:///{db}", redis_url=f"redis://127.0.0.1:{port}/0",
        redis_prefix="metrics", metrics_enabled="true", metrics_token=TOKEN,
        ws_outbox_size=100_000, ws_outbox_bytes=64 * 1024,
    )  # fmt: skip
    srv = Server(tmp_path / "server", env)
    srv.start()
    request.addfinalizer(srv.stop)
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async with Api(srv.base_url) as api:

        async def scrape() -> str:
            r = await api.http.get("/metrics", headers=auth)
            assert r.status_code == 200
            return r.text

        before = await scrape()
        alice, bob, stalled = await api.signup(), await api.signup(), await api.signup()
        conv = await api.group(alice, [bob, stalled])
        a = await Client.open(srv.ws_url, alice.token)
        b = await Client.open(srv.ws_url, bob.token)
        raw = RawClient(srv.port)  # authenticates, then never reads: closed 1013
        request.addfinalizer(raw.close)
        raw.send_text(json.dumps({"type": "auth", "token": stalled.token}))
        assert json.loads(await asyncio.to_thread(raw.first_text))["type"] == "ready"
        during = await scrape()
        assert _values(during, "chatapi_websockets_open") >= 3
        assert _values(during, "chatapi_users_online") >= 3
        try:
            for i in range(5):
                await a.send({"type": "message.send", "conversation_id": conv,
                              "client_id": f"m{i}", "body": f"hello {i}"})  # fmt: skip
                await a.expect("message.ack")
            await b.send({"type": "typing", "conversation_id": conv, "state": "start"})
            body = "\U0001f600" * 3900  # 16 KB frames fill the stalled reader's outbox
            for i in range(300):
                await api.post(alice, conv, f"{i} {body}")
            buf = io.BytesIO()
            Image.new("RGB", (20, 20), "red").save(buf, "PNG")
            r = await api.http.post(
                "/api/v1/media", headers=alice.headers, files={"file": ("p.png", buf.getvalue())}
            )
            assert r.status_code == 201
            # A Redis outage: publishes fail (local sockets still get everything), then the
            # subscription comes back.
            redis_proc.kill()
            redis_proc.wait()
            await api.post(alice, conv, "while redis is down")
            redis_new = start_redis(port)
            request.addfinalizer(lambda: (redis_new.kill(), redis_new.wait()))

            async def reconnected() -> bool:
                return _values(await scrape(), "chatapi_broker_reconnects_total") > _values(
                    before, "chatapi_broker_reconnects_total"
                )

            await eventually(reconnected, timeout=20)
        finally:
            await a.aclose()
            await b.aclose()
        after = await scrape()

    moved = {
        "chatapi_http_requests_total",
        "chatapi_http_request_duration_seconds_count",
        "chatapi_uploads_total",
        "chatapi_upload_bytes_total",
        "chatapi_frames_in_total",
        "chatapi_frames_out_total",
        "chatapi_deliveries_total",
        "chatapi_outbox_closes_total",
        "chatapi_send_ack_seconds_count",
        "chatapi_commit_batch_size_count",
        "chatapi_commit_seconds_count",
        "chatapi_broker_publish_failures_total",
        "chatapi_broker_reconnects_total",
    }
    still = [m for m in sorted(moved) if _values(after, m) <= _values(before, m)]
    assert not still, f"these metrics did not move: {still}"
    for gauge in ("chatapi_websockets_open", "chatapi_users_online"):
        assert re.search(rf"^{gauge} ", after, re.M), gauge
    assert _values(after, "chatapi_frames_in_total") >= 6  # 3 auth, 5 sends, a typing
    assert 'type="message.send"' in after


async def test_scraping_needs_the_token(tmp_path: Path, sqlite_template: Path) -> None:
    db = tmp_path / "chatapi.db"
    shutil.copy(sqlite_template, db)
    env = server_env(
        tmp_path, f"sqlite+aiosqlite:///{db}", redis_url=None, redis_prefix="unused",
        metrics_enabled="true", metrics_token=TOKEN,
    )  # fmt: skip
    srv = Server(tmp_path / "server", env)
    srv.start()
    try:
        async with httpx.AsyncClient(base_url=srv.base_url) as http:
            assert (await http.get("/metrics")).status_code == 401
            bad = {"Authorization": "Bearer nope"}
            assert (await http.get("/metrics", headers=bad)).status_code == 401
    finally:
        srv.stop()
