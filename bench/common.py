"""Shared bench plumbing: server processes, a lean WebSocket client, setup, statistics.

The load generator must stay cheaper than the server it measures, so sockets are plain
`asyncio.Protocol`s with a hand-rolled RFC 6455 framing (client frames carry a zero mask
key, which is legal and makes masking a no-op); the event loop is uvloop when installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
CHATAPI = str(Path(PY).with_name("chatapi"))
SECRET = "bench-secret-" + "k" * 40
HOST = "127.0.0.1"
TASKSET = shutil.which("taskset") if (os.cpu_count() or 1) >= 2 else None
PROFILE = False  # --profile: py-spy records every server the bench starts
PROFILES: list[Path] = []
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pin_generator() -> str:
    """The load generator on CPU 1 (the servers get CPU 0), when taskset exists."""
    if TASKSET is None:
        return "no pinning (taskset missing or 1 CPU)"
    os.sched_setaffinity(0, {1})
    return "server on CPU 0, load generator on CPU 1 (taskset)"


def _server_preexec() -> None:
    raise_nofile()
    os.setsid()


# --- CPU accounting --------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    try:
        parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(parts[11]) + int(parts[12])) / CLK_TCK


def proc_rss_kb(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
    except OSError:
        return 0


def sched_wait_seconds(pid: int) -> float:
    """Time the process's threads spent runnable but waiting for a CPU (contention)."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += int((task / "schedstat").read_text().split()[1])
    except OSError:
        return 0.0
    return total / 1e9


