"""Upload benchmark: stream a large file to a real `chatapi serve` and watch its memory.

Starts the server as a subprocess on a free port with a temporary SQLite database and
media directory, uploads SIZE_MB of (incompressible) MP4-looking bytes as a chunked
multipart stream, downloads it back through its signed URL, and reports throughput and
the server's resident memory (sampled VmRSS and the kernel's VmHWM high-water mark).

    .venv/bin/python bench/upload.py [--size-mb 200] [--with-length]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

BLOCK = 1024 * 1024
MP4_HEADER = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class RssSampler:
    """Samples a process's VmRSS every few milliseconds in a thread."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid, self.interval, self.peak_kb = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, proc_status_kb(self.pid, "VmRSS"))
            time.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def multipart_body(boundary: str, size: int) -> Iterator[bytes]:
    block = os.urandom(BLOCK)
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.mp4"'
        "\r\nContent-Type: video/mp4\r\n\r\n"
    ).encode()
    yield MP4_HEADER
    sent = len(MP4_HEADER)
    while sent < size:
        n = min(BLOCK, size - sent)
        yield block[:n]
        sent += n
    yield f"\r\n--{boundary}--\r\n".encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument(
        "--with-length", action="store_true", help="send a Content-Length instead of chunked"
    )
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024

    chatapi = shutil.which("chatapi") or str(Path(sys.executable).with_name("chatapi"))
    work = Path(tempfile.mkdtemp(prefix="chatapi-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "development",
        "VAR_DIR": str(work),
        "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'bench.db'}",
        "MEDIA_DIR": str(work / "media"),
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "MAX_UPLOAD_BYTES": str(size + 10 * BLOCK),
        "LOG_LEVEL": "warning",
        "REDIS_URL": "",
    }
    subprocess.run([chatapi, "migrate"], env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [chatapi, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=work
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=300) as client:
            for _ in range(200):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            else:
                raise SystemExit("the server did not start")
            name = f"bench{uuid.uuid4().hex[:8]}"
            client.post(
                "/api/v1/auth/register", json={"username": name, "password": "bench-password"}
            ).raise_for_status()
            token = client.post(
                "/api/v1/auth/token", data={"username": name, "password": "bench-password"}
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}

            baseline_kb = proc_status_kb(server.pid, "VmRSS")
            hwm_before_kb = proc_status_kb(server.pid, "VmHWM")
            boundary = uuid.uuid4().hex
            headers = {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"}
            if args.with_length:
                overhead = sum(len(c) for c in multipart_body(boundary, 0)) - len(MP4_HEADER)
                headers["Content-Length"] = str(size + overhead)
            with RssSampler(server.pid) as up_rss:
                started = time.perf_counter()
                r = client.post(
                    "/api/v1/media", content=multipart_body(boundary, size), headers=headers
                )
                upload_s = time.perf_counter() - started
            r.raise_for_status()
            media = r.json()
            assert media["size"] == size, media

            with RssSampler(server.pid) as down_rss:
                started = time.perf_counter()
                received = 0
                with client.stream("GET", media["url"]) as resp:
                    resp.raise_for_status()
                    for chunk in resp.iter_bytes(BLOCK):
                        received += len(chunk)
                download_s = time.perf_counter() - started
            assert received == size
            hwm_kb = proc_status_kb(server.pid, "VmHWM")

        mb = size / 1024 / 1024
        mode = "Content-Length" if args.with_length else "chunked, no Content-Length"
        print(f"file: {mb:.0f} MiB, {media['content_type']}, upload {mode}")
        print(f"upload:   {upload_s:6.2f} s  {mb / upload_s:7.1f} MiB/s")
        print(f"download: {download_s:6.2f} s  {mb / download_s:7.1f} MiB/s")
        print(f"server RSS before upload:      {baseline_kb / 1024:7.1f} MiB")
        print(f"server peak RSS during upload: {up_rss.peak_kb / 1024:7.1f} MiB (sampled VmRSS)")
        print(f"server peak RSS during download: {down_rss.peak_kb / 1024:5.1f} MiB (sampled)")
        print(
            f"server VmHWM (lifetime peak):  {hwm_kb / 1024:7.1f} MiB "
            f"(before the upload: {hwm_before_kb / 1024:.1f} MiB, from argon2 at login)"
        )
        return 0
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
