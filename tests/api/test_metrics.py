"""`GET /metrics`: off unless enabled, behind its token when one is set, and counting."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
import pytest
from PIL import Image

from helpers import CONV, Signup, group

TOKEN = "metrics-token-for-tests"


def _value(text: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus' text format (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if m and ",".join(sorted((m.group(1) or "").split(","))) == want:
            return float(m.group(2))
    return 0.0


async def test_metrics_are_off_by_default(client: httpx.AsyncClient) -> None:
    # (The web client's page answers unknown paths: no metrics in it.)
    assert "chatapi_http_requests_total" not in (await client.get("/metrics")).text


@pytest.mark.parametrize("settings_overrides", [{"metrics_enabled": True, "metrics_token": TOKEN}])
async def test_metrics_count_requests_by_route_and_uploads(
    client: httpx.AsyncClient, signup: Signup, settings_overrides: dict[str, Any]
) -> None:
    assert (await client.get("/metrics")).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = (await client.get("/metrics", headers=auth)).text
    alice, bob = await signup(), await signup()
    conv = (await group(client, alice, bob))["id"]
    for _ in range(3):
        assert (await client.get(f"{CONV}/{conv}", headers=alice.headers)).status_code == 200
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), "red").save(buf, "PNG")
    r = await client.post(
        "/api/v1/media", headers=alice.headers, files={"file": ("a.png", buf.getvalue())}
    )
    assert r.status_code == 201
    after = (await client.get("/metrics", headers=auth)).text
    route = "/api/v1/conversations/{conversation_id}"
    series = {"route": route, "method": "GET", "status": "200"}
    assert (
        _value(after, "chatapi_http_requests_total", **series)
        - _value(before, "chatapi_http_requests_total", **series)
        == 3
    )
    # One series per route template, never per conversation id.
    assert conv not in after
    count = "chatapi_http_request_duration_seconds_count"
    assert _value(after, count, route=route, method="GET") >= 3
    assert _value(after, "chatapi_uploads_total") - _value(before, "chatapi_uploads_total") == 1
    grew = _value(after, "chatapi_upload_bytes_total") - _value(
        before, "chatapi_upload_bytes_total"
    )
    assert grew == r.json()["size"]
