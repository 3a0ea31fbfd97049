"""Scenario 9, push: the persistence figure (scenario 3's closed loop) with 1,000 Web Push
subscriptions present, against the same with none, in the same run.

100 groups of 3: two members on open sockets send closed-loop (send, wait for the ack,
send the next: 200 sends always in flight), the third member is offline. Run twice on
fresh chatapi servers over SQLite: first with no push subscription at all, then with
`--push-subscriptions` (default 1,000) spread over the offline members (10 devices each),
so every message committed is due to be pushed to 10 devices — far more pushes than a
server can encrypt and send, which is the point: the pushes go through a bounded queue
after the commit, so the commits must keep their pace while pushes are dropped (and
counted) beyond what the worker sends.

The push service is a sink in the bench process on loopback (answers 201 to every POST,
counts them); the server allows http:// push endpoints on loopback for it
(PUSH_ALLOW_HTTP_LOOPBACK). Reported for each: msg/s acked, ack p50/p99, and for the
run with subscriptions the pushes the sink received and the server's push counters
(sent, failed, dropped) from /metrics. Besides msg/s, msg per second of server CPU: on a
shared host other jobs move the wall clock far more than they move what a commit costs.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bench import common as c
from bench.persist import measure
from chatapi.settings import new_vapid_key

CONVS, MEMBERS = 100, 3  # members 0 and 1 send; member 2 is offline
ACK = b'{"type":"message.ack"'
ROUNDS = 2


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Sink(asyncio.Protocol):
    """A push service that takes every push: 201 to each request, counted."""

    received = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            match = re.search(rb"content-length:\s*(\d+)", head)
            size = int(match.group(1)) if match else 0
            if len(self.buffer) < end + 4 + size:
                return
            self.buffer = self.buffer[end + 4 + size :]
            Sink.received += 1
            self.transport.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")


async def _subscribe(database_url: str, user_ids: list[str], devices: int, port: int) -> int:
    """`devices` push subscriptions for each of these users, straight into the database."""
    from sqlalchemy import insert
    from sqlalchemy.ext.asyncio import create_async_engine

    from chatapi.models import PushSubscription

    key = ec.generate_private_key(ec.SECP256R1())
    p256dh = _b64url(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    now = datetime.now(UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "user_id": uuid.UUID(uid),
            "session_id": None,
            "endpoint": f"http://{c.HOST}:{port}/push/{uuid.uuid4().hex}",
            "p256dh": p256dh,
            "auth": _b64url(os.urandom(16)),
            "created_at": now,
        }
        for uid in user_ids
        for _ in range(devices)
    ]
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            for start in range(0, len(rows), 5000):
                await conn.execute(insert(PushSubscription.__table__), rows[start : start + 5000])
    finally:
        await engine.dispose()
    return len(rows)


def _counters(text: str) -> dict[str, float]:
    out = {}
    for name in ("sent", "failed", "dropped", "expired"):
        match = re.search(rf"^chatapi_push_{name}_total (\S+)$", text, re.MULTILINE)
        out[name] = float(match.group(1)) if match else 0.0
    return out


async def run_one(label: str, secs: float, subscriptions: int, sink_port: int) -> dict[str, Any]:
    work = c.workdir(label)
    database_url = c.sqlite_url(work)
    c.migrate(database_url, work)
    groups = [[MEMBERS * i + j for j in range(MEMBERS)] for i in range(CONVS)]
    scene = await c.bulk_scene(database_url, CONVS * MEMBERS, groups, tag="push")
    offline = [scene.user_ids[g[2]] for g in groups]
    devices = subscriptions // len(offline)
    stored = await _subscribe(database_url, offline, devices, sink_port) if devices else 0
    env = c.chatapi_env(
        work,
        database_url,
        push_allow_http_loopback="true",
        vapid_private_key=new_vapid_key(),
        metrics_enabled="true",
    )
    server = c.chatapi_server(work, env, name=f"push-{label}").start()
    Sink.received = 0
    try:
        sockets = [
            ("/api/v1/ws", f'{{"type":"auth","token":"{scene.tokens[m]}"}}', conv)
            for conv, members in scene.conversations
            for m in members[:2]
        ]
        result = await measure(label, server, sockets, ACK, secs)
        await asyncio.sleep(1.0)  # the pushes under way land
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            counters = _counters((await http.get("/metrics")).text)
    finally:
        server.stop()
    result["subscriptions"] = stored
    result["pushes_received"] = Sink.received
    result["push_counters"] = counters
    result["server_log_errors"] = server.log_count("ERROR")
    c.log(f"{label}: {stored} subscriptions, pushes received {Sink.received}, {counters}")
    return result


def _combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds of one variant together: msg/s over all their windows, and msg per
    second of server CPU — what a commit costs, which other jobs on a shared host do not
    move the way they move the wall clock."""
    acked = sum(r["msgs_per_s"] * r["wall_s"] for r in rounds)
    wall = sum(r["wall_s"] for r in rounds)
    cpu = sum(r["server_cpu"][0] * r["wall_s"] for r in rounds)
    last = rounds[-1]
    return {
        **last,
        "msgs_per_s": round(acked / wall),
        "msgs_per_cpu_s": round(acked / cpu) if cpu else None,
        "ack_p50_ms": c.pct([r["ack_p50_ms"] for r in rounds], 50),
        "ack_p99_ms": max(r["ack_p99_ms"] for r in rounds),
        "pushes_received": sum(r["pushes_received"] for r in rounds),
        "push_counters": {
            k: sum(r["push_counters"][k] for r in rounds) for k in last["push_counters"]
        },
        "rounds": rounds,
    }


async def run(ctx: Any) -> dict[str, Any]:
    secs = max(ctx.step_s * 2, 4.0)
    loop = asyncio.get_running_loop()
    sink = await loop.create_server(Sink, c.HOST, 0)
    port = sink.sockets[0].getsockname()[1]
    none: list[dict[str, Any]] = []
    subscribed: list[dict[str, Any]] = []
    try:
        # Interleaved, so that both variants see the host's busy and quiet moments alike.
        for k in range(ROUNDS):
            none.append(await run_one(f"push-none-{k}", secs, 0, port))
            subscribed.append(
                await run_one(f"push-subscribed-{k}", secs, ctx.push_subscriptions, port)
            )
    finally:
        sink.close()
        await sink.wait_closed()
    return {"skipped": [], "none": _combine(none), "subscribed": _combine(subscribed)}
