"""Scenario 4, history: a conversation of 1,000,000 messages.

Seeded by a bulk insert straight into the database (messages + conversation_events rows,
conversations.last_seq; sqlite3 executemany / asyncpg COPY), not through the API. Then,
one request at a time over a keep-alive connection:

- history page: `GET /conversations/{id}/messages?before_seq=<random>&limit=50`
- latest page:  `GET /conversations/{id}/messages?limit=50`
- catch-up:     `GET /conversations/{id}/events?after_seq=<random>&limit=50`

Next to them, the bare floor: the same page read straight through the driver from the
bench process (the keyset query on (conversation_id, seq); for catch-up the events page
plus its messages by id).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench import common as c

REQUESTS, WARMUP, PAGE = 300, 30, 50
BODY = "history message number {} with a little text to make it look like chat"


def seed_sqlite(path: str, conv: str, user: str, rows: int) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-200000")
    conv_hex, user_hex = uuid.UUID(conv).hex, uuid.UUID(user).hex
    base = datetime.now(UTC) - timedelta(days=30)
    batch = 50_000
    con.execute("BEGIN")
    for start in range(1, rows + 1, batch):
        seqs = range(start, min(start + batch, rows + 1))
        ids = [uuid.uuid4().hex for _ in seqs]
        stamps = [(base + timedelta(seconds=s)).strftime("%Y-%m-%d %H:%M:%S.%f") for s in seqs]
        con.executemany(
            "INSERT INTO messages (id, conversation_id, seq, sender_id, body, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                (i, conv_hex, s, user_hex, BODY.format(s), t)
                for i, s, t in zip(ids, seqs, stamps, strict=True)
            ),
        )
        con.executemany(
            "INSERT INTO conversation_events (conversation_id, seq, type, actor_id, created_at, "
            "message_id) VALUES (?, ?, 'message.new', ?, ?, ?)",
            ((conv_hex, s, user_hex, t, i) for i, s, t in zip(ids, seqs, stamps, strict=True)),
        )
    con.execute("UPDATE conversations SET last_seq = ? WHERE id = ?", (rows, conv_hex))
    con.execute("COMMIT")
    con.execute("ANALYZE")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


async def seed_pg(url: str, conv: str, user: str, rows: int) -> None:
    import asyncpg

    con = await asyncpg.connect(c._pg_dsn(url))
    try:
        cid, uid = uuid.UUID(conv), uuid.UUID(user)
        base = datetime.now(UTC) - timedelta(days=30)
        batch = 100_000
        for start in range(1, rows + 1, batch):
            seqs = range(start, min(start + batch, rows + 1))
            ids = [uuid.uuid4() for _ in seqs]
            stamps = [base + timedelta(seconds=s) for s in seqs]
            await con.copy_records_to_table(
                "messages",
                records=[
                    (i, cid, s, uid, BODY.format(s), t)
                    for i, s, t in zip(ids, seqs, stamps, strict=True)
                ],
                columns=["id", "conversation_id", "seq", "sender_id", "body", "created_at"],
            )
            await con.copy_records_to_table(
                "conversation_events",
                records=[
                    (cid, s, "message.new", uid, t, i)
                    for i, s, t in zip(ids, seqs, stamps, strict=True)
                ],
                columns=["conversation_id", "seq", "type", "actor_id", "created_at", "message_id"],
            )
        await con.execute("UPDATE conversations SET last_seq = $1 WHERE id = $2", rows, cid)
        # VACUUM too, so that autovacuum does not wake up on the fresh million rows in the
        # middle of the measurement (and the visibility map is set).
        await con.execute("VACUUM (ANALYZE) messages, conversation_events, conversations")
    finally:
        await con.close()


async def timed_gets(
    http: httpx.AsyncClient, paths: list[str], headers: dict[str, str]
) -> list[float]:
    out = []
    for path in paths:
        t0 = time.perf_counter_ns()
        r = await http.get(path, headers=headers)
        out.append((time.perf_counter_ns() - t0) / 1e6)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path}: {r.status_code} {r.text[:200]}")
    return out


def summary(lat: list[float]) -> dict[str, Any]:
    return {"n": len(lat), "p50_ms": c.pct(lat, 50), "p99_ms": c.pct(lat, 99), "max_ms": max(lat)}


def bare_sqlite(path: str, conv: str, rows: int, rng: random.Random) -> dict[str, Any]:
    con = sqlite3.connect(path)
    conv_hex = uuid.UUID(conv).hex
    hist, events = [], []
    for k in range(WARMUP + REQUESTS):
        before = rng.randint(PAGE + 1, rows)
        t0 = time.perf_counter_ns()
        con.execute(
            "SELECT * FROM messages WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC "
            "LIMIT ?",
            (conv_hex, before, PAGE),
        ).fetchall()
        t1 = time.perf_counter_ns()
        after = rng.randint(0, rows - PAGE)
        evs = con.execute(
            "SELECT * FROM conversation_events WHERE conversation_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (conv_hex, after, PAGE),
        ).fetchall()
        ids = [e[5] for e in evs]
        con.execute(
            f"SELECT * FROM messages WHERE id IN ({','.join('?' * len(ids))})", ids
        ).fetchall()
        t2 = time.perf_counter_ns()
        if k >= WARMUP:
            hist.append((t1 - t0) / 1e6)
            events.append((t2 - t1) / 1e6)
    con.close()
    return {"history": summary(hist), "events": summary(events)}


async def bare_pg(url: str, conv: str, rows: int, rng: random.Random) -> dict[str, Any]:
    import asyncpg

    con = await asyncpg.connect(c._pg_dsn(url))
    cid = uuid.UUID(conv)
    hist, events = [], []
    try:
        for k in range(WARMUP + REQUESTS):
            before = rng.randint(PAGE + 1, rows)
            t0 = time.perf_counter_ns()
            await con.fetch(
                "SELECT * FROM messages WHERE conversation_id = $1 AND seq < $2 "
                "ORDER BY seq DESC LIMIT $3",
                cid,
                before,
                PAGE,
            )
            t1 = time.perf_counter_ns()
            after = rng.randint(0, rows - PAGE)
            evs = await con.fetch(
                "SELECT * FROM conversation_events WHERE conversation_id = $1 AND seq > $2 "
                "ORDER BY seq LIMIT $3",
                cid,
                after,
                PAGE,
            )
            await con.fetch(
                "SELECT * FROM messages WHERE id = ANY($1::uuid[])", [e["message_id"] for e in evs]
            )
            t2 = time.perf_counter_ns()
            if k >= WARMUP:
                hist.append((t1 - t0) / 1e6)
                events.append((t2 - t1) / 1e6)
    finally:
        await con.close()
    return {"history": summary(hist), "events": summary(events)}


async def run_one(label: str, database_url: str, rows: int) -> dict[str, Any]:
    work = c.workdir(label)
    if database_url == "sqlite":
        database_url = c.sqlite_url(work)
    c.migrate(database_url, work)
    scene = await c.bulk_scene(database_url, 1, [[0]], tag="hist")
    conv, user = scene.conversations[0][0], scene.user_ids[0]
    t0 = time.monotonic()
    if database_url.startswith("sqlite"):
        await asyncio.to_thread(seed_sqlite, database_url.split("///", 1)[1], conv, user, rows)
    else:
        await seed_pg(database_url, conv, user, rows)
    seed_s = time.monotonic() - t0
    c.log(f"{label}: seeded {rows:,} messages + events in {seed_s:.1f} s")
    rng = random.Random(7)
    server = c.chatapi_server(
        work, c.chatapi_env(work, database_url), name=f"history-{label}"
    ).start()
    headers = {"Authorization": f"Bearer {scene.tokens[0]}"}
    base = f"/api/v1/conversations/{conv}"
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:

            def hist_paths(n: int) -> list[str]:
                return [
                    f"{base}/messages?before_seq={rng.randint(PAGE + 1, rows)}&limit={PAGE}"
                    for _ in range(n)
                ]

            def event_paths(n: int) -> list[str]:
                return [
                    f"{base}/events?after_seq={rng.randint(0, rows - PAGE)}&limit={PAGE}"
                    for _ in range(n)
                ]

            await timed_gets(http, hist_paths(WARMUP) + event_paths(WARMUP), headers)
            window = c.CpuWindow([server.pid])
            hist = await timed_gets(http, hist_paths(REQUESTS), headers)
            latest = await timed_gets(http, [f"{base}/messages?limit={PAGE}"] * REQUESTS, headers)
            events = await timed_gets(http, event_paths(REQUESTS), headers)
            cpu = window.read()
    finally:
        server.stop()
    if database_url.startswith("sqlite"):
        bare = await asyncio.to_thread(
            bare_sqlite, database_url.split("///", 1)[1], conv, rows, rng
        )
    else:
        bare = await bare_pg(database_url, conv, rows, rng)
    result = {
        "rows": rows,
        "seed_s": round(seed_s, 1),
        "history": summary(hist),
        "latest": summary(latest),
        "events": summary(events),
        "bare_db": bare,
        **cpu,
    }
    c.log(
        f"{label}: history p50 {c.fmt(result['history']['p50_ms'], 2)} "
        f"p99 {c.fmt(result['history']['p99_ms'], 2)} ms; latest p99 "
        f"{c.fmt(result['latest']['p99_ms'], 2)}; events p50 "
        f"{c.fmt(result['events']['p50_ms'], 2)} p99 {c.fmt(result['events']['p99_ms'], 2)} ms"
        f"; bare db history p99 {c.fmt(bare['history']['p99_ms'], 2)} events p99 "
        f"{c.fmt(bare['events']['p99_ms'], 2)} ms; srv runq wait {cpu['server_runq_wait']}"
    )
    return result


async def run(ctx: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"skipped": []}
    out["chatapi-sqlite"] = await run_one("chatapi-sqlite", "sqlite", ctx.history_rows)
    if ctx.pg_url:
        await c.pg_reset(ctx.pg_url)
        out["chatapi-postgres"] = await run_one("chatapi-postgres", ctx.pg_url, ctx.history_rows)
    else:
        out["skipped"].append(f"chatapi-postgres: {ctx.pg_skip}")
    return out
