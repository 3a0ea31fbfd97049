"""Test fixtures: a real database per test (SQLite always; PostgreSQL when
TEST_DATABASE_URL is set), real Redis when REDIS_URL is set, the app over httpx."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from chatapi.cli import migrate
from chatapi.db import create_engine
from chatapi.main import create_app
from chatapi.settings import Settings

PG_URL = os.environ.get("TEST_DATABASE_URL") or None
REDIS_URL = os.environ.get("REDIS_URL") or None
BACKENDS = ["sqlite", *(["postgres"] if PG_URL else [])]
PASSWORD = "correct horse battery"
GENEROUS_QUOTAS: dict[str, Any] = {
    "register_rate_limit": "100000/hour",
    "message_rate_limit": "100000/second",
    "member_add_rate_limit": "100000/hour",
    "ws_max_sockets_per_user": 10000,
}


def pytest_configure(config: pytest.Config) -> None:
    # The suite must not read a developer's .env or write under ./var.
    os.environ.pop("DATABASE_URL", None)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(make_settings(tmp_path_factory.mktemp("var"), f"sqlite+aiosqlite:///{path}"))
    return path


_pg_migrated = False


async def _prepare_postgres() -> None:
    global _pg_migrated
    assert PG_URL
    if not _pg_migrated:
        engine = create_engine(PG_URL)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
        await asyncio.to_thread(migrate, make_settings(Path("/tmp"), PG_URL))
        _pg_migrated = True
    await truncate_postgres(PG_URL)


async def truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        tables = (
            await conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ).scalars()
        names = ", ".join(f'"{t}"' for t in tables)
        if names:
            await conn.execute(text(f"TRUNCATE {names} CASCADE"))
    await engine.dispose()


def make_settings(var_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "var_dir": var_dir,
        "database_url": database_url,
        "secret_key": "test-secret-key-not-for-production",
        "redis_url": REDIS_URL,
        "redis_prefix": f"chatapi-test-{uuid.uuid4().hex[:12]}",
        "media_dir": var_dir / "media",
        "allowed_origins": ["http://allowed.example"],
        # Cheap argon2 for speed; production cost is the default.
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 1024,
        # Quotas far above what any test does; tests of a quota set their own.
        **GENEROUS_QUOTAS,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, tmp_path: Path, sqlite_template: Path) -> str:
    if backend == "sqlite":
        target = tmp_path / "chatapi.db"
        shutil.copy(sqlite_template, target)
        return f"sqlite+aiosqlite:///{target}"
    await _prepare_postgres()
    assert PG_URL
    return PG_URL


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def settings(tmp_path: Path, database_url: str, settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(tmp_path, database_url, **settings_overrides)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass
class Account:
    id: str
    username: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


Signup = Callable[..., Awaitable[Account]]


@pytest.fixture
def signup(client: httpx.AsyncClient) -> Signup:
    """Register a user and log in; returns the account with its tokens."""

    async def _signup(username: str | None = None, password: str = PASSWORD) -> Account:
        username = username or f"u{uuid.uuid4().hex[:10]}"
        r = await client.post(
            "/api/v1/auth/register", json={"username": username, "password": password}
        )
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]
        r = await client.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
        assert r.status_code == 200, r.text
        tokens = r.json()
        return Account(user_id, username, tokens["access_token"], tokens["refresh_token"])

    return _signup


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("SECRET_KEY", "ENVIRONMENT", "DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    yield
