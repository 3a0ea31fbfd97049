"""Scenario 8, search: `GET /api/v1/search/messages` over 1,000,000 messages.

The same database as scenario 4 (bench/history.py seeds it: one conversation of
`--history-rows` messages, bodies "history message number <n> with a little text to make
it look like chat"), with the search index the migration made kept in step by the
seeding inserts themselves (SQLite triggers, PostgreSQL's generated column). One request
at a time over a keep-alive connection, as the conversation's member:

- rare word:    `q=<a random message number>` (one match among a million)
- common words: `q=little text` (every message matches: the newest page)
- next page:    `q=little text&before=<next_before of a deep page>`
- in the conversation: `q=<random number>&conversation_id=…`

and, to read them against, the floor: `GET /api/v1/users/me` the same way. Last, as
someone who may read none of those messages (a member of another, empty conversation),
`q=little text`: every match is looked at and refused — the worst case.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from bench import common as c
from bench import history

REQUESTS, WARMUP = 200, 20
OUTSIDER_REQUESTS = 5


async def run_one(label: str, database_url: str, rows: int) -> dict[str, Any]:
    work = c.workdir(f"search-{label}")
    if database_url == "sqlite":
        database_url = c.sqlite_url(work)
    c.migrate(database_url, work)
    scene = await c.bulk_scene(database_url, 2, [[0], [1]], tag="search")
    conv, user = scene.conversations[0][0], scene.user_ids[0]
    t0 = time.monotonic()
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[1]
        await asyncio.to_thread(history.seed_sqlite, path, conv, user, rows)
    else:
        await history.seed_pg(database_url, conv, user, rows)
    seed_s = time.monotonic() - t0
    c.log(f"{label}: seeded and indexed {rows:,} messages in {seed_s:.1f} s")
    result = await measure(label, database_url, work, conv, scene.tokens, rows)
    return {"seed_s": round(seed_s, 1), **result}


async def measure(
    label: str, database_url: str, work: Any, conv: str, tokens: list[str], rows: int
) -> dict[str, Any]:
    """The requests, against a server on a seeded database (`tokens`: member, outsider)."""
    rng = random.Random(14)
    server = c.chatapi_server(
        work, c.chatapi_env(work, database_url), name=f"search-{label}"
    ).start()
    member = {"Authorization": f"Bearer {tokens[0]}"}
    outsider = {"Authorization": f"Bearer {tokens[1]}"}
    path = "/api/v1/search/messages"
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:

            def rare(n: int) -> list[str]:
                return [f"{path}?q={rng.randint(1, rows)}" for _ in range(n)]

            # A cursor some pages deep, for "next page".
            page = (await http.get(f"{path}?q=little+text&limit=50", headers=member)).json()
            assert len(page["hits"]) == 50, page
            deep = page["next_before"]
            found = (await http.get(rare(1)[0], headers=member)).json()
            assert len(found["hits"]) == 1, found

            await history.timed_gets(http, rare(WARMUP), member)
            window = c.CpuWindow([server.pid])
            out = {
                "rare": await history.timed_gets(http, rare(REQUESTS), member),
                "common": await history.timed_gets(
                    http, [f"{path}?q=little+text"] * REQUESTS, member
                ),
                "next_page": await history.timed_gets(
                    http, [f"{path}?q=little+text&before={deep}"] * REQUESTS, member
                ),
                "in_conversation": await history.timed_gets(
                    http, [f"{p}&conversation_id={conv}" for p in rare(REQUESTS)], member
                ),
            }
            cpu = window.read()
            # The floor under the same load: the cheapest authenticated request.
            out["floor"] = await history.timed_gets(http, ["/api/v1/users/me"] * REQUESTS, member)
            out["outsider"] = await history.timed_gets(
                http, [f"{path}?q=little+text"] * OUTSIDER_REQUESTS, outsider
            )
    finally:
        server.stop()
    result: dict[str, Any] = {
        "rows": rows,
        **{k: history.summary(v) for k, v in out.items()},
        **cpu,
    }
    c.log(
        f"{label}: "
        + "; ".join(
            f"{k} p50 {c.fmt(result[k]['p50_ms'], 2)} p99 {c.fmt(result[k]['p99_ms'], 2)} ms"
            for k in out
        )
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
