"""Profiles of the servers under load: `python -m bench SCENARIO --profile` runs py-spy
(`pip install py-spy`) against every server the bench starts and writes collapsed stacks
to `bench/results/profile-<server>-<port>.txt`; `python -m bench.profile FILE` (also
printed at the end of the run) summarizes one: the share of samples spent in each
function (inclusive, and as the leaf), with the event loop's idle wait left out.

    python -m bench.profile bench/results/profile-chatapi-41234.txt [--top 30] [--grep chatapi]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from collections import Counter
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
IDLE = ("select (selectors.py", "run_forever (asyncio/base_events.py", "_run_once")


def py_spy() -> str | None:
    import sys

    exe = Path(sys.executable).with_name("py-spy")
    return str(exe) if exe.exists() else shutil.which("py-spy")


def start(pid: int, name: str) -> tuple[subprocess.Popen[bytes], Path] | None:
    exe = py_spy()
    if exe is None:
        return None
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"profile-{name}.txt"
    proc = subprocess.Popen(
        # --gil: only samples holding the GIL, i.e. where the server's CPU goes (waits on
        # sockets, the database or the event loop's select() are left out).
        [
            exe,
            "record",
            "--pid",
            str(pid),
            "--gil",
            "--format",
            "raw",
            "--rate",
            "250",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, out


def stop(handle: tuple[subprocess.Popen[bytes], Path] | None) -> Path | None:
    if handle is None:
        return None
    proc, out = handle
    if proc.poll() is None:
        proc.send_signal(2)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return out if out.exists() else None


def summarize(path: Path, top: int = 30, grep: str = "") -> str:
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    package: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        if frames and any(frames[-1].startswith(i) or i in frames[-1] for i in IDLE[:1]):
            idle += n
            continue
        for f in set(frames):
            inclusive[f] += n
        leaf[frames[-1]] += n
        package[_package(frames[-1])] += n
    busy = max(total - idle, 1)
    lines = [
        f"{path.name}: {total} samples, {100 * idle / max(total, 1):.0f}% idle in select(); "
        f"shares below are of the {busy} busy samples",
        "inclusive %  function",
    ]
    for f, n in inclusive.most_common():
        if grep and grep not in f:
            continue
        if len(lines) >= top + 2:
            break
        lines.append(f"{100 * n / busy:10.1f}%  {f}")
    lines.append("self % by package (where the CPU is spent)")
    for p, n in package.most_common(12):
        lines.append(f"{100 * n / busy:10.1f}%  {p}")
    lines.append("leaf (self) %  function")
    for f, n in leaf.most_common(top // 2):
        lines.append(f"{100 * n / busy:10.1f}%  {f}")
    return "\n".join(lines)


def _package(frame: str) -> str:
    """`func (sqlalchemy/orm/session.py:12)` -> `sqlalchemy`; the stdlib by module."""
    where = frame.rpartition("(")[2].rstrip(")")
    path = where.rpartition(":")[0]
    head = path.split("/", 1)[0]
    if head.endswith(".py"):
        return head[:-3] + " (stdlib)"
    if head == "asyncio":
        return "asyncio (stdlib, uvloop callbacks)"
    return head or "?"


def main() -> None:
    parser = argparse.ArgumentParser(description="summarize a py-spy raw profile")
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--grep", default="")
    args = parser.parse_args()
    print(summarize(args.file, args.top, args.grep))


if __name__ == "__main__":
    main()
