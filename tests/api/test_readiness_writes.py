"""Readiness follows writes: when the media store or the database refuses writes (a full
disk, a read-only volume), `/readyz` answers 503 naming the store, the failing request
gets a 503 `storage_unavailable` (not a 500), and readiness comes back by itself once a
write works again. Failures are made for real: a media directory that cannot exist (a
file is in its way), an SQLite database that refuses writes."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from chatapi.api.state import AppState
from chatapi.main import create_app
from chatapi.settings import Settings
from helpers import Signup, make_settings

API = "/api/v1"


async def readiness(client: httpx.AsyncClient) -> tuple[int, dict[str, str]]:
    r = await client.get("/readyz")
    checks: dict[str, str] = r.json()["checks"]
    return r.status_code, checks


async def ready(client: httpx.AsyncClient) -> bool:
    """200, and every check (database, media, the broker when there is one) is ok."""
    status, checks = await readiness(client)
    return status == 200 and {"database", "media"} <= set(checks) and set(checks.values()) == {"ok"}


async def upload(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post(
        f"{API}/media", files={"file": ("a.txt", b"some text\n", "text/plain")}, headers=headers
    )


@pytest.fixture
def blocked_media(tmp_path: Path) -> Path:
    """A media directory that cannot be created: a file sits where its parent should be."""
    (tmp_path / "volume").write_text("not a directory")
    return tmp_path / "volume" / "media"


async def test_media_dir_that_cannot_exist_is_not_ready_until_it_can(
    tmp_path: Path, database_url: str, blocked_media: Path
) -> None:
    settings = make_settings(tmp_path, database_url, media_dir=blocked_media)
    app = create_app(settings)
    async with app.router.lifespan_context(app):  # starts: reads still work
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            status, checks = await readiness(client)
            assert status == 503
            assert checks["media"].startswith("writes failing: ENOTDIR"), checks
            assert checks["database"] == "ok"

            r = await client.post(
                f"{API}/auth/register", json={"username": "mediafail", "password": "long enough"}
            )
            assert r.status_code == 201  # the database is fine
            r = await client.post(
                f"{API}/auth/token", data={"username": "mediafail", "password": "long enough"}
            )
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            r = await upload(client, headers)
            assert r.status_code == 503, r.text
            assert r.json()["code"] == "storage_unavailable"
            assert r.headers["retry-after"]
            assert (await readiness(client))[0] == 503

            # The volume is mounted after all: the next check writes, and is ready.
            (tmp_path / "volume").unlink()
            blocked_media.mkdir(parents=True)
            assert await ready(client)
            assert (await upload(client, headers)).status_code == 201


async def test_media_writes_failing_at_run_time(
    client: httpx.AsyncClient, signup: Signup, settings: Settings
) -> None:
    alice = await signup()
    assert (await upload(client, alice.headers)).status_code == 201
    assert (await readiness(client))[0] == 200

    media = settings.resolved_media_dir
    moved = media.with_name("media-away")
    media.rename(moved)
    media.write_text("the disk went away")  # every write under it fails with ENOTDIR
    r = await upload(client, alice.headers)
    assert (r.status_code, r.json()["code"]) == (503, "storage_unavailable")
    status, checks = await readiness(client)
    assert status == 503 and checks["media"].startswith("writes failing: ENOTDIR"), checks
    # Reads and database writes go on.
    r = await client.patch(f"{API}/users/me", json={"display_name": "A"}, headers=alice.headers)
    assert r.status_code == 200

    media.unlink()
    moved.rename(media)
    assert (await readiness(client))[0] == 200
    assert (await upload(client, alice.headers)).status_code == 201


@pytest.fixture
async def sqlite_app(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[FastAPI]:
    db = tmp_path / "chatapi.db"
    shutil.copy(sqlite_template, db)
    app = create_app(make_settings(tmp_path, f"sqlite+aiosqlite:///{db}"))
    async with app.router.lifespan_context(app):
        yield app


async def refuse_writes(state: AppState, refuse: bool) -> None:
    """Every new connection of the app's engine is read-only (SQLite's query_only, as
    for a database file on a volume that went read-only) or writable again."""
    sync_engine = state.engine.sync_engine

    def read_only(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.cursor().execute("PRAGMA query_only = ON")

    if refuse:
        event.listen(sync_engine, "connect", read_only)
        state.refuse_writes_listener = read_only  # type: ignore[attr-defined]
    else:
        event.remove(sync_engine, "connect", state.refuse_writes_listener)  # type: ignore[attr-defined]
    await state.engine.dispose()  # reconnect every connection, with or without the pragma


async def test_database_writes_failing_make_readiness_fail_until_a_write_works(
    sqlite_app: FastAPI,
) -> None:
    state: AppState = sqlite_app.state.chat
    transport = httpx.ASGITransport(app=sqlite_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.post(
            f"{API}/auth/register", json={"username": "dbfail", "password": "long enough"}
        )
        assert r.status_code == 201
        r = await client.post(
            f"{API}/auth/token", data={"username": "dbfail", "password": "long enough"}
        )
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await client.post(
            f"{API}/conversations", json={"kind": "group", "title": "g"}, headers=headers
        )
        conversation = r.json()["id"]
        assert (await readiness(client))[0] == 200

        await refuse_writes(state, True)
        r = await client.post(
            f"{API}/conversations/{conversation}/messages", json={"body": "hi"}, headers=headers
        )
        assert (r.status_code, r.json()["code"]) == (503, "storage_unavailable"), r.text
        status, checks = await readiness(client)
        assert status == 503
        assert checks["database"].startswith("writes failing: OperationalError"), checks
        assert "readonly" in checks["database"]
        # Reads still work meanwhile.
        r = await client.get(f"{API}/conversations/{conversation}/messages", headers=headers)
        assert r.status_code == 200 and r.json() == []

        await refuse_writes(state, False)
        # The readiness check's own harmless write succeeds: ready again, and writes work.
        assert await ready(client)
        r = await client.post(
            f"{API}/conversations/{conversation}/messages", json={"body": "hi"}, headers=headers
        )
        assert r.status_code == 201
