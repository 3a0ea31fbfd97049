"""Shared test helpers: configuration from the environment, settings for a test app, the
PostgreSQL test database, accounts and conversations over the REST API, and waiting.

Test modules and conftest.py import from here (never from each other); fixtures live in
conftest.py. Real server processes and WebSocket clients are in servers.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import inspect
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin

import httpx
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

# src imports (module paths may move with the code under test)
from chatapi.cli import migrate
from chatapi.db import create_engine
from chatapi.settings import Settings

# --- configuration ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]  # the repository


def _worker_database(url: str | None) -> str | None:
    """Under pytest-xdist each worker has a PostgreSQL database of its own (`test_gw0`, ...),
    created by conftest.py; alone, the suite uses TEST_DATABASE_URL's database itself."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


PG_URL = _worker_database(os.environ.get("TEST_DATABASE_URL") or None)
REDIS_URL = os.environ.get("REDIS_URL") or None
BACKENDS = ["sqlite", *(["postgres"] if PG_URL else [])]
PASSWORD = "correct horse battery"
SECRET = "test-secret-key-not-for-production"


# Quotas far above what any test does; tests of a quota set their own.
GENEROUS_QUOTAS: dict[str, Any] = {
    "register_rate_limit": "100000/hour",
    "message_rate_limit": "100000/second",
    "member_add_rate_limit": "100000/hour",
    "reaction_rate_limit": "100000/second",
    "ws_max_sockets_per_user": 10000,
}


def make_settings(var_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "var_dir": var_dir,
        "database_url": database_url,
        "secret_key": SECRET,
        "redis_url": REDIS_URL,
        "redis_prefix": f"chatapi-test-{uuid.uuid4().hex[:12]}",
        "media_dir": var_dir / "media",
        "allowed_origins": ["http://allowed.example"],
        # Cheap argon2 for speed; production cost is the default.
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 1024,
        **GENEROUS_QUOTAS,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# --- the PostgreSQL test database ---------------------------------------------------------

_pg_migrated = False


async def prepare_postgres() -> None:
    """An empty PG_URL database at the head revision: dropped and migrated once per test
    session, its tables truncated on every call."""
    global _pg_migrated
    assert PG_URL
    if not _pg_migrated:
        engine = create_engine(PG_URL)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()
        await asyncio.to_thread(migrate, make_settings(Path("/tmp"), PG_URL))
        _pg_migrated = True
    await truncate_postgres(PG_URL)


async def create_worker_database() -> None:
    """The worker's own PostgreSQL database (see `_worker_database`), if it is missing."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base or base == PG_URL or PG_URL is None:
        return
    name = make_url(PG_URL).database
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            )
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()


async def truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
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
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def sends_blocked(database_url: str, conversation_id: str) -> AsyncIterator[None]:
    """Hold a real lock that a message send to `conversation_id` waits for, until the block
    ends: SQLite's write lock (BEGIN IMMEDIATE on a connection of our own), or on
    PostgreSQL the conversation's row (SELECT … FOR UPDATE), which a send's seq UPDATE
    needs."""
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[1]
        con = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
        try:
            await asyncio.to_thread(con.execute, "BEGIN IMMEDIATE")
            try:
                yield
            finally:
                con.execute("ROLLBACK")
        finally:
            con.close()
        return
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn, conn.begin():
            await conn.execute(
                text("SELECT id FROM conversations WHERE id = :id FOR UPDATE"),
                {"id": uuid.UUID(conversation_id)},
            )
            yield
    finally:
        await engine.dispose()


def fresh_database_url(backend: str, workdir: Path, sqlite_template: Path) -> str:
    """An empty, migrated database for a server of the test's own: a copy of the SQLite
    template in `workdir`, or the PostgreSQL test database (call `prepare_postgres`
    first, from async code)."""
    if backend == "sqlite":
        db = workdir / "chatapi.db"
        shutil.copy(sqlite_template, db)
        return f"sqlite+aiosqlite:///{db}"
    assert PG_URL, "the PostgreSQL backend needs TEST_DATABASE_URL"
    return PG_URL


# --- accounts and conversations over the REST API -----------------------------------------

CONV = "/api/v1/conversations"


@dataclass
class Account:
    id: str
    username: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


# The `signup` fixture: `await signup()` registers a user and logs in.
Signup = Callable[..., Awaitable[Account]]


async def group(
    client: httpx.AsyncClient, owner: Account, *members: Account, title: str = "Team"
) -> dict[str, object]:
    """A group conversation created by `owner` with `members`, as the API returns it."""
    r = await client.post(
        CONV,
        headers=owner.headers,
        json={"kind": "group", "title": title, "member_ids": [m.id for m in members]},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


# --- single sign-on against the test OpenID Provider (tests/oidc) -------------------------

# The in-process app's providers, each a client of the test provider (servers.py,
# OpenIDProviderProcess): name -> client id. "alias" names the provider by another URL
# (localhost for 127.0.0.1), which its discovery document contradicts.
OIDC_TEST_CLIENTS = {
    "op": "chatapi",
    "forged": "chatapi-forged",
    "audience": "chatapi-audience",
    "expiring": "chatapi-expiring",
    "alias": "chatapi",
}
OIDC_TEST_PROVIDERS = list(OIDC_TEST_CLIENTS)


def oidc_test_providers(issuer: str) -> list[dict[str, Any]]:
    """OIDC_PROVIDERS for the test provider at `issuer` (http://127.0.0.1:<port>)."""
    return [
        {
            "name": name,
            "issuer": issuer.replace("127.0.0.1", "localhost") if name == "alias" else issuer,
            "client_id": client_id,
            "client_secret": f"{client_id}-secret",
            "label": "Test OP" if name == "op" else f"Test OP ({name})",
        }
        for name, client_id in OIDC_TEST_CLIENTS.items()
    ]


async def through_provider(authorization_url: str, *, back_to: str, login: str = "alice") -> str:
    """Do at the provider what a person does in the browser — its login page (the test
    provider takes any password), then its consent page — and return the URL it sends
    the browser back to (starting with `back_to`). A fresh provider session each time."""
    async with httpx.AsyncClient(timeout=10) as browser:
        url = authorization_url
        for _ in range(12):
            r = await browser.get(url)
            if r.status_code == 200:
                action = re.search(r'<form[^>]*action="([^"]+)"', r.text)
                assert action, f"no form on the provider's page:\n{r.text[:2000]}"
                form = (
                    {"prompt": "login", "login": login, "password": "any password"}
                    if 'name="login"' in r.text
                    else {"prompt": "consent"}
                )
                r = await browser.post(urljoin(url, html.unescape(action[1])), data=form)
            assert r.status_code in (302, 303), f"{r.status_code} from the provider: {r.text}"
            url = urljoin(url, r.headers["location"])
            if url.startswith(back_to):
                return url
    raise AssertionError("the provider never sent the browser back")


# --- waiting ------------------------------------------------------------------------------

T = TypeVar("T")


async def eventually(
    check: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = 5.0,
    interval: float = 0.01,
    what: str = "",
) -> T:
    """Wait for something the code under test does by itself: call `check` (plain or async)
    until it returns something truthy, and return that. TimeoutError after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if loop.time() >= deadline:
            raise TimeoutError(f"not within {timeout} s: {what or check}")
        await asyncio.sleep(interval)  # poll interval, bounded by the deadline above


async def elapse(seconds: float, why: str) -> None:
    """Let time pass where the passing of time is itself the behaviour under test (a TTL
    running out, a rate-limit window, a timestamp growing old). `why` names it."""
    assert why
    await asyncio.sleep(seconds)
