"""Scenario 2, idle sockets: 10,000 authenticated idle sockets on one process.

Each socket connects, upgrades, sends its first frame (chatapi: `auth` with an access
token of its own user; baseline: any frame) and waits for `ready`; 100 handshakes are in
flight at once. Reported: the connect rate (sockets ready per second) and the server's
RSS growth per socket (RSS once all are idle, minus RSS after a 200-socket warm-up that
was opened and closed, divided by the count). The users belong to no conversation, so
an `auth` costs the token check, a user look-up and the hub's conversation list load.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from bench import common as c

WARMUP = 200


async def wait_idle(pid: int, since: float, *, limit: float) -> float | None:
    """Seconds from `since` until the server burns < 5 % CPU over 0.5 s (None: no pid, or
    still busy after `limit`)."""
    if not pid:
        return None
    last = c.proc_cpu_seconds(pid)
    while time.monotonic() - since < limit:
        await asyncio.sleep(0.5)
        now = c.proc_cpu_seconds(pid)
        if now - last < 0.025:
            return round(time.monotonic() - since - 0.5, 1)
        last = now
    return None


async def measure(
    name: str, server: c.Proc | c.External, path: str, first_frames: list[str], count: int
) -> dict[str, Any]:
    def opener(offset: int) -> Any:
        return lambda i: c.open_ws(server.port, path, first_frame=first_frames[offset + i])

    warm = await c.open_many(WARMUP, opener(0), concurrency=100)
    await c.close_all(warm, settle=1.5)
    rss0 = server.rss_kb()
    window = c.CpuWindow([server.pid])
    t0 = time.monotonic()
    clients = await c.open_many(count, opener(WARMUP), concurrency=100)
    elapsed = time.monotonic() - t0
    cpu = window.read()
    await asyncio.sleep(2.0)
    rss1 = server.rss_kb()
    alive = sum(1 for x in clients if not x.lost)
    # A disconnect storm: every socket closes at once; how long until the server is idle
    # again (chatapi writes last_seen_at and announces presence per user going offline).
    t1 = time.monotonic()
    await c.close_all(clients, settle=0.0)
    disconnect_s = await wait_idle(server.pid, t1, limit=120.0)
    result = {
        "sockets": count,
        "alive_after_2s": alive,
        "connect_s": round(elapsed, 2),
        "connects_per_s": round(count / elapsed),
        "rss_before_mb": round(rss0 / 1024, 1),
        "rss_idle_mb": round(rss1 / 1024, 1),
        "kib_per_socket": round((rss1 - rss0) / count, 1),
        "disconnect_storm_s": disconnect_s,
        **cpu,
    }
    c.log(
        f"{name}: {count} sockets in {elapsed:.1f} s ({result['connects_per_s']}/s), "
        f"{result['kib_per_socket']} KiB/socket, disconnect storm {disconnect_s} s, "
        f"srv cpu {cpu['server_cpu']} "
        f"(runq wait {cpu['server_runq_wait']}), gen cpu {cpu['gen_cpu']}"
    )
    return result


async def run(ctx: Any) -> dict[str, Any]:
    count = ctx.idle_sockets
    out: dict[str, Any] = {"skipped": []}
    work = c.workdir("idle-baseline")
    base = c.baseline_server(work).start()
    try:
        frames = ['{"type":"join"}'] * (count + WARMUP)
        out["baseline"] = await measure("baseline", base, "/ws?room=idle", frames, count)
    finally:
        base.stop()

    work = c.workdir("idle-chatapi")
    server: c.Proc | c.External
    label = "chatapi-sqlite"
    if ctx.url:
        label = "chatapi-url"
        server = c.External(ctx.url, ctx.server_pid)
        scene = await c.rest_scene(
            server.base_url, count + WARMUP, [], tag=f"i{uuid.uuid4().hex[:6]}"
        )
    else:
        url = c.sqlite_url(work)
        c.migrate(url, work)
        scene = await c.bulk_scene(url, count + WARMUP, [], tag="idle")
        server = c.chatapi_server(work, c.chatapi_env(work, url), name="idle-chatapi").start()
    try:
        frames = [f'{{"type":"auth","token":"{t}"}}' for t in scene.tokens]
        out[label] = await measure(label, server, "/api/v1/ws", frames, count)
    finally:
        server.stop()
    out[label]["server_log_errors"] = server.log_count("ERROR")
    return out
