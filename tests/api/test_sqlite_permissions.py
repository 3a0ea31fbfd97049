"""The SQLite database holds password hashes and every message: its file and its -wal
and -shm companions are readable by the service's user only (0600), like the secret key,
whatever the umask — new ones and existing ones alike."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import httpx

from chatapi.cli import migrate
from chatapi.main import create_app
from helpers import PASSWORD, make_settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_sqlite_database_and_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    db = tmp_path / "data" / "chatapi.db"
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{db}")
    old_umask = os.umask(0o022)  # the usual umask: files would be 0644
    try:
        await asyncio.to_thread(migrate, settings)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                r = await client.post(
                    "/api/v1/auth/register", json={"username": "perm", "password": PASSWORD}
                )
                assert r.status_code == 201
            wal, shm = db.with_name("chatapi.db-wal"), db.with_name("chatapi.db-shm")
            assert wal.exists() and shm.exists()  # open while the app runs (WAL mode)
            assert (mode(db), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    finally:
        os.umask(old_umask)
    assert mode(db) == 0o600


async def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    db = tmp_path / "chatapi.db"
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{db}")
    await asyncio.to_thread(migrate, settings)
    for path in (db, db.with_name("chatapi.db-wal")):
        path.touch()
        os.chmod(path, 0o644)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert mode(db) == 0o600
        assert mode(db.with_name("chatapi.db-wal")) == 0o600
