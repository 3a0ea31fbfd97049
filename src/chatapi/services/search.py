"""Message search: full text over the messages a user may read, newest first.

The query is never handed to the database's query language: it is cut into words (runs
of letters and digits, as the index cuts bodies: see the `message_search` migration),
and each word is quoted, so `"`, `*`, `NEAR`, `:`, `AND`, `-` or parentheses are plain
text. Every word must match, whole and case-insensitively. (No prefix matching: a
common prefix expands to every word it begins, and merging their lists costs hundreds of
milliseconds over a million messages on either database — see bench/PERFORMANCE.md.)

Who finds what follows the read rule (`membership.require_reader`): a member finds the
conversation's messages, a former member those up to their departure (`left_seq`), and
nothing once they deleted the conversation from their list. Deleted messages have no
text and never match; an edited message matches by its new text only (the index follows
the body in the same transaction).

The snippet is plain text in pieces (`SnippetPart`), the matched words marked: nothing
for a client to render as HTML.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Row, String, Uuid, bindparam, column, select, text
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import TextualSelect
from sqlmodel import col

from chatapi.db import UnitOfWork
from chatapi.errors import Unprocessable
from chatapi.media_urls import MediaSigner
from chatapi.models import Message, User, UTCDateTime
from chatapi.schemas import SearchHit, SearchResults, SnippetPart
from chatapi.services.membership import require_reader
from chatapi.services.messages.reads import to_reads

MAX_QUERY_CHARS = 200
MAX_TERMS = 16
SEARCH_LIMIT_MAX = 50
# Matches looked at per request, at most: a page holds fewer hits (even none) when few of
# them may be read by the caller, and `next_before` goes on from there.
SCAN_MAX = 2000
SNIPPET_CHARS = 160
SNIPPET_LEAD = 50  # characters shown before the first match

# A word: a run of letters and digits (`_` and every other character separate words).
WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Query:
    """The words searched for, lower-cased, each once, in order."""

    terms: tuple[str, ...]


def parse_query(q: str) -> Query:
    """The words of a query, or a 422 when there are none or the query is too long."""
    if len(q) > MAX_QUERY_CHARS:
        raise Unprocessable(
            f"The search query is too long: at most {MAX_QUERY_CHARS} characters.",
            code="search_query_too_long",
        )
    terms = tuple(dict.fromkeys(w.lower() for w in WORD.findall(q)))[:MAX_TERMS]
    if not terms:
        raise Unprocessable(
            "The search query has no words to look for (letters or digits).",
            code="search_query_empty",
        )
    return Query(terms=terms)


def fts5_match(query: Query) -> str:
    """An FTS5 MATCH expression: each word a quoted string (FTS5 syntax inside is text)."""
    return " ".join(f'"{t}"' for t in query.terms)  # words hold no `"`: quoting escapes


def pg_tsquery(query: Query) -> str:
    """A `to_tsquery` expression: each word a quoted lexeme, all required (`&`)."""
    return " & ".join(f"'{t}'" for t in query.terms)  # words hold no `'`


# The read rule, for one message row `m` of user `:uid` (both backends).
_READABLE = (
    "(EXISTS (SELECT 1 FROM conversation_members cm"
    " WHERE cm.conversation_id = m.conversation_id AND cm.user_id = :uid)"
    " OR EXISTS (SELECT 1 FROM conversation_former_members fm"
    " WHERE fm.conversation_id = m.conversation_id AND fm.user_id = :uid"
    " AND m.seq <= fm.left_seq))"
)


def _sqlite_statement(*, in_conversation: bool, after_cursor: bool, floored: bool) -> TextualSelect:
    # FTS5 yields rowids in descending order without sorting, so a page of the newest hits
    # reads only as many matches as it needs (rowids grow as messages are stored). CROSS
    # JOIN keeps SQLite from starting anywhere else.
    sql = (
        "SELECT m.rowid AS k, m.id AS id FROM messages_fts f"
        " CROSS JOIN messages m ON m.rowid = f.rowid"
        " WHERE messages_fts MATCH :match AND m.deleted_at IS NULL"
        + (" AND f.rowid < :before_key" if after_cursor else "")
        + (" AND f.rowid >= :floor_key" if floored else "")
        + (" AND m.conversation_id = :cid" if in_conversation else "")
        + f" AND {_READABLE} ORDER BY f.rowid DESC LIMIT :n"
    )
    binds: list[BindParameter[Any]] = [
        bindparam("uid", type_=Uuid()),
        bindparam("match", type_=String()),
    ]
    binds += [bindparam("before_key", type_=Integer())] if after_cursor else []
    binds += [bindparam("floor_key", type_=Integer())] if floored else []
    binds += [bindparam("cid", type_=Uuid())] if in_conversation else []
    return text(sql).bindparams(*binds).columns(column("k", Integer), column("id", Uuid))


def _pg_scan(*, in_conversation: bool, after_cursor: bool) -> str:
    # The SCAN_MAX newest matches, whoever may read them. The LIMIT is what makes the plan:
    # for a common word PostgreSQL walks ix_messages_search_created_at backwards and stops
    # after SCAN_MAX matches; for a rare one it takes the GIN matches and sorts them (with
    # LIMIT 20 it would walk the index for a word it guesses common — seconds for a rare one).
    return (
        "SELECT m.created_at AS k, m.id AS id, m.conversation_id, m.seq FROM messages m"
        " WHERE m.search_vector @@ to_tsquery('simple', :tsquery) AND m.deleted_at IS NULL"
        + (" AND (m.created_at, m.id) < (:before_at, :before_id)" if after_cursor else "")
        + (" AND m.conversation_id = :cid" if in_conversation else "")
        + " ORDER BY m.created_at DESC, m.id DESC LIMIT :scan"
    )


def _pg_binds(*, in_conversation: bool, after_cursor: bool) -> list[BindParameter[Any]]:
    binds: list[BindParameter[Any]] = [bindparam("tsquery", type_=String())]
    if after_cursor:
        binds += [bindparam("before_at", type_=UTCDateTime()), bindparam("before_id", type_=Uuid())]
    binds += [bindparam("cid", type_=Uuid())] if in_conversation else []
    return binds


def _pg_statement(*, in_conversation: bool, after_cursor: bool, floored: bool) -> TextualSelect:
    del floored  # the scan bounds itself (LIMIT :scan)
    scan = _pg_scan(in_conversation=in_conversation, after_cursor=after_cursor)
    sql = (
        f"SELECT m.k AS k, m.id AS id FROM ({scan}) m"
        f" WHERE {_READABLE} ORDER BY m.k DESC, m.id DESC LIMIT :n"
    )
    binds = _pg_binds(in_conversation=in_conversation, after_cursor=after_cursor)
    binds.append(bindparam("uid", type_=Uuid()))
    return text(sql).bindparams(*binds).columns(column("k", UTCDateTime()), column("id", Uuid))


def _sqlite_floor(*, in_conversation: bool, after_cursor: bool) -> TextualSelect:
    # Only the FTS5 index is read here (no message rows): the SCAN_MAX-th newest match.
    sql = (
        "SELECT f.rowid AS k, NULL AS id FROM messages_fts f WHERE messages_fts MATCH :match"
        + (" AND f.rowid < :before_key" if after_cursor else "")
        + " ORDER BY f.rowid DESC LIMIT 1 OFFSET :skip"
    )
    binds: list[BindParameter[Any]] = [bindparam("match", type_=String())]
    binds += [bindparam("before_key", type_=Integer())] if after_cursor else []
    return text(sql).bindparams(*binds).columns(column("k", Integer), column("id", Uuid))


def _pg_floor(*, in_conversation: bool, after_cursor: bool) -> TextualSelect:
    # The oldest of the scanned matches, and how many there were (SCAN_MAX: there may be more).
    scan = _pg_scan(in_conversation=in_conversation, after_cursor=after_cursor)
    sql = (
        f"SELECT s.k AS k, s.id AS id, count(*) OVER () AS c FROM ({scan}) s"
        " ORDER BY s.k, s.id LIMIT 1"
    )
    binds = _pg_binds(in_conversation=in_conversation, after_cursor=after_cursor)
    return (
        text(sql)
        .bindparams(*binds)
        .columns(column("k", UTCDateTime()), column("id", Uuid), column("c", Integer))
    )


_FLAGS = [(c, a) for c in (False, True) for a in (False, True)]
_STATEMENTS = {
    (dialect, c, a, f): build(in_conversation=c, after_cursor=a, floored=f)
    for dialect, build in (("sqlite", _sqlite_statement), ("postgresql", _pg_statement))
    for c, a in _FLAGS
    for f in (False, True)
    if dialect == "sqlite" or not f
}
_FLOORS = {
    (dialect, c, a): build(in_conversation=c, after_cursor=a)
    for dialect, build in (("sqlite", _sqlite_floor), ("postgresql", _pg_floor))
    for c, a in _FLAGS
}


def _invalid_cursor() -> Unprocessable:
    return Unprocessable(
        "The cursor `before` is not one this server gave out: pass `next_before` as it came.",
        code="invalid_cursor",
    )


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, dialect: str) -> dict[str, object]:
    """The bind parameters a cursor stands for (422 `invalid_cursor` when it is not one)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, rest = raw.partition(":")
        if dialect == "sqlite" and kind == "r":
            return {"before_key": int(rest)}
        if dialect == "postgresql" and kind == "t":
            at, _, message_id = rest.rpartition("/")
            when = datetime.fromisoformat(at)
            if when.tzinfo is None:
                raise ValueError("naive")
            return {"before_at": when, "before_id": uuid.UUID(message_id)}
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise _invalid_cursor() from None
    raise _invalid_cursor()


