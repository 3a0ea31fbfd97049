"""The database: one async engine (asyncpg or aiosqlite) and the unit of work."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    AsyncSessionTransaction,
    async_sessionmaker,
    create_async_engine,
)

from chatapi.domain import DomainEvent
from chatapi.health import DATABASE, WriteHealth

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
# An execution option marking the engine of read-only units of work.
READ_ONLY_OPTION = "chatapi_read_only"


# Operational errors that a retry fixes (a lock, a deadlock, a serialization conflict) say
# nothing about whether the database can take writes.
_TRANSIENT = ("locked", "busy", "deadlock", "serializ", "could not obtain lock")


def is_database_write_failure(exc: DBAPIError) -> bool:
    """A database error that says writes fail now: disk full, I/O error, read-only
    database, connection lost — not a lock or a conflict a retry gets past."""
    if not isinstance(exc, OperationalError):
        return False
    text = str(exc.orig).lower()
    return not any(word in text for word in _TRANSIENT)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An engine for `postgresql+asyncpg://` or `sqlite+aiosqlite://` URLs."""
    if is_sqlite(url):
        secure_sqlite_file(url)
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


# The database file and its -wal/-shm companions: readable by the service's user only,
# like the secret key (they hold password hashes and every message).
SQLITE_FILE_MODE = 0o600


def secure_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 before SQLite does (it would use 0644), and tighten an
    existing one. SQLite gives the -wal and -shm files the database file's mode."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE))
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if (name.stat().st_mode & 0o777) != SQLITE_FILE_MODE:
                os.chmod(name, SQLITE_FILE_MODE)
        except FileNotFoundError:
            continue
        except PermissionError:  # another user's file: say so, and go on
            log.warning("cannot make %s mode 0600: not its owner", name)


def _configure_sqlite(engine: AsyncEngine) -> None:
    def _do_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        # SQLAlchemy's aiosqlite adapter, with our connection class (one thread hop per
        # statement) in place of aiosqlite's.
        return dialect.dbapi.connect(*cargs, async_creator_fn=_connect_sqlite, **cparams)

    event.listen(engine.sync_engine, "do_connect", _do_connect)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # BEGIN IMMEDIATE takes SQLite's write lock up front: a deferred transaction that
        # reads and then writes fails with SQLITE_BUSY (no waiting) when another writer
        # committed in between, which would surface as random errors under load. Read-only
        # units of work (READ_ONLY_OPTION) never write, so they begin deferred and read
        # alongside the writer (WAL) instead of queueing for its lock.
        if conn.get_execution_options().get(READ_ONLY_OPTION):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _connect_sqlite(database: str, **kwargs: Any) -> _SqliteConnection:
    connection = _SqliteConnection(lambda: sqlite3.connect(database, **kwargs), 64)
    connection.daemon()
    return connection


def _run_statement(
    conn: sqlite3.Connection, sql: str, parameters: Any, many: bool
) -> tuple[Any, int, int | None, list[Any]]:
    """In the connection's thread: execute, fetch every row, close. What a cursor reports
    afterwards is captured here (description, rowcount, lastrowid)."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class _SqliteCursor:
    """A cursor for SQLAlchemy's aiosqlite adapter that costs at most one trip to the
    connection's thread per statement. aiosqlite's own costs four (open the cursor,
    execute, fetch, close), and each trip wakes a thread and hands the GIL over twice: on
    a busy host that was most of the CPU of a small transaction (a send batch of one: 20
    trips, ~3.6 ms of process CPU). Rows are fetched with the statement; our reads are
    pages of at most a few hundred rows.

    Inside a write transaction (after BEGIN IMMEDIATE) statements run on the event loop
    itself, with no trip at all: the transaction holds SQLite's write lock, and in WAL
    mode nothing else can make its statements wait (readers never block a writer), so
    they only cost their own few microseconds of CPU, which a trip would cost several
    times over. BEGIN (it may wait for the lock), COMMIT (it may checkpoint, with an
    fsync) and every statement of a read-only unit of work still go to the thread."""

    arraysize = 1

    def __init__(self, connection: _SqliteConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: deque[Any] = deque()

    async def _run(self, sql: str, parameters: Any, many: bool) -> _SqliteCursor:
        connection = self._connection
        if connection.writing and connection.sqlite.in_transaction:
            found = _run_statement(connection.sqlite, sql, parameters, many)
        else:
            found = await connection.run(_run_statement, sql, parameters, many)
            if sql.startswith("BEGIN IMMEDIATE"):
                connection.writing = True
        self.description, self.rowcount, self.lastrowid, rows = found
        self._rows = deque(rows)
        return self

    async def execute(self, sql: str, parameters: Any = ()) -> _SqliteCursor:
        return await self._run(sql, () if parameters is None else parameters, False)

    async def executemany(self, sql: str, parameters: Any) -> _SqliteCursor:
        return await self._run(sql, parameters, True)

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        return [self._rows.popleft() for _ in range(min(count, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        rows, self._rows = list(self._rows), deque()
        return rows

    async def close(self) -> None:
        self._rows.clear()

    async def __aenter__(self) -> _SqliteCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _SqliteConnection(aiosqlite.Connection):
    """aiosqlite's connection with `_SqliteCursor`s, and no trip to its thread to roll
    back when no transaction is open (the pool does that each time a connection comes
    back, after every commit)."""

    # In a transaction begun with BEGIN IMMEDIATE (it holds the write lock), until it ends.
    writing = False

    @property
    def sqlite(self) -> sqlite3.Connection:
        return self._conn

    def daemon(self) -> None:
        # As SQLAlchemy does for aiosqlite's own: an unclosed connection never keeps the
        # interpreter from exiting.
        self._thread.daemon = True

    async def run(self, fn: Any, *args: Any) -> Any:
        """Run `fn(sqlite3_connection, *args)` in the connection's thread."""
        return await self._execute(fn, self._conn, *args)  # type: ignore[no-untyped-call]

    def cursor(self) -> Any:
        return _SqliteCursor(self)

    async def commit(self) -> None:
        self.writing = False
        await super().commit()

    async def rollback(self) -> None:
        self.writing = False
        if self._connection is not None and self._connection.in_transaction:
            await super().rollback()