def host_cpu_busy() -> list[float]:
    """Busy jiffies per CPU (user+nice+system+irq+softirq+steal), from /proc/stat."""
    out = []
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3].isdigit():
            f = [int(x) for x in line.split()[1:]]
            out.append((f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / CLK_TCK)
    return out


def self_cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class CpuWindow:
    """Wall time, the generator's CPU time and the servers' CPU time over a window."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)
        self.t0 = time.monotonic()
        self.gen0 = self_cpu_seconds()
        self.srv0 = [proc_cpu_seconds(p) for p in self.pids]
        self.wait0 = [sched_wait_seconds(p) for p in [os.getpid(), *self.pids]]
        self.host0 = host_cpu_busy()

    def read(self) -> dict[str, Any]:
        wall = max(time.monotonic() - self.t0, 1e-9)
        gen = (self_cpu_seconds() - self.gen0) / wall
        srv = [
            (proc_cpu_seconds(p) - s0) / wall for p, s0 in zip(self.pids, self.srv0, strict=True)
        ]
        waits = [
            (sched_wait_seconds(p) - w0) / wall
            for p, w0 in zip([os.getpid(), *self.pids], self.wait0, strict=True)
        ]
        host = [(b - b0) / wall for b, b0 in zip(host_cpu_busy(), self.host0, strict=True)]
        return {
            "wall_s": round(wall, 2),
            "gen_cpu": round(gen, 2),
            "server_cpu": [round(s, 2) for s in srv],
            # Runnable-but-not-running time per wall second: CPU contention (other jobs).
            "gen_runq_wait": round(waits[0], 2),
            "server_runq_wait": [round(w, 2) for w in waits[1:]],
            # Busy fraction of each host CPU (everything on the machine, ours included).
            "host_cpu_busy": [round(h, 2) for h in host],
            # The generator is the limit when it burns (nearly) a whole core.
            "gen_saturated": gen >= 0.9,
        }


# --- statistics -----------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]


def ms(ns_values: Iterable[int]) -> list[float]:
    return [v / 1e6 for v in ns_values]


def fmt(v: float | None, digits: int = 1) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


# --- server processes -------------------------------------------------------------------


@dataclass
class Proc:
    """A server subprocess pinned to CPU 0, with its log in `workdir`."""

    name: str
    argv: list[str]
    env: dict[str, str]
    workdir: Path
    port: int
    pin: bool = True
    proc: subprocess.Popen[bytes] | None = None
    profiler: Any = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0, ready_path: str = "/healthz") -> Proc:
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = ([TASKSET, "-c", "0"] if TASKSET and self.pin else []) + self.argv
        logf = (self.workdir / f"{self.name}-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            argv,
            cwd=self.workdir,
            env=self.env,
            stdout=logf,
            stderr=subprocess.STDOUT,
            preexec_fn=_server_preexec,
        )
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + ready_path, timeout=2).status_code == 200:
                    if PROFILE:
                        from bench import profile

                        self.profiler = profile.start(self.pid, f"{self.name}-{self.port}")
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        path = self.workdir / f"{self.name}-{self.port}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def log_count(self, needle: str) -> int:
        path = self.workdir / f"{self.name}-{self.port}.log"
        if not path.exists():
            return 0
        return path.read_text(errors="replace").count(needle)

    def rss_kb(self) -> int:
        return proc_rss_kb(self.pid)

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None:
            return
        if self.profiler is not None:
            from bench import profile

            out = profile.stop(self.profiler)
            self.profiler = None
            if out is not None:
                PROFILES.append(out)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@dataclass
class External:
    """A server the bench did not start (`--url`, and `--server-pid` for its RSS and CPU)."""

    url: str
    server_pid: int = 0
    name: str = "external"

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    @property
    def pid(self) -> int:
        return self.server_pid

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/")

    def rss_kb(self) -> int:
        return proc_rss_kb(self.pid) if self.pid else 0

    def log_count(self, needle: str) -> int:
        return 0

    def stop(self) -> None:
        return None


def base_env() -> dict[str, str]:
    drop = ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX", "SECRET_KEY", "VAR_DIR", "MEDIA_DIR")
    return {k: v for k, v in os.environ.items() if k not in drop}


def chatapi_env(
    workdir: Path,
    database_url: str,
    *,
    redis_url: str | None = None,
    redis_prefix: str = "bench",
    **extra: Any,
) -> dict[str, str]:
    env = base_env()
    env.update(
        {
            "ENVIRONMENT": "production",
            "VAR_DIR": str(workdir),
            "MEDIA_DIR": str(workdir / "media"),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url or "",
            "REDIS_PREFIX": redis_prefix,
            "SECRET_KEY": SECRET,
            "LOG_LEVEL": "warning",
            "ACCESS_TOKEN_TTL_SECONDS": "7200",
            # Only for the REST set-up path (--url); bulk set-up never hashes.
            "PASSWORD_HASH_TIME_COST": "1",
            "PASSWORD_HASH_MEMORY_KIB": "1024",
            "WEB_DIST_DIR": str(workdir / "no-web"),
            # The load is the point: no per-user quotas (README "Security").
            "REGISTER_RATE_LIMIT": "",
            "MESSAGE_RATE_LIMIT": "",
            "MEMBER_ADD_RATE_LIMIT": "",
            "UPLOAD_BYTES_PER_DAY": "0",
            "MAX_UNATTACHED_UPLOADS": "0",
            "WS_MAX_SOCKETS_PER_USER": "0",
        }
    )
    env.update({k.upper(): str(v) for k, v in extra.items()})
    return env


def chatapi_server(workdir: Path, env: dict[str, str], *, name: str = "chatapi") -> Proc:
    port = free_port()
    return Proc(name, [CHATAPI, "serve", "--host", HOST, "--port", str(port)], env, workdir, port)


def baseline_server(workdir: Path) -> Proc:
    port = free_port()
    env = base_env()
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return Proc(
        "baseline",
        [PY, "-m", "bench.baseline", "--host", HOST, "--port", str(port)],
        env,
        workdir,
        port,
    )


def socketio_missing() -> str | None:
    """None when python-socketio is installed (the `bench` extra), else why not."""
    import importlib.util

    if importlib.util.find_spec("socketio") is None:
        return "python-socketio not installed (pip install -e '.[dev,bench]')"
    return None


def socketio_server(workdir: Path) -> Proc:
    """bench/socketio_baseline.py: the same rooms in python-socketio, under uvicorn."""
    port = free_port()
    env = base_env()
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return Proc(
        "socketio",
        [PY, "-m", "bench.socketio_baseline", "--host", HOST, "--port", str(port)],
        env,
        workdir,
        port,
    )


def migrate(database_url: str, workdir: Path) -> None:
    env = chatapi_env(workdir, database_url)
    r = subprocess.run([CHATAPI, "migrate"], env=env, cwd=workdir, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"chatapi migrate failed:\n{r.stdout}\n{r.stderr}")


def workdir(tag: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"chatapi-bench-{tag}-"))


def sqlite_url(work: Path) -> str:
    return f"sqlite+aiosqlite:///{work / 'bench.db'}"


# --- databases: availability, reset, bulk set-up ---------------------------------------


def _pg_dsn(url: str, database: str | None = None) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url).set(drivername="postgresql")
    if database is not None:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


async def pg_available(url: str) -> str | None:
    """None when usable (creating the database if missing), else why not."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = make_url(url).database or "bench"
    if name == "test":
        return "refusing the `test` database (the test suite drops it)"
    try:
        conn = await asyncpg.connect(_pg_dsn(url, "postgres"), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL unreachable ({type(exc).__name__})"
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return None


async def pg_reset(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_pg_dsn(url))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


async def redis_available(url: str) -> str | None:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        return f"Redis unreachable ({type(exc).__name__})"
    finally:
        await client.aclose()
    return None


async def redis_cleanup(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
    except Exception as exc:
        log(f"redis cleanup failed: {exc!r}")
    finally:
        await client.aclose()


def token_for(user_id: uuid.UUID, ttl: int = 7200) -> str:
    from chatapi import security

    token, _ = security.issue_token(
        key=SECRET, subject=user_id, token_type="access", ttl_seconds=ttl
    )
    return token


@dataclass
class Scene:
    """Users (ids, tokens) and conversations (id, member indexes) set up for a scenario."""

    user_ids: list[str]
    tokens: list[str]
    conversations: list[tuple[str, list[int]]] = field(default_factory=list)


async def bulk_scene(
    database_url: str, n_users: int, groups: Sequence[Sequence[int]], *, tag: str
) -> Scene:
    """Insert users, groups (first member owns it) and memberships straight into the DB."""
    from sqlalchemy import insert
    from sqlalchemy.ext.asyncio import create_async_engine

    from chatapi.models import Conversation, Member, User

    now = datetime.now(UTC)
    uids = [uuid.uuid4() for _ in range(n_users)]
    users = [
        {
            "id": u,
            "username": f"{tag}{i}",
            "display_name": f"Bench {i}",
            "password_hash": "!",
            "created_at": now,
        }
        for i, u in enumerate(uids)
    ]
    cids = [uuid.uuid4() for _ in groups]
    convs = [
        {
            "id": c,
            "kind": "group",
            "title": f"bench {i}",
            "created_by": uids[g[0]],
            "created_at": now,
            "last_activity_at": now,
            "last_seq": 0,
        }
        for i, (c, g) in enumerate(zip(cids, groups, strict=True))
    ]
    members = [
        {
            "conversation_id": c,
            "user_id": uids[m],
            "role": "owner" if j == 0 else "member",
            "joined_at": now,
            "last_read_seq": 0,
            "last_delivered_seq": 0,
        }
        for c, g in zip(cids, groups, strict=True)
        for j, m in enumerate(g)
    ]
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            for start in range(0, len(users), 5000):
                await conn.execute(insert(User.__table__), users[start : start + 5000])
            if convs:
                await conn.execute(insert(Conversation.__table__), convs)
            for start in range(0, len(members), 5000):
                await conn.execute(insert(Member.__table__), members[start : start + 5000])
    finally:
        await engine.dispose()
    return Scene(
        user_ids=[str(u) for u in uids],
        tokens=[token_for(u) for u in uids],
        conversations=[(str(c), list(g)) for c, g in zip(cids, groups, strict=True)],
    )


async def rest_scene(
    base_url: str, n_users: int, groups: Sequence[Sequence[int]], *, tag: str
) -> Scene:
    """The same scene through the REST API (for a server the bench did not start)."""
    password = "bench-password-1"
    sem = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:

        async def one(i: int) -> tuple[str, str]:
            async with sem:
                name = f"{tag}{i}"
                r = await http.post(
                    "/api/v1/auth/register", json={"username": name, "password": password}
                )
                r.raise_for_status()
                uid = r.json()["id"]
                r = await http.post(
                    "/api/v1/auth/token", data={"username": name, "password": password}
                )
                r.raise_for_status()
                return uid, r.json()["access_token"]

        pairs = await asyncio.gather(*(one(i) for i in range(n_users)))
        scene = Scene([p[0] for p in pairs], [p[1] for p in pairs])

        async def group(i: int, g: Sequence[int]) -> tuple[str, list[int]]:
            async with sem:
                r = await http.post(
                    "/api/v1/conversations",
                    headers={"Authorization": f"Bearer {scene.tokens[g[0]]}"},
                    json={
                        "kind": "group",
                        "title": f"bench {i}",
                        "member_ids": [scene.user_ids[m] for m in g[1:]],
                    },
                )
                r.raise_for_status()
                return str(r.json()["id"]), list(g)

        scene.conversations = list(
            await asyncio.gather(*(group(i, g) for i, g in enumerate(groups)))
        )
    return scene


# --- the WebSocket client ----------------------------------------------------------------

TextHandler = Callable[["WsClient", bytes], None]


class WsClient(asyncio.Protocol):
    """One client WebSocket. Text frames go to `on_text`; pings are answered.

    With `eio` it speaks Engine.IO v4 over the socket (python-socketio): the server's `0`
    open packet is not taken for the answer to the first frame, and its `2` pings are
    answered with `3` here (a missed pong closes the socket after pingTimeout).
    """

    def __init__(
        self, path: str, on_text: TextHandler | None, closes: Counter[int], eio: bool = False
    ) -> None:
        loop = asyncio.get_running_loop()
        self.path = path
        self.eio = eio
        self.on_text = on_text
        self.closes = closes
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.upgraded = False
        self.opened: asyncio.Future[None] = loop.create_future()
        self.first: asyncio.Future[bytes] | None = None
        self.close_code: int | None = None
        self.lost = False
        self.tag: Any = None  # whatever the scenario needs (a group index, a waiter)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        if self.buf:
            data = self.buf + data
            self.buf = b""
        if not self.upgraded:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buf = data
                return
            if not data.startswith(b"HTTP/1.1 101"):
                if not self.opened.done():
                    self.opened.set_exception(ConnectionError(data[:80].decode("latin-1")))
                self.transport.close()  # type: ignore[union-attr]
                return
            self.upgraded = True
            self.opened.set_result(None)
            data = data[end + 4 :]
        pos, n = 0, len(data)
        while n - pos >= 2:
            b0, ln = data[pos], data[pos + 1] & 0x7F
            hdr = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln, hdr = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln, hdr = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
            end = pos + hdr + ln
            if end > n:
                break
            payload = data[pos + hdr : end]
            pos = end
            op = b0 & 0x0F
            if op == 1:
                if self.eio and payload[:1] in (b"0", b"2"):
                    if payload == b"2":
                        self._write(0x81, b"3")
                    continue
                first = self.first
                if first is not None and not first.done():
                    first.set_result(payload)
                elif self.on_text is not None:
                    self.on_text(self, payload)
            elif op == 9:
                self._write(0x8A, payload)
            elif op == 8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.closes[self.close_code] += 1
                self._write(0x88, payload[:2])
                self.transport.close()  # type: ignore[union-attr]
                return
        if pos < n:
            self.buf = data[pos:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("connection lost before the upgrade"))
        if self.first is not None and not self.first.done():
            self.first.set_exception(ConnectionError(f"closed ({self.close_code})"))

    def _write(self, opcode_byte: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        n = len(payload)
        if n < 126:
            head = bytes((opcode_byte, 0x80 | n))
        elif n < 65536:
            head = bytes((opcode_byte, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((opcode_byte, 0x80 | 127)) + n.to_bytes(8, "big")
        self.transport.write(head + b"\x00\x00\x00\x00" + payload)

    def send_text(self, text: str) -> None:
        self._write(0x81, text.encode())

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._write(0x88, (1000).to_bytes(2, "big"))
            self.transport.close()


async def open_ws(
    port: int,
    path: str,
    *,
    first_frame: str | None,
    on_text: TextHandler | None = None,
    closes: Counter[int] | None = None,
    timeout: float = 30.0,
    ready: bytes = b'"ready"',
    eio: bool = False,
) -> WsClient:
    """Connect, upgrade, send `first_frame` (auth / join / Socket.IO connect) and wait for
    the answer, which must contain `ready`."""
    loop = asyncio.get_running_loop()
    closes = closes if closes is not None else Counter()
    _, client = await asyncio.wait_for(
        loop.create_connection(lambda: WsClient(path, on_text, closes, eio), HOST, port), timeout
    )
    try:
        await asyncio.wait_for(client.opened, timeout)
        if first_frame is not None:
            client.first = loop.create_future()
            client.send_text(first_frame)
            answer = await asyncio.wait_for(client.first, timeout)
            client.first = None
            if ready not in answer:
                raise ConnectionError(f"no ready frame: {answer[:200]!r}")
    except BaseException:
        client.close()
        raise
    return client


async def open_many(
    count: int,
    make: Callable[[int], Any],
    *,
    concurrency: int = 100,
) -> list[WsClient]:
    """`count` sockets, `make(i)` being the coroutine opening socket i, `concurrency` at once."""
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> WsClient:
        async with sem:
            return await make(i)  # type: ignore[no-any-return]

    results = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
    opened = [r for r in results if isinstance(r, WsClient)]
    failed = [r for r in results if not isinstance(r, WsClient)]
    if failed:
        for c in opened:
            c.close()
        raise RuntimeError(f"{len(failed)} of {count} sockets failed to open: {failed[0]!r}")
    return opened


async def close_all(clients: Iterable[WsClient], settle: float = 0.5) -> None:
    for c in clients:
        c.close()
    await asyncio.sleep(settle)


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    except ImportError:
        return asyncio.new_event_loop()
