"""Operations: settings, secrets, health checks, migrations, the CLI."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlmodel import SQLModel

# src imports (module paths may move with the code under test)
import chatapi.models  # noqa: F401
from chatapi.db import create_engine
from chatapi.main import create_app
from chatapi.models import is_search_index
from chatapi.settings import ConfigError, Settings
from helpers import ROOT


def test_production_without_secret_key_refuses_to_start(tmp_path: Path, no_env: None) -> None:
    settings = Settings(_env_file=None, environment="production", var_dir=tmp_path)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(settings)


def test_chatapi_serve_in_production_without_secret_exits_with_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(ENVIRONMENT="production", VAR_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "chatapi.cli", "serve", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr


def test_development_secret_is_generated_once_with_mode_0600(tmp_path: Path, no_env: None) -> None:
    first = Settings(_env_file=None, var_dir=tmp_path).signing_key  # type: ignore[call-arg]
    key_file = tmp_path / "secret_key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = Settings(_env_file=None, var_dir=tmp_path).signing_key  # type: ignore[call-arg]
    assert first == second and len(first) >= 32


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://chat.example.com, http://localhost:5173/")
    monkeypatch.setenv("ACCESS_TOKEN_TTL_SECONDS", "120")
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "1000")
    monkeypatch.setenv("REDIS_URL", "")
    s = Settings(_env_file=None, var_dir=tmp_path)  # type: ignore[call-arg]
    assert s.allowed_origins == ["https://chat.example.com", "http://localhost:5173"]
    assert s.access_token_ttl_seconds == 120
    assert s.max_upload_bytes == 1000
    assert s.redis_url is None
    assert s.resolved_database_url.startswith("sqlite+aiosqlite:///")


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "checks": {}}
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"]["database"] == "ok"


async def test_readyz_reports_an_unreachable_database(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        var_dir=tmp_path,
        secret_key="x" * 40,
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["database"].startswith("down")


def _diff(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "include_object": lambda obj, name, *_: not is_search_index(name),
        },
    )
    return list(compare_metadata(ctx, SQLModel.metadata))


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    await engine.dispose()
    assert diff == []


def test_chatapi_migrate_creates_the_sqlite_database(tmp_path: Path) -> None:
    env = dict(os.environ, VAR_DIR=str(tmp_path / "var"), DATABASE_URL="")
    result = subprocess.run(
        [sys.executable, "-m", "chatapi.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "chatapi.db").is_file()


def test_upgrading_a_sqlite_database_with_data_keeps_every_row(tmp_path: Path) -> None:
    """A migration that copies a table (Alembic's batch mode on SQLite) must not take the
    rows that reference it along: 9a55e7de5e70 once copied `users`, and dropping the old
    copy with foreign keys on deleted every refresh token (ON DELETE CASCADE)."""
    import sqlite3

    env = dict(os.environ, VAR_DIR=str(tmp_path), DATABASE_URL="", SECRET_KEY="x")
    db = tmp_path / "chatapi.db"

    def alembic(*args: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "alembic", *args],
            env=env | {"DATABASE_URL": f"sqlite+aiosqlite:///{db}"},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr

    alembic("upgrade", "f1ead4686879")
    at = "2026-01-01 00:00:00.000000"
    alice, bob, conv = (uuid.uuid4().hex for _ in range(3))
    with sqlite3.connect(db) as c:
        for user, name in ((alice, "alice"), (bob, "bob")):
            c.execute(
                "INSERT INTO users (id, username, display_name, password_hash, created_at)"
                " VALUES (?, ?, ?, 'x', ?)",
                (user, name, name, at),
            )
        c.execute(
            "INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, '2099-01-01 00:00:00.000000')",
            (uuid.uuid4().hex, alice, uuid.uuid4().hex, "h" * 64, at),
        )
        c.execute(
            "INSERT INTO conversations (id, kind, title, created_by, created_at,"
            " last_activity_at, last_seq) VALUES (?, 'group', 'g', ?, ?, ?, 1)",
            (conv, alice, at, at),
        )
        for user in (alice, bob):
            c.execute(
                "INSERT INTO conversation_members (conversation_id, user_id, role, joined_at,"
                " last_read_seq, last_delivered_seq) VALUES (?, ?, 'member', ?, 0, 0)",
                (conv, user, at),
            )
        c.execute(
            "INSERT INTO messages (id, conversation_id, seq, sender_id, body, created_at)"
            " VALUES (?, ?, 1, ?, 'hello', ?)",
            (uuid.uuid4().hex, conv, alice, at),
        )
    tables = ("users", "refresh_tokens", "conversations", "conversation_members", "messages")
    with sqlite3.connect(db) as c:
        before = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    alembic("upgrade", "head")
    with sqlite3.connect(db) as c:
        after = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    assert (
        after
        == before
        == {
            "users": 2,
            "refresh_tokens": 1,
            "conversations": 1,
            "conversation_members": 2,
            "messages": 1,
        }
    )


async def test_web_client_routes_fall_back_to_index(tmp_path: Path, settings: Settings) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<html>chatapi web</html>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    settings.web_dist_dir = dist
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert "chatapi web" in (await c.get("/")).text
            assert "chatapi web" in (await c.get("/conversations/123")).text
            assert (await c.get("/assets/app.js")).text == "console.log(1)"
            assert (await c.get("/../secret")).status_code in (200, 404)
            assert (await c.get("/api/v1/nope")).status_code == 404
            assert (await c.get("/healthz")).status_code == 200
            assert (await c.get("/docs")).status_code == 200


def test_several_workers_without_redis_are_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(VAR_DIR=str(tmp_path), REDIS_URL="")
    result = subprocess.run(
        [sys.executable, "-m", "chatapi.cli", "serve", "--workers", "2", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr


async def test_reads_do_not_wait_for_an_open_write_transaction(
    client: httpx.AsyncClient, app: Any, backend: str
) -> None:
    import asyncio

    from sqlalchemy import text as sql

    r = await client.post("/api/v1/auth/register", json={"username": "reader", "password": "p" * 8})
    assert r.status_code == 201
    tokens = (
        await client.post("/api/v1/auth/token", data={"username": "reader", "password": "p" * 8})
    ).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    state = app.state.chat
    async with state.uow() as writer:
        # A writer holds its transaction (on SQLite: the write lock) open...
        await writer.session.execute(sql("UPDATE users SET display_name = display_name"))
        # ...and reads still answer meanwhile instead of queueing behind it.
        me = await asyncio.wait_for(client.get("/api/v1/users/me", headers=headers), 10)
        listed = await asyncio.wait_for(client.get("/api/v1/conversations", headers=headers), 10)
        await writer.rollback()
    assert me.status_code == 200 and listed.status_code == 200


async def test_read_only_unit_of_work_refuses_to_commit(app: Any) -> None:
    async with app.state.chat.read_uow() as uow:
        with pytest.raises(RuntimeError, match="read-only"):
            await uow.commit()
