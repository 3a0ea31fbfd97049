"""Test fixtures: a real database per test (SQLite always; PostgreSQL when
TEST_DATABASE_URL is set), real Redis when REDIS_URL is set, the app over httpx.

Only fixtures live here; the helpers they use are in helpers.py."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

# src imports (module paths may move with the code under test)
from chatapi.cli import migrate
from chatapi.main import create_app
from chatapi.settings import Settings
from helpers import (
    BACKENDS,
    OIDC_TEST_PROVIDERS,
    PASSWORD,
    PG_URL,
    Account,
    Signup,
    create_worker_database,
    make_settings,
    prepare_postgres,
)
from servers import OpenIDProviderProcess, oidc_provider_missing


def pytest_configure(config: pytest.Config) -> None:
    # The suite must not read a developer's .env or write under ./var.
    os.environ.pop("DATABASE_URL", None)
    # A pytest-xdist worker's own PostgreSQL database, before any test or server uses it.
    asyncio.run(create_worker_database())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(make_settings(tmp_path_factory.mktemp("var"), f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, tmp_path: Path, sqlite_template: Path) -> str:
    if backend == "sqlite":
        target = tmp_path / "chatapi.db"
        shutil.copy(sqlite_template, target)
        return f"sqlite+aiosqlite:///{target}"
    await prepare_postgres()
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


@pytest.fixture(scope="session")
def openid_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenIDProviderProcess]:
    """A real OpenID Provider (oidc-provider, tests/oidc) for the whole run, accepting the
    callbacks of the in-process app's test providers; stopped at the end."""
    missing = oidc_provider_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    op = OpenIDProviderProcess(
        redirect_uris=[
            f"http://testserver/api/v1/auth/oidc/{name}/callback" for name in OIDC_TEST_PROVIDERS
        ]
    )
    op.start(tmp_path_factory.mktemp("openid-provider"))
    yield op
    op.stop()
