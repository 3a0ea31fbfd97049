"""Alembic environment: async engine, the service's settings, SQLModel metadata."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import chatapi.models  # registers the tables
from chatapi.db import create_engine, is_sqlite
from chatapi.settings import get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

target_metadata = SQLModel.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url


def _include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Autogenerate leaves the hand-made search index alone (see `models.is_search_index`)."""
    return not chatapi.models.is_search_index(name)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # called with a connection (tests)
        _run(connection)
        return
    engine = create_engine(_url())
    if is_sqlite(_url()):
        event.listen(engine.sync_engine, "connect", _sqlite_foreign_keys_off)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
        if is_sqlite(_url()):
            await conn.run_sync(_check_foreign_keys)
    await engine.dispose()


def _sqlite_foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    """SQLite migrations run with foreign keys off, as Alembic's batch mode needs: it
    copies a table, drops the old one and renames the copy, and with foreign keys on,
    dropping a table that other rows reference deletes them (ON DELETE CASCADE) or fails.
    Set at connect, after the engine's own listener turned them on (a transaction would
    ignore the pragma)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    """With foreign keys off, a migration could leave a dangling reference: refuse it."""
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migration left {len(broken)} broken references: {broken[:5]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