def _cursor_for(dialect: str, key: object, message_id: uuid.UUID | None) -> str:
    if dialect == "sqlite":
        return encode_cursor(f"r:{key}")
    assert isinstance(key, datetime)
    return encode_cursor(f"t:{key.isoformat()}/{message_id}")


def snippet(body: str, query: Query) -> list[SnippetPart]:
    """About `SNIPPET_CHARS` characters of `body` from a little before its first matching
    word, in pieces, the matching words marked (`…` where the body was cut)."""
    words = set(query.terms)
    found = [(m.start(), m.end()) for m in WORD.finditer(body) if m.group().lower() in words]
    first = found[0][0] if found else 0
    start = 0 if first <= SNIPPET_LEAD else first - SNIPPET_LEAD
    if start:  # begin at a word, not inside one
        space = body.find(" ", start, first)
        start = space + 1 if space != -1 else start
    end = min(len(body), start + SNIPPET_CHARS)
    if end < len(body):
        space = body.rfind(" ", max(start, found[-1][1] if found else start), end)
        end = space if space > start else end
    parts: list[SnippetPart] = []
    if start:
        parts.append(SnippetPart(text="…", match=False))
    at = start
    for s, e in found:
        if s < start or e > end:
            continue
        if s > at:
            parts.append(SnippetPart(text=body[at:s], match=False))
        parts.append(SnippetPart(text=body[s:e], match=True))
        at = e
    if end > at:
        parts.append(SnippetPart(text=body[at:end], match=False))
    if end < len(body):
        parts.append(SnippetPart(text="…", match=False))
    return parts


