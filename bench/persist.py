"""Scenario 3, persistence: messages/s committed end to end, `message.send` -> `message.ack`.

100 conversations of 2 members, both members sending: 200 sockets, each one closed-loop
(send, wait for its `message.ack`, send the next), so 200 sends are always in flight.
Reported: acks/s over the window, ack latency p50/p99, error frames. Then, on fresh
sockets of the same server, a fixed rate: 4,000 msg/s (80 % of the 5,000 msg/s target)
sent open-loop, 20 msg/s from each of the 200 sockets, reporting ack p50/p99, acks/s,
refusals (`error` frames by code, `overloaded` among them) and sends never answered.

Next to it, in the same run:
- the bare baseline WebSocket round trip under the same load (200 sockets in rooms of 2,
  each waiting for its own frame to come back): the floor of the socket plumbing;
- the bare database: the same transaction chatapi commits per message (UPDATE the
  conversation's last_seq RETURNING it, INSERT the event, INSERT the message, COMMIT),
  straight through the driver from the bench process (sqlite3 in one thread; asyncpg with
  20 connections): what the database itself can commit.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson

from bench import common as c

CONVS, PER_CONV = 100, 2
PAD = "persisted through the whole stack, then acknowledged"


class Loop:
    """Closed-loop senders on open sockets."""

    def __init__(self, ack_prefix: bytes | None) -> None:
        self.ack_prefix = ack_prefix
        self.lat: list[int] = []
        self.acked = 0
        self.errors = 0
        self.counting = False

    def on_text(self, client: c.WsClient, payload: bytes) -> None:
        waiter = client.tag
        if waiter is None or waiter[0].done():
            return
        fut, cid = waiter
        if payload.startswith(b'{"type":"error"'):
            fut.set_result(False)
        elif (self.ack_prefix is None or payload.startswith(self.ack_prefix)) and cid in payload:
            fut.set_result(True)

    async def sender(self, ws: c.WsClient, conv: str, end: float, nonce: str) -> None:
        loop = asyncio.get_running_loop()
        n = 0
        while time.monotonic() < end and not ws.lost:
            cid = f"{nonce}-{n}"
            n += 1
            fut: asyncio.Future[bool] = loop.create_future()
            ws.tag = (fut, cid.encode())
            t0 = time.monotonic_ns()
            ws.send_text(
                f'{{"type":"message.send","conversation_id":"{conv}",'
                f'"client_id":"{cid}","body":"{cid} {PAD}"}}'
            )
            try:
                ok = await asyncio.wait_for(fut, 15)
            except TimeoutError:
                self.errors += 1
                continue
            if not self.counting:
                continue
            if ok:
                self.acked += 1
                self.lat.append(time.monotonic_ns() - t0)
            else:
                self.errors += 1


async def measure(
    name: str,
    server: c.Proc | c.External,
    sockets: list[tuple[str, str, str]],
    ack: bytes | None,
    secs: float,
) -> dict[str, Any]:
    """`sockets`: (path, first frame, conversation) per sender."""
    lp = Loop(ack)
    clients = await c.open_many(
        len(sockets),
        lambda i: c.open_ws(
            server.port, sockets[i][0], first_frame=sockets[i][1], on_text=lp.on_text
        ),
        concurrency=50,
    )
    await asyncio.sleep(1.0)
    warm = 1.0
    start = time.monotonic()
    end = start + warm + secs
    tasks = [
        asyncio.ensure_future(lp.sender(ws, s[2], end, f"{uuid.uuid4().hex[:8]}"))
        for ws, s in zip(clients, sockets, strict=True)
    ]
    await asyncio.sleep(warm)
    lp.counting = True
    window = c.CpuWindow([server.pid] if server.pid else [])
    await asyncio.sleep(secs)
    lp.counting = False
    cpu = window.read()
    await asyncio.gather(*tasks)
    await c.close_all(clients)
    lat = c.ms(lp.lat)
    result = {
        "senders": len(sockets),
        "msgs_per_s": round(lp.acked / cpu["wall_s"]),
        "ack_p50_ms": c.pct(lat, 50),
        "ack_p99_ms": c.pct(lat, 99),
        "errors": lp.errors,
        **cpu,
    }
    c.log(
        f"{name}: {result['msgs_per_s']} msg/s, ack p50 {c.fmt(result['ack_p50_ms'])} "
        f"p99 {c.fmt(result['ack_p99_ms'])} ms, errors {lp.errors}, srv cpu {cpu['server_cpu']} "
        f"(runq wait {cpu['server_runq_wait']}), gen cpu {cpu['gen_cpu']}"
    )
    return result


# --- a fixed rate ------------------------------------------------------------------------

FIXED_RATE = 4000  # msg/s: 80 % of the 5,000 msg/s target


class OpenLoop:
    """Senders on a fixed schedule, whatever the answers; each socket's `tag` maps the
    client_id of its unanswered sends to their send time. `answer` is the prefix of the
    frame that acknowledges a send (chatapi's `message.ack`, the baseline's echo)."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.lat: list[int] = []
        self.last_ack = 0.0
        self.errors: Counter[str] = Counter()

    def on_text(self, client: c.WsClient, payload: bytes) -> None:
        pending: dict[bytes, int] = client.tag
        if payload.startswith(b'{"type":"error"'):
            frame = orjson.loads(payload)
            self.errors[str(frame.get("code"))] += 1
            pending.pop(str(frame.get("client_id")).encode(), None)
            return
        if not payload.startswith(self.answer):
            return
        i = payload.find(b'"client_id":"') + 13
        if i >= 13:
            t0 = pending.pop(payload[i : payload.find(b'"', i)], None)
            if t0 is not None:
                self.lat.append(time.monotonic_ns() - t0)
                self.last_ack = time.monotonic()

    @staticmethod
    async def sender(ws: c.WsClient, conv: str, rate: float, t0: float, end: float) -> int:
        pending: dict[bytes, int] = ws.tag
        nonce = uuid.uuid4().hex[:8]
        n = 0
        while not ws.lost:
            due = t0 + n / rate
            if due >= end:
                break
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            cid = f"{nonce}-{n}"
            pending[cid.encode()] = time.monotonic_ns()
            ws.send_text(
                f'{{"type":"message.send","conversation_id":"{conv}",'
                f'"client_id":"{cid}","body":"{cid} {PAD}"}}'
            )
            n += 1
        return n


