"""message search: SQLite FTS5 / PostgreSQL tsvector + GIN, backfilled

Revision ID: 5e4c0b7d2a91
Revises: 7a3c1e5d9b20
Create Date: 2026-11-29 21:40:00

SQLite: `messages_fts`, an external-content FTS5 table over `messages.body`, keyed on the
messages' rowid and kept in step by triggers in the same transaction as every insert,
edit and delete (a deleted message's body is emptied, so it leaves the index). The online
backup API (`chatapi backup`) copies pages and keeps rowids; after a `VACUUM` (which may
renumber them) run `INSERT INTO messages_fts(messages_fts) VALUES('rebuild')`.

PostgreSQL: a stored generated column `messages.search_vector`, the body's words as a
`to_tsvector('simple', …)` (no stemming, no stop words), with a GIN index, and an index
on (created_at, id) so that "newest first" walks an index instead of sorting every match
of a common word. Both are filled for existing
rows as they are created (the backfill).

Neither is in `chatapi.models` (no ORM code reads them): `models.is_search_index` keeps
them out of the model/migration comparison.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e4c0b7d2a91"
down_revision: str | None = "7a3c1e5d9b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    # unicode61 folds case; accents are kept ("café" is not "cafe"), as on PostgreSQL.
    "CREATE VIRTUAL TABLE messages_fts USING fts5(body, content='messages', "
    "content_rowid='rowid', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.body <> '' BEGIN "
    "INSERT INTO messages_fts(rowid, body) VALUES (new.rowid, new.body); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages "
    "WHEN old.body IS NOT new.body BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, body) "
    "SELECT 'delete', old.rowid, old.body WHERE old.body <> ''; "
    "INSERT INTO messages_fts(rowid, body) SELECT new.rowid, new.body WHERE new.body <> ''; "
    "END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.body <> '' BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body); "
    "END",
    # The backfill: every stored body, deleted messages' empty ones left out.
    "INSERT INTO messages_fts(rowid, body) SELECT rowid, body FROM messages WHERE body <> ''",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS messages_fts_delete",
    "DROP TRIGGER IF EXISTS messages_fts_update",
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TABLE IF EXISTS messages_fts",
]
POSTGRES_UP = [
    # Words are runs of letters and digits, as on SQLite and in the search service: "a.b"
    # is "a" and "b" (the default parser would keep "example.com" or "3.14" whole).
    "ALTER TABLE messages ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple'::regconfig, regexp_replace(body, '[^[:alnum:]]+', ' ', 'g'))) "
    "STORED",
    "CREATE INDEX ix_messages_search_vector ON messages USING gin (search_vector)",
    "CREATE INDEX ix_messages_search_created_at ON messages (created_at, id)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_messages_search_created_at",
    "DROP INDEX IF EXISTS ix_messages_search_vector",
    "ALTER TABLE messages DROP COLUMN IF EXISTS search_vector",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _run(SQLITE_UP)
    else:
        _run(POSTGRES_UP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _run(SQLITE_DOWN)
    else:
        _run(POSTGRES_DOWN)