Shape = tuple[str, bool, bool]
Rows = list[Row[Any]]


async def _sqlite_page(
    uow: UnitOfWork, shape: Shape, params: dict[str, object], page: int
) -> tuple[Rows, str | None]:
    """A page of hits and the next cursor. The work is bounded: at most SCAN_MAX matches
    are looked at, those from the floor (the SCAN_MAX-th newest match, read off the FTS5
    index alone) up; below it the next page goes on."""
    floor_params: dict[str, object] = {k: params[k] for k in ("match", "before_key") if k in params}
    floor_params["skip"] = SCAN_MAX - 1
    floor_row = (await uow.session.execute(_FLOORS[shape], floor_params)).first()
    if floor_row is not None:
        params["floor_key"] = floor_row.k
    found = list(
        (await uow.session.execute(_STATEMENTS[(*shape, floor_row is not None)], params)).all()
    )
    if len(found) == page:
        return found, _cursor_for("sqlite", found[-1].k, None)
    return found, None if floor_row is None else _cursor_for("sqlite", floor_row.k, None)


_COMMON_WORDS = text(
    "SELECT most_common_elems::text::text[] FROM pg_stats WHERE schemaname = current_schema()"
    " AND tablename = 'messages' AND attname = 'search_vector'"
)


async def _pg_page(
    uow: UnitOfWork, shape: Shape, params: dict[str, object], page: int, query: Query
) -> tuple[Rows, str | None]:
    """A page of hits and the next cursor, from the SCAN_MAX newest matches at most (a
    short page asks where that scan ended, to go on below it).

    The plan is chosen here, not left to PostgreSQL's guess of how many messages match:
    unless every word is among the column's most common ones (`pg_stats`), the query
    runs with index scans off, so the matches come from the GIN index and are sorted
    (few: a word outside the most common ones). A guess of "0.5 % match" for a word not in
    the statistics made it walk the (created_at, id) index through every message for a
    word found once: seconds over a million messages."""
    common = (await uow.session.execute(_COMMON_WORDS)).scalar()
    gin = not common or not set(query.terms) <= set(common)
    if gin:
        await uow.session.execute(text("SET LOCAL enable_indexscan = off"))
    try:
        params["scan"] = SCAN_MAX
        found = list((await uow.session.execute(_STATEMENTS[(*shape, False)], params)).all())
        if len(found) == page:
            return found, _cursor_for("postgresql", found[-1].k, found[-1].id)
        floor_params = {k: v for k, v in params.items() if k not in ("uid", "n")}
        floor_row = (await uow.session.execute(_FLOORS[shape], floor_params)).first()
    finally:
        if gin:
            await uow.session.execute(text("SET LOCAL enable_indexscan = on"))
    if floor_row is None or floor_row.c < SCAN_MAX:
        return found, None
    return found, _cursor_for("postgresql", floor_row.k, floor_row.id)


