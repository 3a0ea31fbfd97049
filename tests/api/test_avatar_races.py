"""Profile pictures changed at once from several devices, on PostgreSQL (SQLite serialises
writers, so this runs only with TEST_DATABASE_URL): every change counts, and no file is
left behind that no picture uses."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from helpers import PG_URL, Signup

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)"),
]

ROUNDS = 8
AT_ONCE = 4


@pytest.fixture
def backend() -> str:
    return "postgres"


def png(shade: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (shade, 80, 160)).save(buf, "PNG")
    return buf.getvalue()


def stored_files(media_dir: Path) -> set[Path]:
    return {p for p in media_dir.rglob("*") if p.is_file() and p.parent.name != "tmp"}


async def test_concurrent_picture_changes_keep_exactly_the_last_pictures_files(
    client: httpx.AsyncClient, signup: Signup, settings: Any
) -> None:
    alice = await signup()
    media_dir = settings.resolved_media_dir

    async def upload(shade: int) -> dict[str, Any]:
        r = await client.put(
            "/api/v1/users/me/avatar",
            headers=alice.headers,
            files={"file": ("me.png", png(shade), "image/png")},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def remove() -> None:
        r = await client.delete("/api/v1/users/me/avatar", headers=alice.headers)
        assert r.status_code == 200, r.text

    for n in range(ROUNDS):
        await asyncio.gather(*(upload(n * AT_ONCE + i) for i in range(AT_ONCE)))
        me = (await client.get("/api/v1/users/me", headers=alice.headers)).json()
        # Every change took its own version (none lost), and only the last picture's two
        # files are stored.
        assert httpx.URL(me["avatar_url"]).params["version"] == str((n + 1) * AT_ONCE)
        assert len(stored_files(media_dir)) == 2, f"round {n}"
        assert (await client.get(me["avatar_url"])).status_code == 200

    for n in range(ROUNDS):
        await asyncio.gather(upload(n), remove(), upload(n + 100), remove())
        me = (await client.get("/api/v1/users/me", headers=alice.headers)).json()
        files = stored_files(media_dir)
        assert len(files) == (2 if me["avatar_url"] else 0), f"mixed round {n}"
