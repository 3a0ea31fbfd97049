"""Rate limits live in Redis when REDIS_URL is set; Redis going away (and coming back)
never turns a login into a 500. While it is down each instance counts in its own memory;
once it answers again the counters are back in Redis."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from limits import parse

from chatapi.errors import RateLimited
from chatapi.ratelimit import Counters, Quota
from helpers import eventually
from servers import PASSWORD, Api, Server, free_port, server_env, start_redis

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]

PREFIX = "outage-limits"


class RedisServer:
    """A throwaway `redis-server` on a port of its own, which the test stops and starts."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = start_redis(self.port)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def limit_keys(self) -> list[bytes]:
        client = redis.Redis(port=self.port)
        try:
            return list(client.scan_iter(f"{PREFIX}:limits:*"))
        finally:
            client.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def chat_server(
    tmp_path: Path, sqlite_template: Path, redis_server: RedisServer
) -> Iterator[Server]:
    db = tmp_path / "chatapi.db"
    shutil.copy(sqlite_template, db)
    env = server_env(
        tmp_path,
        f"sqlite+aiosqlite:///{db}",
        redis_url=redis_server.url,
        redis_prefix=PREFIX,
        login_rate_limit="1000/minute",
    )
    srv = Server(tmp_path / "server", env)
    srv.start()
    yield srv
    srv.stop()


async def _login(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> int:
    r = await http.post("/api/v1/auth/token", data={"username": username, "password": password})
    return r.status_code


async def test_logins_survive_a_redis_outage_and_the_limits_return_to_redis(
    chat_server: Server, redis_server: RedisServer
) -> None:
    api = Api(chat_server.base_url)
    http = api.http
    alice = await api.signup()
    assert await _login(http, alice.username, "wrong-password") == 401
    assert redis_server.limit_keys(), "the counters are in Redis"

    redis_server.kill()
    for _ in range(3):
        assert await _login(http, alice.username) == 200
        assert await _login(http, alice.username, "wrong-password") == 401
    bob = await api.signup()  # register + log in while Redis is down

    redis_server.start()  # same port, empty
    carol = await api.signup()
    assert await _login(http, bob.username) == 200
    # Within a couple of seconds the counters are in Redis again.

    async def counted_in_redis() -> bool:
        assert await _login(http, carol.username) == 200
        return bool(redis_server.limit_keys())

    await eventually(counted_in_redis, timeout=15, interval=0.2, what="limits back in Redis")
    assert await _login(http, carol.username, "wrong-password") == 401
    await api.aclose()
    assert "Traceback" not in chat_server.log_tail(400)


async def test_counters_count_in_memory_while_redis_is_unreachable() -> None:
    counters = Counters(redis_url=f"redis://127.0.0.1:{free_port()}/0", key_prefix="nobody")
    quota = Quota(counters, parse("2/minute"), scope="s", code="c", message="Slow down.")
    await quota.take("k")
    await quota.take("k")
    with pytest.raises(RateLimited) as refused:
        await quota.take("k")
    assert refused.value.code == "c" and refused.value.retry_after >= 1
    assert not counters.using_redis
