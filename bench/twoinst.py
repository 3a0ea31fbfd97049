"""Scenario 5, two instances over PostgreSQL + Redis.

The fan-out scene (1,000 sockets, 50 groups of 20, one sender per group) against:

- one process with `REDIS_URL` set (the same publish path through Redis), and
- two processes sharing the database and Redis, each group's members split between
  them (even positions on A with the sender, odd positions on B), so every message
  reaches half its members through Redis pub/sub.

Both servers are pinned to CPU 0, like the single one: the same CPU budget, so the
comparison shows what the cross-instance path costs. Reported for both: p50/p99 at a
fixed 2,000 deliveries/s, the highest sustained deliveries/s, and lost deliveries.
"""

from __future__ import annotations

import uuid
from typing import Any

from bench import common as c
from bench import fanout as f


async def run(ctx: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"skipped": []}
    if not ctx.pg_url or not ctx.redis_url:
        why = ctx.pg_skip or ctx.redis_skip
        out["skipped"].append(f"two instances: {why}")
        return out
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    await c.pg_reset(ctx.pg_url)
    work = c.workdir("twoinst")
    c.migrate(ctx.pg_url, work)
    scene = await c.bulk_scene(ctx.pg_url, f.GROUPS * f.GROUP_SIZE, f.fanout_groups(), tag="two")
    env = c.chatapi_env(work, ctx.pg_url, redis_url=ctx.redis_url, redis_prefix=prefix)
    try:
        one = c.chatapi_server(work, env, name="twoinst-single").start()
        try:
            fan = f.Fanout(
                "one process (PG+Redis)", f.chatapi_rooms(scene, lambda _p: one.port), [one.pid]
            )
            out["one"] = await f.measure(fan, step_s=ctx.step_s, overload=False, ramp_start=2000)
        finally:
            one.stop()
        out["one"]["server_log_errors"] = one.log_count("ERROR")
        a = c.chatapi_server(work, env, name="twoinst-A").start()
        b = c.chatapi_server(work, env, name="twoinst-B").start()
        try:
            fan = f.Fanout(
                "two processes (PG+Redis)",
                f.chatapi_rooms(scene, lambda pos: a.port if pos % 2 == 0 else b.port),
                [a.pid, b.pid],
            )
            out["two"] = await f.measure(fan, step_s=ctx.step_s, overload=False, ramp_start=2000)
        finally:
            a.stop()
            b.stop()
        out["two"]["server_log_errors"] = a.log_count("ERROR") + b.log_count("ERROR")
        out["two"]["skipped_seqs"] = a.log_count("skipping seqs") + b.log_count("skipping seqs")
    finally:
        await c.redis_cleanup(ctx.redis_url, prefix)
    return out
