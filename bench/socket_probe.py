"""Per-socket cost, measured with deterministic tools rather than the wall clock.

    python -m bench.socket_probe [--sockets 1000] [--groups K] [--database-url URL]
                                 [--baseline] [--no-trace] [--profile] [--json FILE]

Starts a real `chatapi serve` (the same `cli.main`, inside a small wrapper that installs
the probes), opens a 200-socket warm-up and closes it, then opens `--sockets`
authenticated sockets (100 handshakes in flight) and compares the server before and
after them:

- **traced Python heap per socket**, by package (`tracemalloc`, one frame: the package
  that asked for the memory), and the growth of RSS;
- **GC-tracked objects per socket** (`gc.get_objects()` after a full collection), and
  how long a full collection takes before and after the sockets (`full_gc_ms`);
- **database work per `auth`**: sessions (pool checkouts; on PostgreSQL each one is a
  pre-ping round trip), transactions begun, statements executed (SQLAlchemy events),
  and the statements by their first words;
- **server CPU time per connect** (user + system, from the process itself).

Two servers run one after the other: one under `tracemalloc` (the heap figures), one
without it (CPU, database counts; tracemalloc would inflate the CPU time; `--no-trace`
runs only this one). `--groups K` puts the users in groups of K (user i with
i+1..i+K-1: each in K groups), so that `auth` also loads a conversation list and
co-members; 0 (the default) is the `idle` scenario's users, who belong to no
conversation. `--baseline` probes `bench/baseline.py` instead (the same sockets joining
one room); `--profile` runs py-spy over the untraced server's connects.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import resource
import signal
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

PROBE_FILE_ENV = "CHATAPI_PROBE_FILE"
PROBE_TRACE_ENV = "CHATAPI_PROBE_TRACE"
WARMUP = 200
_SITE = re.compile(r"[/\\]site-packages[/\\]([^/\\]+)")
_STDLIB = re.compile(r"[/\\]lib[/\\]python3\.\d+[/\\]([^/\\]+)")


# --- inside the server process ---------------------------------------------------------


def _package(filename: str) -> str:
    if "/src/chatapi/" in filename:
        return "chatapi"
    m = _SITE.search(filename)
    if m:
        return m.group(1).removesuffix(".py").split(".")[0]
    m = _STDLIB.search(filename)
    if m:
        return m.group(1).removesuffix(".py")
    return "<other>"


class _Counts:
    def __init__(self) -> None:
        self.checkouts = 0
        self.begins = 0
        self.statements = 0
        self.commits = 0
        self.rollbacks = 0
        self.texts: Counter[str] = Counter()


def _install_db_counters(counts: _Counts) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    def checkout(*_: Any) -> None:
        counts.checkouts += 1

    def begin(*_: Any) -> None:
        counts.begins += 1

    def commit(*_: Any) -> None:
        counts.commits += 1

    def rollback(*_: Any) -> None:
        counts.rollbacks += 1

    def execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        counts.statements += 1
        counts.texts[" ".join(statement.split()[:2])[:40]] += 1

    event.listen(Pool, "checkout", checkout)
    event.listen(Engine, "begin", begin)
    event.listen(Engine, "commit", commit)
    event.listen(Engine, "rollback", rollback)
    event.listen(Engine, "before_cursor_execute", execute)


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _dump(counts: _Counts, path: Path) -> None:
    gc.collect()
    started = time.perf_counter()
    gc.collect()  # timed: what a full collection costs the loop now
    full_gc_ms = (time.perf_counter() - started) * 1000
    out: dict[str, Any] = {
        "full_gc_ms": full_gc_ms,
        "gc_objects": len(gc.get_objects()),
        "rss_kb": _rss_kb(),
        "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
        "db": {
            "checkouts": counts.checkouts,
            "begins": counts.begins,
            "statements": counts.statements,
            "commits": counts.commits,
            "rollbacks": counts.rollbacks,
            "texts": dict(counts.texts),
        },
    }
    if tracemalloc.is_tracing():
        snap = tracemalloc.take_snapshot()
        by_pkg: Counter[str] = Counter()
        by_line: Counter[str] = Counter()
        for stat in snap.statistics("lineno"):
            frame = stat.traceback[0]
            by_pkg[_package(frame.filename)] += stat.size
            short = frame.filename.split("site-packages/")[-1].split("/src/")[-1]
            by_line[f"{short}:{frame.lineno}"] += stat.size
        out["traced"] = sum(by_pkg.values())
        out["by_package"] = dict(by_pkg)
        out["by_line"] = dict(by_line)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out))
    tmp.replace(path)


def serve_probed(argv: list[str]) -> int:
    """`chatapi serve ...`, with tracemalloc (if asked) and the database counters."""
    if os.environ.get(PROBE_TRACE_ENV):
        tracemalloc.start(1)
    counts = _Counts()
    _install_db_counters(counts)
    path = Path(os.environ[PROBE_FILE_ENV])
    signal.signal(signal.SIGUSR1, lambda *_: _dump(counts, path))
    if argv[:1] == ["--baseline"]:
        from bench import baseline

        sys.argv = ["bench.baseline", *argv[1:]]
        baseline.main()
        return 0
    from chatapi import cli

    return cli.main(["serve", *argv])


# --- the driver -------------------------------------------------------------------------


async def _snapshot(server: Any, probe: Path) -> dict[str, Any]:
    import httpx

    probe.unlink(missing_ok=True)
    os.kill(server.pid, signal.SIGUSR1)
    # A request wakes the loop if it sleeps in epoll; the dump itself may take a while.
    async with httpx.AsyncClient(timeout=300) as http:
        for _ in range(600):
            if probe.exists():
                break
            with contextlib.suppress(httpx.HTTPError):
                await http.get(server.base_url + "/healthz")
            await asyncio.sleep(0.1)
    return dict(json.loads(probe.read_text()))


async def _one_server(args: argparse.Namespace, *, trace: bool) -> dict[str, Any]:
    from bench import common as c

    n = args.sockets
    work = c.workdir("probe")
    if args.baseline:
        return await _probe(args, c.base_env(), work, ["--baseline"], trace=trace)
    if args.database_url:
        url = args.database_url
        await c.pg_reset(url)
    else:
        url = c.sqlite_url(work)
    c.migrate(url, work)
    total = n + WARMUP
    groups: list[list[int]] = []
    if args.groups > 1:
        groups = [[(i + j) % total for j in range(args.groups)] for i in range(total)]
    scene = await c.bulk_scene(url, total, groups, tag="probe")
    frames = [f'{{"type":"auth","token":"{t}"}}' for t in scene.tokens]
    return await _probe(args, c.chatapi_env(work, url), work, [], trace=trace, frames=frames)


async def _probe(
    args: argparse.Namespace,
    env: dict[str, str],
    work: Path,
    argv: list[str],
    *,
    trace: bool,
    frames: list[str] | None = None,
) -> dict[str, Any]:
    from bench import common as c

    n = args.sockets
    probe = work / "probe.json"
    env[PROBE_FILE_ENV] = str(probe)
    if trace:
        env[PROBE_TRACE_ENV] = "1"
    env["PYTHONPATH"] = str(c.ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    port = c.free_port()
    server = c.Proc(
        "probe",
        [c.PY, "-m", "bench.socket_probe", "--serve", *argv, "--host", c.HOST, "--port", str(port)],
        env,
        work,
        port,
    ).start()
    path = "/ws?room=idle" if frames is None else "/api/v1/ws"
    frames = frames or ['{"type":"join"}'] * (n + WARMUP)
    try:

        def opener(offset: int) -> Any:
            return lambda i: c.open_ws(port, path, first_frame=frames[offset + i], timeout=120)

        warm = await c.open_many(WARMUP, opener(0), concurrency=100)
        await c.close_all(warm, settle=2.0)
        before = await _snapshot(server, probe)
        spy = None
        if args.profile and not trace:
            from bench import profile

            spy = profile.start(server.pid, f"probe-{port}")
            await asyncio.sleep(2.0)  # py-spy attaches
        clients = await c.open_many(n, opener(WARMUP), concurrency=100)
        if spy is not None:
            from bench import profile

            out = profile.stop(spy)
            if out is not None:
                print(profile.summarize(out, top=40), file=sys.stderr)
        await asyncio.sleep(1.0)
        after = await _snapshot(server, probe)
        await c.close_all(clients, settle=2.0)
    finally:
        server.stop()
    errors = server.log_count("ERROR")
    return {"before": before, "after": after, "server_log_errors": errors}


def _per(after: dict[str, Any], before: dict[str, Any], key: str, n: int) -> float:
    return float(after[key] - before[key]) / n


def summarize(traced: dict[str, Any] | None, plain: dict[str, Any], n: int) -> dict[str, Any]:
    out: dict[str, Any] = {"sockets": n}
    if traced is not None:
        out.update(_heap(traced, n))
    b, a = plain["before"], plain["after"]
    out["gc_objects_per_socket"] = round(_per(a, b, "gc_objects", n), 1)
    out["full_gc_ms"] = [round(b["full_gc_ms"]), round(a["full_gc_ms"])]
    out["rss_kib_per_socket"] = round(_per(a, b, "rss_kb", n), 1)
    out["cpu_ms_per_connect"] = round(_per(a, b, "cpu_s", n) * 1000, 3)
    db = {k: round((a["db"][k] - b["db"][k]) / n, 2) for k in a["db"] if k != "texts"}
    texts = Counter(a["db"]["texts"])
    texts.subtract(b["db"]["texts"])
    db["statements_by_kind"] = {k: round(v / n, 2) for k, v in texts.items() if v}
    out["db_per_auth"] = db
    errors = plain["server_log_errors"] + (traced or {}).get("server_log_errors", 0)
    out["server_log_errors"] = errors
    return out


def _heap(traced: dict[str, Any], n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    b, a = traced["before"], traced["after"]
    out["traced_kib_per_socket"] = round((a["traced"] - b["traced"]) / n / 1024, 2)
    pkgs = set(a["by_package"]) | set(b["by_package"])
    diff = {p: (a["by_package"].get(p, 0) - b["by_package"].get(p, 0)) / n / 1024 for p in pkgs}
    out["traced_by_package_kib"] = {
        p: round(v, 2) for p, v in sorted(diff.items(), key=lambda kv: -kv[1]) if abs(v) >= 0.05
    }
    lines = set(a["by_line"]) | set(b["by_line"])
    line_diff = {ln: (a["by_line"].get(ln, 0) - b["by_line"].get(ln, 0)) / n for ln in lines}
    out["traced_top_lines_bytes"] = {
        ln: round(v) for ln, v in sorted(line_diff.items(), key=lambda kv: -kv[1])[:25]
    }
    out["gc_objects_per_socket_traced"] = round(_per(a, b, "gc_objects", n), 1)
    return out


async def drive(args: argparse.Namespace) -> dict[str, Any]:
    if args.no_trace:
        plain = await _one_server(args, trace=False)
        return summarize(None, plain, args.sockets)
    traced = await _one_server(args, trace=True)
    plain = await _one_server(args, trace=False)
    return summarize(traced, plain, args.sockets)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve"]:
        return serve_probed(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench.socket_probe", description=__doc__)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=0, help="users in groups of this size")
    parser.add_argument("--database-url", help="PostgreSQL (dropped and re-migrated)")
    parser.add_argument("--baseline", action="store_true", help="probe bench/baseline.py")
    parser.add_argument("--json", type=Path, help="write the summary here too")
    parser.add_argument(
        "--no-trace", action="store_true", help="skip the tracemalloc server (CPU, database)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the untraced server while it connects"
    )
    args = parser.parse_args(argv)
    from sqlalchemy.engine import make_url

    from bench import common as c

    if args.database_url and make_url(args.database_url).database == "test":
        parser.error("refusing the `test` database (the test suite drops it)")
    c.raise_nofile()
    loop = c.new_loop()
    asyncio.set_event_loop(loop)
    try:
        result = loop.run_until_complete(drive(args))
    finally:
        loop.close()
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"[probe] {time.monotonic() - started:.0f} s", file=sys.stderr)
    raise SystemExit(code)
