"""Scenario 7, stalled readers: server memory while a group is flooded and some of its
members' sockets have stopped reading.

A group of 2 + N members on one chatapi (SQLite): a sender, a reader that keeps up, and
N more members. The sender floods 4,000 messages of 4,000 characters (`message.send`, 64
in flight, each waiting for its ack); every member's socket gets each one (~4.2 KB
frames, ~17 MB per socket in all). Run twice, each time on a fresh server:

- **none stalled**: the N extra sockets read like the others;
- **N stalled**: the N extra sockets stop reading right after `ready` (their transport
  pauses reading, so the kernel's buffers fill, then uvicorn's, then the server's outbox
  for each: WS_OUTBOX_BYTES, 1 MiB by default, before 1013).

Reported for each: the server's RSS before the flood and its peak during it (sampled every
20 ms) and after, the growth (peak minus before), the messages the reader that keeps up
received (all of them, or the run says so), and the close codes the N sockets saw once
they read again. The figure that matters is the growth with N stalled against none: a
stalled reader should cost at most its outbox bound (plus the kernel's buffers, which
are not the server's RSS).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

from bench import common as c

STALLED = 4
MESSAGES = 4_000
BODY_CHARS = 4_000
WINDOW = 64


class Flood:
    """The sender's pipelined sends, and every socket's count of `message.new` frames."""

    def __init__(self) -> None:
        self.acked = 0
        self.errors = 0
        self.window: asyncio.Semaphore = asyncio.Semaphore(WINDOW)
        self.received: Counter[int] = Counter()

    def on_sender_text(self, client: c.WsClient, payload: bytes) -> None:
        if payload.startswith(b'{"type":"message.ack"'):
            self.acked += 1
            self.window.release()
        elif payload.startswith(b'{"type":"error"'):
            self.errors += 1
            self.window.release()

    def on_member_text(self, client: c.WsClient, payload: bytes) -> None:
        if b'"type":"message.new"' in payload:
            self.received[client.tag] += 1


async def sample_rss(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], c.proc_rss_kb(pid))
        await asyncio.sleep(0.02)


async def one_run(stall: bool) -> dict[str, Any]:
    work = c.workdir("stalled")
    url = c.sqlite_url(work)
    c.migrate(url, work)
    members = 2 + STALLED
    scene = await c.bulk_scene(url, members, [list(range(members))], tag="stall")
    conv = scene.conversations[0][0]
    env = c.chatapi_env(work, url, ws_rate_limit="100000/second")
    server = c.chatapi_server(work, env, name="stalled-chatapi").start()
    flood = Flood()
    closes: Counter[int] = Counter()
    try:
        auth = [f'{{"type":"auth","token":"{t}"}}' for t in scene.tokens]
        sender = await c.open_ws(
            server.port, "/api/v1/ws", first_frame=auth[0], on_text=flood.on_sender_text
        )
        readers = []
        for i in range(1, members):
            ws = await c.open_ws(
                server.port,
                "/api/v1/ws",
                first_frame=auth[i],
                on_text=flood.on_member_text,
                closes=closes,
            )
            ws.tag = i
            readers.append(ws)
        extra = readers[1:]
        if stall:
            for ws in extra:
                assert ws.transport is not None
                ws.transport.pause_reading()
        await asyncio.sleep(1.0)
        rss0 = server.rss_kb()
        peak = [rss0]
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(server.pid, peak, stop))
        pad = "x" * (BODY_CHARS - 40)
        nonce = uuid.uuid4().hex[:8]
        t0 = time.monotonic()
        for n in range(MESSAGES):
            await flood.window.acquire()
            sender.send_text(
                f'{{"type":"message.send","conversation_id":"{conv}",'
                f'"client_id":"{nonce}-{n}","body":"{n:08d} {pad}"}}'
            )
        deadline = time.monotonic() + 120
        while flood.acked + flood.errors < MESSAGES and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        while flood.received[1] < flood.acked and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        flood_s = time.monotonic() - t0
        await asyncio.sleep(1.0)
        stop.set()
        await sampler
        rss1 = server.rss_kb()
        if stall:
            for ws in extra:
                if ws.transport is not None and not ws.transport.is_closing():
                    ws.transport.resume_reading()
        # Let the extra sockets read what they can and their close frame (1013), if any.
        end = time.monotonic() + 40
        while time.monotonic() < end and not all(ws.lost for ws in extra):
            if not stall and all(flood.received[ws.tag] >= flood.acked for ws in extra):
                break
            await asyncio.sleep(0.1)
        result = {
            "stalled": STALLED if stall else 0,
            "members": members,
            "messages": MESSAGES,
            "body_chars": BODY_CHARS,
            "acked": flood.acked,
            "errors": flood.errors,
            "flood_s": round(flood_s, 2),
            "reader_received": flood.received[1],
            "extra_received": [flood.received[ws.tag] for ws in extra],
            "extra_closes": dict(closes),
            "rss_before_mb": round(rss0 / 1024, 1),
            "rss_peak_mb": round(peak[0] / 1024, 1),
            "rss_after_mb": round(rss1 / 1024, 1),
            "growth_mb": round((peak[0] - rss0) / 1024, 1),
        }
        for ws in [sender, *readers]:
            ws.close()
        await asyncio.sleep(0.5)
    finally:
        server.stop()
    result["server_log_errors"] = server.log_count("ERROR")
    label = f"{STALLED} stalled" if stall else "none stalled"
    c.log(
        f"stalled, {label}: {result['acked']} acked in {result['flood_s']} s, reader got "
        f"{result['reader_received']}, RSS {result['rss_before_mb']} -> peak "
        f"{result['rss_peak_mb']} MiB (+{result['growth_mb']}), extra sockets closed "
        f"{result['extra_closes']}"
    )
    return result


async def run(ctx: Any) -> dict[str, Any]:
    if ctx.url:
        return {"skipped": ["stalled: starts its own servers (not with --url)"]}
    return {"none": await one_run(False), "stalled": await one_run(True), "skipped": []}
