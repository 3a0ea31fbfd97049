"""Backups: a consistent snapshot of the database and the media files, and restoring one
into an empty instance (`chatapi backup PATH`, `chatapi restore PATH`).

A backup is a folder:

    manifest.json     what it holds: the format, the schema revision, counts, when
    database.sqlite   SQLite: a copy made with SQLite's online backup API, or
    database.pgdump   PostgreSQL: `pg_dump --format=custom` (one consistent snapshot)
    media/            the stored files, under their storage keys

The database is copied first and the media after it, so every file the snapshot names
is in the backup (a file uploaded meanwhile may come along too; the orphan sweep removes
it after a restore). The secret key is not part of a backup: keep SECRET_KEY with your
other secrets. After a restore everyone signs in again if the key differs.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection, make_url

from chatapi import __version__
from chatapi.db import create_engine
from chatapi.models import Conversation, Media, Message, User
from chatapi.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite"
PG_FILE = "database.pgdump"
MEDIA = "media"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Summary:
    users: int
    conversations: int
    messages: int
    media: int
    files: int
    file_bytes: int

    def line(self) -> str:
        return (
            f"{self.users} users, {self.conversations} conversations, {self.messages} "
            f"messages, {self.media} media ({self.files} files, {self.file_bytes} bytes)"
        )


# --- backup ------------------------------------------------------------------------------


def backup(settings: Settings, target: Path) -> Summary:
    """Write a backup of the instance `settings` describe into the folder `target`
    (which must not exist, or be empty)."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} exists and is not an empty folder: choose a new one.")
    target.mkdir(parents=True, exist_ok=True)
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        database = _sqlite_path(settings)
        if not database.exists():
            raise BackupError(f"There is no database at {database}: nothing to back up.")
        _sqlite_copy(database, target / SQLITE_FILE)
        kind = "sqlite"
    else:
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
              "--file", str(target / PG_FILE), _libpq_url(settings)], settings)  # fmt: skip
        kind = "postgresql"
    revision, counts = asyncio.run(_describe(settings))
    files, size = _copy_media(settings.resolved_media_dir, target / MEDIA)
    summary = Summary(**counts, files=files, file_bytes=size)
    manifest = {
        "format": FORMAT,
        "chatapi_version": __version__,
        "created_at": datetime.now(UTC).isoformat(),
        "database": kind,
        "revision": revision,
        "counts": counts,
        "media_files": files,
        "media_bytes": size,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    os.chmod(target, 0o700)
    return summary


def _sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.resolved_database_url).database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    return Path(database)


def _sqlite_copy(source: Path, destination: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API: it sees one
    committed state, WAL included, while the server keeps running)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(destination)
    try:
        with dst:
            src.backup(dst)
    finally:
        src.close()
        dst.close()
    os.chmod(destination, 0o600)


def _copy_media(root: Path, destination: Path) -> tuple[int, int]:
    files = size = 0
    destination.mkdir(parents=True, exist_ok=True)
    if not root.exists():
        return 0, 0
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or relative.parts[0] == "tmp":
            continue  # uploads in flight are not media yet
        out = destination / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, out)
        files += 1
        size += out.stat().st_size
    return files, size


async def _describe(settings: Settings) -> tuple[str | None, dict[str, int]]:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with engine.connect() as conn:
            revision = (
                await conn.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar()
            counts = {}
            for name, model in (
                ("users", User),
                ("conversations", Conversation),
                ("messages", Message),
                ("media", Media),
            ):
                counts[name] = int(
                    (await conn.execute(select(func.count()).select_from(model))).scalar_one()
                )
            return revision, counts
    finally:
        await engine.dispose()


# --- restore -----------------------------------------------------------------------------


def restore(settings: Settings, source: Path, *, migrate: Callable[[Settings], None]) -> Summary:
    """Restore the backup in `source` into the (empty) instance `settings` describe,
    then `migrate` it to this version's schema (a backup of an older version)."""
    manifest = _read_manifest(source)
    url = make_url(settings.resolved_database_url)
    kind = "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"
    if manifest["database"] != kind:
        raise BackupError(
            f"This backup is of a {manifest['database']} database; DATABASE_URL points to "
            f"{kind}. Restore it into the same kind of database."
        )
    asyncio.run(_require_empty(settings))
    media_root = settings.resolved_media_dir
    if media_root.exists() and any(
        p.is_file() for p in media_root.rglob("*") if p.relative_to(media_root).parts[0] != "tmp"
    ):
        raise BackupError(f"The media folder {media_root} is not empty: restore into a new one.")
    if kind == "sqlite":
        _restore_sqlite(source / SQLITE_FILE, _sqlite_path(settings))
    else:
        asyncio.run(_reset_schema(settings))
        _run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
              "--dbname", _libpq_url(settings), str(source / PG_FILE)], settings)  # fmt: skip
    files, size = _copy_media(source / MEDIA, media_root)
    migrate(settings)
    _, counts = asyncio.run(_describe(settings))
    return Summary(**counts, files=files, file_bytes=size)


def _read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} is not a chatapi backup (no {MANIFEST}).") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Unknown backup format {manifest.get('format')!r} in {source}.")
    return manifest


async def _require_empty(settings: Settings) -> None:
    """Refuse to overwrite an instance that has accounts. A fresh or only migrated
    database is empty."""
    engine = create_engine(settings.resolved_database_url)
    try:
        async with engine.connect() as conn:
            has_users = await conn.run_sync(_has_users)
    finally:
        await engine.dispose()
    if has_users:
        raise BackupError(
            "The target database already has accounts. Restore into an empty instance: a "
            "new database (and MEDIA_DIR), migrated or not."
        )


def _has_users(conn: Connection) -> bool:
    if not inspect(conn).has_table("users"):
        return False
    return conn.execute(text("SELECT 1 FROM users LIMIT 1")).first() is not None


async def _reset_schema(settings: Settings) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


def _restore_sqlite(backup_file: Path, database: Path) -> None:
    database.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
    dst = sqlite3.connect(database)
    try:
        with dst:
            src.backup(dst)
    finally:
        src.close()
        dst.close()
    os.chmod(database, 0o600)


# --- PostgreSQL tools ----------------------------------------------------------------------


def _libpq_url(settings: Settings) -> str:
    """The database URL as pg_dump/pg_restore take it, without the password (passed in
    PGPASSWORD, so it never shows in a process list)."""
    url = make_url(settings.resolved_database_url).set(drivername="postgresql", password=None)
    return url.render_as_string(hide_password=False)


def _run(argv: list[str], settings: Settings) -> None:
    env = dict(os.environ)
    password = make_url(settings.resolved_database_url).password
    if password:
        env["PGPASSWORD"] = str(password)
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(
            f"{argv[0]} is not installed: install the PostgreSQL client tools "
            "(Debian: postgresql-client) matching your server's version."
        ) from None
    if done.returncode != 0:
        raise BackupError(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()[:2000]}")
