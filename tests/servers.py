"""Real uvicorn servers for realtime tests: `chatapi serve` subprocesses on free ports, a
private `redis-server`, plus small helpers around the `websockets` client and the REST API."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import http_ece
import httpx
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwt as jose_jwt
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from helpers import PASSWORD, SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One `chatapi serve` process. `env` holds the settings (upper-case names)."""

    workdir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    # "serve": `chatapi serve`; "uvicorn": plain `python -m uvicorn chatapi.main:app`.
    runner: str = "serve"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/ws"

    def start(self, timeout: float = 30.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(self.env)
        log = (self.workdir / f"server-{self.port}.log").open("ab")
        if self.runner == "uvicorn":
            argv = ["-m", "uvicorn", "chatapi.main:app", "--host", "127.0.0.1"]
        else:
            argv = ["-m", "chatapi.cli", "serve", "--host", "127.0.0.1"]
        self.proc = subprocess.Popen(
            [sys.executable, *argv, "--port", str(self.port)],
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)  # poll interval, bounded by the deadline
        raise RuntimeError(f"server did not start:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        path = self.workdir / f"server-{self.port}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


def server_env(
    var_dir: Path,
    database_url: str,
    *,
    redis_url: str | None,
    redis_prefix: str,
    **settings: Any,
) -> dict[str, str]:
    env = {
        "ENVIRONMENT": "test",
        "VAR_DIR": str(var_dir),
        "MEDIA_DIR": str(var_dir / "media"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url or "",
        "REDIS_PREFIX": redis_prefix,
        "SECRET_KEY": SECRET,
        "ALLOWED_ORIGINS": "http://allowed.example",
        "LOG_LEVEL": "warning",
        # Cheap password hashing: the tests sign up many users.
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "1024",
        # Quotas far above what any test does; tests of a quota set their own.
        "REGISTER_RATE_LIMIT": "100000/hour",
        "MESSAGE_RATE_LIMIT": "100000/second",
        "MEMBER_ADD_RATE_LIMIT": "100000/hour",
        "WS_MAX_SOCKETS_PER_USER": "10000",
    }
    env.update({k.upper(): str(v) for k, v in settings.items()})
    return env


def start_redis(port: int, timeout: float = 10.0) -> subprocess.Popen[bytes]:
    """A `redis-server` of the test's own on `port` (no persistence), answering PING. The
    caller kills and waits for it."""
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with redis.Redis(port=port) as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if client.ping():
                    return proc
            time.sleep(0.05)  # poll interval, bounded by the deadline
    proc.kill()
    proc.wait()
    raise RuntimeError("redis-server did not start")


@dataclass
class User:
    id: str
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    """The REST API of one server, for setting the scene."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def signup(self, username: str | None = None) -> User:
        username = username or f"u{uuid.uuid4().hex[:10]}"
        r = await self.http.post(
            "/api/v1/auth/register", json={"username": username, "password": PASSWORD}
        )
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]
        r = await self.http.post(
            "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        return User(user_id, username, r.json()["access_token"])

    async def group(self, owner: User, members: Iterable[User], title: str = "g") -> str:
        r = await self.http.post(
            "/api/v1/conversations",
            headers=owner.headers,
            json={"kind": "group", "title": title, "member_ids": [m.id for m in members]},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def post(
        self, user: User, conversation_id: str, body: str, **extra: Any
    ) -> dict[str, Any]:
        r = await self.http.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            headers=user.headers,
            json={"body": body, **extra},
        )
        assert r.status_code in (200, 201), r.text
        return dict(r.json())

    async def events(self, user: User, conversation_id: str, after_seq: int = 0) -> list[Any]:
        r = await self.http.get(
            f"/api/v1/conversations/{conversation_id}/events",
            headers=user.headers,
            params={"after_seq": after_seq, "limit": 500},
        )
        assert r.status_code == 200, r.text
        return list(r.json())


class Client:
    """A websockets client with frame helpers."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, url: str, token: str | None = None, **kwargs: Any) -> Client:
        ws = await connect(url, open_timeout=10, **kwargs)
        client = cls(ws)
        if token is not None:
            await client.send({"type": "auth", "token": token})
            ready = await client.expect("ready")
            assert ready["session_id"]
        return client

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        frame = json.loads(raw)
        self.seen.append(frame)
        return dict(frame)

    async def expect(self, type_: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The next frame of this type (and these field values); others are skipped."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"no {type_} frame matching {match}")
            frame = await self.recv(left)
            if frame["type"] == type_ and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def quiet(self, seconds: float = 0.5, types: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Frames (of `types`, or any) that arrive within `seconds`."""
        wanted = set(types)
        got: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    frame = await self.recv(seconds)
                    if not wanted or frame["type"] in wanted:
                        got.append(frame)
        return got

    async def closed(self, timeout: float = 10.0) -> int | None:
        """Read until the server closes; the close code."""
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(timeout):
                while True:
                    await self.ws.recv()
        return self.ws.close_code

    async def aclose(self) -> None:
        await self.ws.close()


class Sockets:
    """The WebSocket clients of one test (the `sockets` fixture): each is closed at the end."""

    def __init__(self) -> None:
        self._clients: list[Client] = []

    async def open(self, url: str, token: str | None = None, **kwargs: Any) -> Client:
        client = await Client.open(url, token, **kwargs)
        self._clients.append(client)
        return client

    async def aclose(self) -> None:
        while self._clients:
            await self._clients.pop().aclose()


class RawClient:
    """A WebSocket client on a plain socket, for a peer that stops reading altogether
    (library clients keep draining the socket into their own buffers)."""

    def __init__(self, port: int, *, rcvbuf: int = 4096) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(
            b"GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def close(self) -> None:
        self.sock.close()

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = bytes([0x81, 0x80 | n])
        elif n < 65536:
            header = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            header = bytes([0x81, 0x80 | 127]) + n.to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def first_text(self, timeout: float = 10.0) -> str:
        """Read up to the first text frame (e.g. `ready`), leaving the rest unread."""
        self.sock.settimeout(timeout)
        while True:
            texts, _code, _done = self._parse(self.buffer)
            if texts:
                return texts[0]
            self.buffer += self.sock.recv(1)

    def read_all(self, timeout: float) -> tuple[list[str], int | None]:
        """Read until the server's close frame (or EOF): the text frames and the close code."""
        self.sock.settimeout(timeout)
        data = self.buffer
        try:
            while True:
                texts, code, done = self._parse(data)
                if done:
                    return texts, code
                chunk = self.sock.recv(65536)
                if not chunk:
                    return texts, None
                data += chunk
        except OSError:
            return self._parse(data)[:2]
        finally:
            self.sock.close()

    @staticmethod
    def _parse(data: bytes) -> tuple[list[str], int | None, bool]:
        texts: list[str] = []
        i = 0
        while i + 2 <= len(data):
            opcode, n = data[i] & 0x0F, data[i + 1] & 0x7F
            j = i + 2
            if n == 126:
                n, j = int.from_bytes(data[j : j + 2], "big"), j + 2
            elif n == 127:
                n, j = int.from_bytes(data[j : j + 8], "big"), j + 8
            if j + n > len(data):
                break
            payload, i = data[j : j + n], j + n
            if opcode == 0x1:
                texts.append(payload.decode())
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                return texts, code, True
        return texts, None, False


class Receiver:
    """A client that keeps one last-seen seq per conversation, as the web client does:
    live events in order, a gap or a reconnect filled from the events endpoint. It
    reconnects to the next server of `servers` when one goes away."""

    def __init__(self, servers: list[Server], user: User, conversation_id: str) -> None:
        self.servers, self.user, self.conv = servers, user, conversation_id
        self.last = 0
        self.bodies: list[str] = []
        self.events: list[dict[str, Any]] = []  # every event taken, once, in seq order
        self.out_of_order: list[tuple[int, int]] = []  # (previous, seq) on one socket
        self.interruptions = 0  # connections lost or refused, catch-ups failed
        self._turn = 0

    def take(self, event: dict[str, Any]) -> None:
        if event["seq"] != self.last + 1:
            return
        self.last = event["seq"]
        self.events.append(event)
        if event["type"] == "message.new":
            self.bodies.append(event["message"]["body"])

    async def catch_up(self, server: Server) -> None:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as http:
            r = await http.get(
                f"/api/v1/conversations/{self.conv}/events",
                headers=self.user.headers,
                params={"after_seq": self.last, "limit": 500},
            )
            r.raise_for_status()
            for event in r.json():
                self.take(event)

    async def run(self, until: int, timeout: float = 60.0) -> None:
        """Receive up to seq `until`; TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            await self._run(until)

    async def _run(self, until: int) -> None:
        while self.last < until:
            server = self.servers[self._turn % len(self.servers)]
            try:
                c = await Client.open(server.ws_url, self.user.token)
            except (OSError, InvalidStatus, TimeoutError, ConnectionClosed):
                self.interruptions += 1
                self._turn += 1
                await asyncio.sleep(0.2)  # reconnect back-off, as the web client does
                continue
            try:
                await self.catch_up(server)
                previous = 0
                while self.last < until:
                    frame = await c.recv(10)
                    if frame.get("conversation_id") != self.conv or "seq" not in frame:
                        continue
                    if previous and frame["seq"] != previous + 1:
                        self.out_of_order.append((previous, frame["seq"]))
                    previous = frame["seq"]
                    if frame["seq"] > self.last + 1:
                        await self.catch_up(server)
                    self.take(frame)
            except (OSError, TimeoutError, httpx.HTTPError, ConnectionClosed):
                self.interruptions += 1
                self._turn += 1
                await asyncio.sleep(0.2)  # reconnect back-off, as the web client does
            finally:
                with contextlib.suppress(Exception):
                    await c.aclose()


async def send_until_acked(
    servers: list[Server], token: str, frame: dict[str, Any], timeout: float = 30.0
) -> dict[str, Any]:
    """Send `frame` on a fresh socket and wait for its ack, retrying (same client_id) on
    the next server until one answers; TimeoutError after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    turn = 0
    while True:
        server = servers[turn % len(servers)]
        try:
            c = await Client.open(server.ws_url, token)
            try:
                await c.send(frame)
                return await c.expect("message.ack", timeout=5)
            finally:
                await c.aclose()
        except (OSError, InvalidStatus, TimeoutError, ConnectionClosed):
            if asyncio.get_running_loop().time() > deadline:
                raise
            turn += 1
            await asyncio.sleep(0.2)  # retry back-off, as the web client does


# --- a real OpenID Provider ---------------------------------------------------------------

OIDC_DIR = Path(__file__).resolve().parent / "oidc"


def oidc_provider_missing() -> str | None:
    """Why the test OpenID Provider cannot start here, or None."""
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return "tests/oidc/node_modules is missing: run `make test` (or `cd tests/oidc && npm ci`)"
    return None


@dataclass
class OpenIDProviderProcess:
    """oidc-provider (tests/oidc/provider.mjs) on a free loopback port: two people (`alice`,
    `bob`), the clients `chatapi`, `chatapi-forged`, `chatapi-audience`, `chatapi-expiring`
    and `another-app` (secrets: `<client id>-secret`), accepting `redirect_uris`."""

    redirect_uris: list[str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, workdir: Path, timeout: float = 30.0) -> None:
        self.log_path = workdir / f"openid-provider-{self.port}.log"
        env = {
            **os.environ,
            "OP_PORT": str(self.port),
            "OP_REDIRECT_URIS": ",".join(self.redirect_uris),
            "NODE_NO_WARNINGS": "1",
        }
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                ["node", str(OIDC_DIR / "provider.mjs")],
                cwd=OIDC_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        discovery = f"{self.issuer}/.well-known/openid-configuration"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the OpenID Provider exited:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(discovery, timeout=1).status_code == 200:
                    return
            time.sleep(0.1)  # poll interval, bounded by the deadline
        self.stop()
        raise RuntimeError(f"the OpenID Provider did not start:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# --- Server-Sent Events: GET /api/v1/events/stream ----------------------------------------


@dataclass
class SseEvent:
    """One event of a stream (`event` "comment" for a `:` line, e.g. a keep-alive)."""

    event: str
    data: str = ""
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


class SseStream:
    """A reader of `GET /api/v1/events/stream` on a real server: `await SseStream.open(...)`
    (raises on a non-200 answer), `next()` for each event, `aclose()` to hang up."""

    def __init__(self, client: httpx.AsyncClient, response: httpx.Response) -> None:
        self.client = client
        self.response = response
        self._lines = response.aiter_lines()
        self.ended = False

    @classmethod
    async def open(
        cls,
        base_url: str,
        token: str,
        *,
        conversation_id: str | None = None,
        after: int | None = None,
        last_event_id: str | None = None,
    ) -> SseStream:
        client = httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10, read=None))
        headers = {"Authorization": f"Bearer {token}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        params: dict[str, Any] = {}
        if conversation_id is not None:
            params["conversation_id"] = conversation_id
        if after is not None:
            params["after"] = after
        try:
            request = client.build_request(
                "GET", "/api/v1/events/stream", headers=headers, params=params
            )
            response = await client.send(request, stream=True)
        except BaseException:
            await client.aclose()
            raise
        if response.status_code != 200:
            await response.aread()
            await response.aclose()
            await client.aclose()
            raise httpx.HTTPStatusError(response.text, request=request, response=response)
        assert response.headers["content-type"].startswith("text/event-stream")
        return cls(client, response)

    async def next(self, timeout: float = 5.0, *, comments: bool = False) -> SseEvent | None:
        """The next event (comments skipped unless `comments`); None when the stream ended."""
        async with asyncio.timeout(timeout):
            fields: dict[str, str] = {}
            data: list[str] = []
            async for line in self._lines:
                if line == "":
                    if data or "event" in fields or "id" in fields:
                        return SseEvent(
                            fields.get("event", "message"), "\n".join(data), fields.get("id")
                        )
                    continue
                if line.startswith(":"):
                    if comments:
                        return SseEvent("comment", line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                else:
                    fields[name] = value
            self.ended = True
            return None

    async def events(self, count: int, timeout: float = 10.0) -> list[SseEvent]:
        """The next `count` events (fails if the stream ends first)."""
        got: list[SseEvent] = []
        while len(got) < count:
            event = await self.next(timeout)
            assert event is not None, f"the stream ended after {got}"
            got.append(event)
        return got

    async def aclose(self) -> None:
        with contextlib.suppress(httpx.HTTPError):
            await self.response.aclose()
        await self.client.aclose()


# --- a Web Push service on loopback (RFC 8030), and a browser's side of a subscription ---


@dataclass
class PushRequest:
    """One push as the push service received it."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    problems: list[str]


class PushService:
    """A push service on loopback that accepts pushes as a real one does: it checks the
    VAPID Authorization (RFC 8292: a JWT signed with the key `vapid_public_key`, its `aud`
    this service's origin, a `sub` contact, not expired) and the encryption headers, records
    every request, and answers 201 — or what the test scripted for an endpoint
    (`script(name, 500, 201)`: one status per request, in order)."""

    def __init__(self) -> None:
        self.port = 0
        self.vapid_public_key: str | None = None
        self.requests: list[PushRequest] = []
        self._script: dict[str, list[int]] = {}
        self._server: asyncio.Server | None = None
        self.arrived = asyncio.Event()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def endpoint(self, name: str | None = None) -> str:
        return f"{self.origin}/push/{name or uuid.uuid4().hex}"

    def script(self, endpoint: str, *statuses: int) -> None:
        self._script.setdefault(_path_of(endpoint), []).extend(statuses)

    def to(self, endpoint: str) -> list[PushRequest]:
        """The requests that came for `endpoint`."""
        return [r for r in self.requests if r.path == _path_of(endpoint)]

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                problems = self._check(method, headers, body)
                planned = self._script.get(path)
                status = planned.pop(0) if planned else 201
                if problems:
                    status = 400 if not any("Authorization" in p for p in problems) else 401
                self.requests.append(PushRequest(path, headers, body, status, problems))
                self.arrived.set()
                reason = {201: "Created", 410: "Gone", 404: "Not Found"}.get(status, "Status")
                writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _check(self, method: str, headers: dict[str, str], body: bytes) -> list[str]:
        problems = []
        if method != "POST":
            problems.append(f"method {method}")
        if headers.get("content-encoding") != "aes128gcm":
            problems.append("Content-Encoding is not aes128gcm")
        if "ttl" not in headers:
            problems.append("no TTL header")
        auth = headers.get("authorization", "")
        scheme, _, params = auth.partition(" ")
        fields = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        if scheme.lower() != "vapid" or "t" not in fields or "k" not in fields:
            return [*problems, f"Authorization is not `vapid t=…, k=…`: {auth[:40]!r}"]
        if fields["k"] != self.vapid_public_key:
            problems.append("Authorization k is not the server's VAPID public key")
        point = _b64url_decode(fields["k"])
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(point[1:33]),
            "y": _b64url(point[33:65]),
        }
        try:
            claims = jose_jwt.decode(fields["t"], jwk, algorithms=["ES256"], audience=self.origin)
        except Exception as exc:
            return [*problems, f"Authorization JWT does not verify: {exc}"]
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            problems.append("Authorization JWT has no sub contact")
        if not 0 < int(claims["exp"]) - time.time() <= 24 * 3600:
            problems.append("Authorization JWT exp is not within 24 hours")
        return problems


def _path_of(endpoint: str) -> str:
    return "/" + endpoint.split("/", 3)[3]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class BrowserSubscription:
    """A browser's side of a push subscription: its own ECDH key pair and auth secret, as
    `PushManager.subscribe()` makes them, and the decryption of what arrives (http_ece)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(16)
        self.p256dh = _b64url(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def json(self) -> dict[str, Any]:
        """`PushSubscription.toJSON()`."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": _b64url(self.auth_secret)},
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth_secret, version="aes128gcm"
        )
        return dict(json.loads(plain))