async def search_messages(
    uow: UnitOfWork,
    *,
    user: User,
    q: str,
    signer: MediaSigner,
    conversation_id: uuid.UUID | None = None,
    before: str | None = None,
    limit: int = 20,
) -> SearchResults:
    """The messages matching `q` that `user` may read, newest first, `limit` at a time;
    in one conversation when `conversation_id` is given (404 when the user may not read
    it). `before` is the previous page's `next_before`."""
    query = parse_query(q)
    dialect = uow.dialect
    page = min(max(limit, 1), SEARCH_LIMIT_MAX)
    params: dict[str, object] = {"uid": user.id, "n": page}
    if before is not None:
        params.update(decode_cursor(before, dialect))
    if conversation_id is not None:
        await require_reader(uow, user_id=user.id, conversation_id=conversation_id)
        params["cid"] = conversation_id
    if dialect == "sqlite":
        params["match"] = fts5_match(query)
    else:
        params["tsquery"] = pg_tsquery(query)
    shape = (dialect, conversation_id is not None, before is not None)
    if dialect == "sqlite":
        found, after = await _sqlite_page(uow, shape, params, page)
    else:
        found, after = await _pg_page(uow, shape, params, page, query)
    if not found:
        return SearchResults(hits=[], next_before=after)
    ids = [row.id for row in found]
    by_id = {
        m.id: m
        for m in (await uow.session.scalars(select(Message).where(col(Message.id).in_(ids))))
    }
    messages = [by_id[i] for i in ids]
    reads = await to_reads(uow, messages, signer=signer)
    hits = [
        SearchHit(
            conversation_id=m.conversation_id,
            seq=m.seq,
            message=read,
            snippet=snippet(m.body, query),
        )
        for m, read in zip(messages, reads, strict=True)
    ]
    return SearchResults(hits=hits, next_before=after)