async def fixed_rate(
    name: str,
    server: c.Proc | c.External,
    sockets: list[tuple[str, str, str]],
    answer: bytes,
    secs: float,
    rate: float = FIXED_RATE,
    drain: float = 5.0,
) -> dict[str, Any]:
    """`rate` msg/s in all, open-loop, spread evenly over `sockets` (as for `measure`)."""
    ol = OpenLoop(answer)
    clients = await c.open_many(
        len(sockets),
        lambda i: c.open_ws(
            server.port, sockets[i][0], first_frame=sockets[i][1], on_text=ol.on_text
        ),
        concurrency=50,
    )
    for ws in clients:
        ws.tag = {}
    await asyncio.sleep(1.0)
    per_socket = rate / len(clients)
    start = time.monotonic() + 0.1
    window = c.CpuWindow([server.pid] if server.pid else [])
    sent = sum(
        await asyncio.gather(
            *(
                # Each socket's first send offset by a share of the interval: no bursts.
                OpenLoop.sender(ws, s[2], per_socket, start + k / rate, start + secs)
                for k, (ws, s) in enumerate(zip(clients, sockets, strict=True))
            )
        )
    )
    cpu = window.read()
    deadline = time.monotonic() + drain
    while any(ws.tag for ws in clients) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await c.close_all(clients)
    lat = c.ms(ol.lat)
    refused = sum(ol.errors.values())
    result = {
        "offered_msgs_per_s": round(rate),
        "sent": sent,
        "acked": len(ol.lat),
        # Over the time the acks took to come: past the server's rate, later than the sends.
        "acks_per_s": round(len(ol.lat) / max(ol.last_ack - start, secs)),
        "ack_p50_ms": c.pct(lat, 50),
        "ack_p99_ms": c.pct(lat, 99),
        "ack_max_ms": max(lat) if lat else None,
        "errors": dict(ol.errors),
        "refused_overloaded": ol.errors.get("overloaded", 0),
        # Neither acknowledged nor refused within the drain.
        "unanswered": sent - len(ol.lat) - refused,
        **cpu,
    }
    c.log(
        f"{name} at {rate:,.0f} msg/s: acked {result['acks_per_s']}/s, ack p50 "
        f"{c.fmt(result['ack_p50_ms'])} p99 {c.fmt(result['ack_p99_ms'])} ms, errors "
        f"{dict(ol.errors)}, unanswered {result['unanswered']}, srv cpu {cpu['server_cpu']}"
    )
    return result


# --- the bare database ------------------------------------------------------------------


def bare_sqlite(path: str, convs: list[str], user: str, secs: float) -> dict[str, Any]:
    """One writer thread doing chatapi's per-message transaction, WAL + synchronous=NORMAL."""
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    count = 0
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    end = time.monotonic() + secs
    lat: list[int] = []
    while time.monotonic() < end:
        conv = convs[count % len(convs)]
        t0 = time.monotonic_ns()
        con.execute("BEGIN IMMEDIATE")
        seq = con.execute(
            "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = ? "
            "WHERE id = ? RETURNING last_seq",
            (now, conv),
        ).fetchone()[0]
        mid = uuid.uuid4().hex
        con.execute(
            "INSERT INTO messages (id, conversation_id, seq, sender_id, body, client_id, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (mid, conv, seq, user, PAD, mid[:12], now),
        )
        con.execute(
            "INSERT INTO conversation_events (conversation_id, seq, type, actor_id, created_at,"
            " message_id) VALUES (?, ?, 'message.new', ?, ?, ?)",
            (conv, seq, user, now, mid),
        )
        con.execute("COMMIT")
        lat.append(time.monotonic_ns() - t0)
        count += 1
    con.close()
    lms = c.ms(lat)
    return {"tx_per_s": round(count / secs), "p50_ms": c.pct(lms, 50), "p99_ms": c.pct(lms, 99)}


