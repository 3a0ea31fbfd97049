"""Backups: `chatapi backup` takes a consistent snapshot of the database and the media
files; `chatapi restore` puts exactly that into an empty instance."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

# src imports (module paths may move with the code under test)
from chatapi import backup
from chatapi.cli import migrate
from chatapi.main import create_app
from chatapi.settings import Settings
from helpers import CONV, PASSWORD, PG_URL, Account, Signup, group, make_settings


def _png(colour: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buf, "PNG")
    return buf.getvalue()


async def _send(
    client: httpx.AsyncClient, who: Account, conv: str, body: str, file: bytes | None = None
) -> dict[str, Any]:
    attachment_ids = []
    if file is not None:
        r = await client.post(
            "/api/v1/media", headers=who.headers, files={"file": ("p.png", file, "image/png")}
        )
        assert r.status_code == 201, r.text
        attachment_ids.append(r.json()["id"])
    r = await client.post(
        f"{CONV}/{conv}/messages",
        headers=who.headers,
        json={"body": body, "attachment_ids": attachment_ids},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _empty_target(backend: str, workdir: Path) -> str:
    """A database URL of a new, empty instance: a new SQLite file, or a second
    PostgreSQL database (created once, emptied here)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / 'chatapi.db'}"
    assert PG_URL
    url = make_url(PG_URL)
    name = f"{url.database}_restore"
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            )
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    target = url.set(database=name).render_as_string(hide_password=False)
    engine = create_async_engine(target)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
    return target


async def _serve(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_a_restored_instance_has_exactly_what_was_backed_up(
    client: httpx.AsyncClient, signup: Signup, settings: Settings, backend: str, tmp_path: Path
) -> None:
    alice, bob = await signup(), await signup()
    conv = str((await group(client, alice, bob, title="Kept"))["id"])
    await _send(client, alice, conv, "one")
    await _send(client, bob, conv, "two")
    photo = _png("blue")
    await _send(client, alice, conv, "photo", photo)

    folder = tmp_path / "backup"
    summary = await asyncio.to_thread(backup.backup, settings, folder)
    assert (summary.users, summary.messages, summary.media, summary.files) == (2, 3, 1, 2)
    assert (folder / "manifest.json").exists()

    # What happens after the backup is not in it.
    await _send(client, bob, conv, "after the backup", _png("red"))
    await signup()

    workdir = tmp_path / "restored"
    workdir.mkdir()
    target = make_settings(workdir, await _empty_target(backend, workdir))
    restored = await asyncio.to_thread(backup.restore, target, folder, migrate=migrate)
    assert (restored.users, restored.messages, restored.media, restored.files) == (2, 3, 1, 2)

    async for other in _serve(target):
        # Accounts and passwords come back; so do the messages, and the photo's bytes.
        r = await other.post(
            "/api/v1/auth/token", data={"username": alice.username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        messages = (await other.get(f"{CONV}/{conv}/messages", headers=headers)).json()
        assert [m["body"] for m in messages] == ["one", "two", "photo"]
        attachment = messages[-1]["attachments"][0]
        assert (await other.get(attachment["url"])).content == photo
        assert (await other.get(attachment["thumbnail_url"])).status_code == 200
        listed = (await other.get(CONV, headers=headers)).json()
        assert [(c["title"], c["last_seq"]) for c in listed] == [("Kept", messages[-1]["seq"])]

    # A restore never overwrites an instance with accounts.
    with pytest.raises(backup.BackupError, match="already has accounts"):
        await asyncio.to_thread(backup.restore, target, folder, migrate=migrate)


async def test_backup_refuses_a_folder_in_use_and_restore_a_folder_that_is_no_backup(
    settings: Settings, tmp_path: Path
) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    with pytest.raises(backup.BackupError, match="not an empty folder"):
        await asyncio.to_thread(backup.backup, settings, used)
    target = make_settings(tmp_path / "t", f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    with pytest.raises(backup.BackupError, match="not a chatapi backup"):
        await asyncio.to_thread(backup.restore, target, used, migrate=migrate)