class Publisher(Protocol):
    """Where committed domain events go (`realtime.outbound.EventPublisher`)."""

    async def publish_many(self, events: Sequence[DomainEvent]) -> None: ...


class UnitOfWork:
    """One database session and the events it will publish once it commits.

    Services add rows and `emit()` domain events; `commit()` commits and only then
    publishes, in emission order. Leaving the block without committing rolls back and
    drops the events. Whoever opened the unit of work commits it (README, "Who commits");
    services never commit or roll back, and contain an expected race in a `savepoint()`.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: Publisher | None,
        *,
        read_only: bool = False,
        health: WriteHealth | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._publisher = publisher
        self.read_only = read_only
        self._health = health
        self.session: AsyncSession = sessionmaker()
        self._pending: list[DomainEvent] = []
        self._after_commit: list[Any] = []

    @property
    def dialect(self) -> str:
        bind = self.session.bind
        return bind.dialect.name if bind is not None else ""

    def emit(self, event: DomainEvent) -> None:
        """Announce `event` once this unit of work commits (dropped on rollback)."""
        self._pending.append(event)

    @property
    def pending(self) -> Sequence[DomainEvent]:
        return tuple(self._pending)

    def savepoint(self) -> AsyncSessionTransaction:
        """`async with uow.savepoint():` — a failure inside (e.g. a unique key another
        transaction won) undoes only what the block did; the transaction goes on."""
        return self.session.begin_nested()

    def after_commit(self, callback: Any) -> None:
        """Run `await callback()` after a successful commit (e.g. delete files)."""
        self._after_commit.append(callback)

    async def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit changes")
        try:
            await self.session.commit()
        except DBAPIError as exc:
            self._note_failure(exc)
            raise
        if self._health is not None:
            self._health.succeeded(DATABASE)
        items, self._pending = self._pending, []
        callbacks, self._after_commit = self._after_commit, []
        if self._publisher is not None and items:
            try:
                await self._publisher.publish_many(items)
            except Exception:  # the commit stands; clients catch up from the events endpoint
                log.exception("publishing committed events failed")
        for callback in callbacks:
            try:
                await callback()
            except Exception:
                log.exception("an after-commit task failed")

    def _note_failure(self, exc: BaseException | None) -> None:
        """A write that failed for the database's sake (not a conflict) makes /readyz fail
        until a commit succeeds again."""
        if (
            self._health is not None
            and isinstance(exc, DBAPIError)
            and is_database_write_failure(exc)
        ):
            self._health.failed(DATABASE, exc)

    async def rollback(self) -> None:
        self._pending.clear()
        self._after_commit.clear()
        await self.session.rollback()

    async def close(self) -> None:
        self._pending.clear()
        self._after_commit.clear()
        await self.session.close()

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._note_failure(exc)
        await self.close()


def make_sessionmaker(
    engine: AsyncEngine, *, read_only: bool = False
) -> async_sessionmaker[AsyncSession]:
    if read_only:
        engine = engine.execution_options(**{READ_ONLY_OPTION: True})
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
