"""`python -m bench [SCENARIO ...]`: run the benchmark suite (or some scenarios) and
print a table of chatapi figures next to the bare baseline measured in the same run.

Scenarios: fanout idle persist history twoinst upload stalled search push (default: all). See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common as c
from bench import report

SCENARIOS = (
    "fanout",
    "idle",
    "persist",
    "history",
    "twoinst",
    "upload",
    "stalled",
    "search",
    "push",
)
# bench/upload.py is the stand-alone upload script; bench/uploads.py wraps it as a scenario.
MODULES = {name: name for name in SCENARIOS} | {"upload": "uploads"}
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Context:
    step_s: float
    url: str | None
    pg_url: str | None
    pg_skip: str
    redis_url: str | None
    redis_skip: str
    idle_sockets: int
    history_rows: int
    upload_mb: int
    push_subscriptions: int = 1000
    server_pid: int = 0
    skipped: list[str] = field(default_factory=list)


def src_version() -> str:
    """HEAD and whether src/ has uncommitted changes: servers run the working tree, and
    other people may be editing it while the bench runs."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], capture_output=True, text=True, cwd=c.ROOT, check=False
            ).stdout.strip()
        except OSError:
            return ""

    dirty = git("status", "--porcelain", "--", "src")
    return git("rev-parse", "--short", "HEAD") + ("+dirty src" if dirty else "")


def machine() -> dict[str, Any]:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=c.ROOT,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "mem_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "commit": commit,
    }


async def prepare(args: argparse.Namespace) -> Context:
    pg_url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or c.DEFAULT_PG
    redis_url = args.redis_url or os.environ.get("REDIS_URL") or c.DEFAULT_REDIS
    pg_skip = await c.pg_available(pg_url)
    redis_skip = await c.redis_available(redis_url)
    return Context(
        step_s=args.step_seconds,
        url=args.url,
        pg_url=None if pg_skip else pg_url,
        pg_skip=pg_skip or "",
        redis_url=None if redis_skip else redis_url,
        redis_skip=redis_skip or "",
        idle_sockets=args.idle_sockets,
        history_rows=args.history_rows,
        upload_mb=args.upload_mb,
        push_subscriptions=args.push_subscriptions,
        server_pid=args.server_pid,
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    ctx = await prepare(args)
    results: dict[str, Any] = {
        "machine": machine(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
        "pinning": c.pin_generator(),
        "nofile": c.raise_nofile(),
        "step_s": ctx.step_s,
        "postgres": ctx.pg_url or f"skipped: {ctx.pg_skip}",
        "redis": ctx.redis_url or f"skipped: {ctx.redis_skip}",
        "scenarios": {},
    }
    for name in args.scenarios:
        module = importlib.import_module(f"bench.{MODULES[name]}")
        c.log(f"=== {name} ===")
        version = src_version()
        t0 = time.monotonic()
        try:
            results["scenarios"][name] = await module.run(ctx)
        except Exception as exc:  # one broken scenario must not lose the others
            import traceback

            traceback.print_exc()
            results["scenarios"][name] = {"error": f"{type(exc).__name__}: {exc}"}
        results["scenarios"][name]["elapsed_s"] = round(time.monotonic() - t0, 1)
        results["scenarios"][name]["src"] = version
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=", ".join(SCENARIOS))
    parser.add_argument(
        "--url", help="run against this chatapi server (set-up through its REST API)"
    )
    parser.add_argument(
        "--server-pid", type=int, default=0, help="with --url: the server's pid (RSS, CPU)"
    )
    parser.add_argument("--database-url", help="PostgreSQL for the benches (BENCH_DATABASE_URL)")
    parser.add_argument("--redis-url", help="Redis for the two-instance bench (REDIS_URL)")
    parser.add_argument("--step-seconds", type=float, default=5.0)
    parser.add_argument("--idle-sockets", type=int, default=10_000)
    parser.add_argument("--history-rows", type=int, default=1_000_000)
    parser.add_argument("--upload-mb", type=int, default=200)
    parser.add_argument(
        "--push-subscriptions", type=int, default=1000, help="push: subscriptions present"
    )
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy every server started (bench/profile.py)"
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    args.scenarios = args.scenarios or list(SCENARIOS)
    c.PROFILE = args.profile
    loop = c.new_loop()
    asyncio.set_event_loop(loop)
    try:
        results = loop.run_until_complete(run(args))
    finally:
        loop.close()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / time.strftime("bench-%Y%m%d-%H%M%S.json")
    text = json.dumps(results, indent=2, default=str)
    out.write_text(text)
    (RESULTS / "latest.json").write_text(text)
    if args.json:
        args.json.write_text(text)
    print(report.render(results))
    print(f"\nresults: {out}")
    if c.PROFILES:
        from bench import profile

        for path in c.PROFILES:
            print()
            print(profile.summarize(path, top=25))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