async def bare_pg(url: str, convs: list[str], user: str, secs: float) -> dict[str, Any]:
    import asyncpg

    pool = await asyncpg.create_pool(c._pg_dsn(url), min_size=20, max_size=20)
    count = 0
    lat: list[int] = []
    end = time.monotonic() + secs
    uid = uuid.UUID(user)

    async def worker(k: int) -> None:
        nonlocal count
        i = k
        async with pool.acquire() as con:
            while time.monotonic() < end:
                conv = uuid.UUID(convs[i % len(convs)])
                i += 20
                t0 = time.monotonic_ns()
                now = datetime.now(UTC)
                async with con.transaction():
                    seq = await con.fetchval(
                        "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = $1"
                        " WHERE id = $2 RETURNING last_seq",
                        now,
                        conv,
                    )
                    mid = uuid.uuid4()
                    await con.execute(
                        "INSERT INTO messages (id, conversation_id, seq, sender_id, body, "
                        "client_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        mid,
                        conv,
                        seq,
                        uid,
                        PAD,
                        mid.hex[:12],
                        now,
                    )
                    await con.execute(
                        "INSERT INTO conversation_events (conversation_id, seq, type, actor_id,"
                        " created_at, message_id) VALUES ($1, $2, 'message.new', $3, $4, $5)",
                        conv,
                        seq,
                        uid,
                        now,
                        mid,
                    )
                lat.append(time.monotonic_ns() - t0)
                count += 1

    try:
        await asyncio.gather(*(worker(k) for k in range(20)))
    finally:
        await pool.close()
    lms = c.ms(lat)
    return {"tx_per_s": round(count / secs), "p50_ms": c.pct(lms, 50), "p99_ms": c.pct(lms, 99)}


# --- the scenario -----------------------------------------------------------------------


async def run_chatapi(
    label: str, database_url: str, secs: float, external: c.External | None = None
) -> dict[str, Any]:
    work = c.workdir(label)
    if database_url == "sqlite":
        database_url = c.sqlite_url(work)
    groups = [[PER_CONV * i + j for j in range(PER_CONV)] for i in range(CONVS)]
    server: c.Proc | c.External
    if external is None:
        c.migrate(database_url, work)
        scene = await c.bulk_scene(database_url, CONVS * PER_CONV, groups, tag="per")
        server = c.chatapi_server(
            work, c.chatapi_env(work, database_url), name=f"persist-{label}"
        ).start()
    else:
        server = external
        tag = f"p{uuid.uuid4().hex[:6]}"
        scene = await c.rest_scene(server.base_url, CONVS * PER_CONV, groups, tag=tag)
    try:
        sockets = [
            ("/api/v1/ws", f'{{"type":"auth","token":"{scene.tokens[m]}"}}', conv)
            for conv, members in scene.conversations
            for m in members
        ]
        result = await measure(label, server, sockets, b'{"type":"message.ack"', secs)
        result["fixed"] = await fixed_rate(label, server, sockets, b'{"type":"message.ack"', secs)
    finally:
        server.stop()
    result["server_log_errors"] = server.log_count("ERROR")
    if external is not None:
        return result
    convs = [conv for conv, _ in scene.conversations]
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[1]
        bare = await asyncio.to_thread(
            bare_sqlite,
            path,
            [uuid.UUID(x).hex for x in convs],
            uuid.UUID(scene.user_ids[0]).hex,
            secs,
        )
    else:
        bare = await bare_pg(database_url, convs, scene.user_ids[0], secs)
    c.log(f"{label} bare database: {bare}")
    result["bare_db"] = bare
    return result


async def run(ctx: Any) -> dict[str, Any]:
    secs = max(ctx.step_s * 2, 4.0)
    out: dict[str, Any] = {"skipped": []}
    work = c.workdir("persist-baseline")
    base = c.baseline_server(work).start()
    try:
        sockets = [
            (f"/ws?room=p{i}", '{"type":"join"}', f"p{i}")
            for i in range(CONVS)
            for _ in range(PER_CONV)
        ]
        out["baseline"] = await measure("baseline", base, sockets, None, secs)
        echo = b'{"type":"message.send"'  # the baseline answers a send with the send itself
        out["baseline"]["fixed"] = await fixed_rate("baseline", base, sockets, echo, secs)
    finally:
        base.stop()
    if ctx.url:
        ext = c.External(ctx.url, ctx.server_pid)
        out["chatapi-url"] = await run_chatapi("chatapi-url", "", secs, ext)
        return out
    out["chatapi-sqlite"] = await run_chatapi("chatapi-sqlite", "sqlite", secs)
    if ctx.pg_url:
        await c.pg_reset(ctx.pg_url)
        out["chatapi-postgres"] = await run_chatapi("chatapi-postgres", ctx.pg_url, secs)
    else:
        out["skipped"].append(f"chatapi-postgres: {ctx.pg_skip}")
    return out
