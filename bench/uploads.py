"""Scenario 6, uploads: `bench/upload.py` (a 200 MB streamed upload to a real chatapi) as
a scenario, next to the same multipart stream sent to the baseline's bare `POST /upload`
(Starlette `request.stream()` into a file).

bench/upload.py is run unchanged as a subprocess (it starts its own server on SQLite) and
its report is parsed; both of its processes may use every CPU.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench import common as c
from bench import upload as script

PATTERNS = {
    "upload_mib_s": r"^upload:\s+[\d.]+ s\s+([\d.]+) MiB/s",
    "download_mib_s": r"^download:\s+[\d.]+ s\s+([\d.]+) MiB/s",
    "rss_before_mib": r"^server RSS before upload:\s+([\d.]+) MiB",
    "peak_rss_upload_mib": r"^server peak RSS during upload:\s+([\d.]+) MiB",
    "peak_rss_download_mib": r"^server peak RSS during download:\s+([\d.]+) MiB",
    "vmhwm_mib": r"^server VmHWM \(lifetime peak\):\s+([\d.]+) MiB",
}


def run_script(size_mb: int) -> dict[str, Any]:
    argv = [c.PY, str(Path(script.__file__)), "--size-mb", str(size_mb)]
    if c.TASKSET:
        argv = [c.TASKSET, "-c", f"0-{(os.cpu_count() or 2) - 1}", *argv]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=c.base_env())
    if r.returncode != 0:
        raise RuntimeError(f"bench/upload.py failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    out: dict[str, Any] = {"report": r.stdout.strip().splitlines()}
    for key, pattern in PATTERNS.items():
        m = re.search(pattern, r.stdout, re.MULTILINE)
        out[key] = float(m.group(1)) if m else None
    return out


async def baseline_upload(size_mb: int) -> dict[str, Any]:
    size = size_mb * 1024 * 1024
    work = c.workdir("upload-baseline")
    server = c.baseline_server(work).start()
    try:
        boundary = uuid.uuid4().hex
        rss0 = server.rss_kb()
        with script.RssSampler(server.pid) as rss:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=300) as http:
                t0 = time.perf_counter()
                r = await http.post(
                    "/upload",
                    content=_aiter(script.multipart_body(boundary, size)),
                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                )
                secs = time.perf_counter() - t0
        r.raise_for_status()
        return {
            "upload_mib_s": round(size_mb / secs, 1),
            "rss_before_mib": round(rss0 / 1024, 1),
            "peak_rss_upload_mib": round(rss.peak_kb / 1024, 1),
        }
    finally:
        server.stop()


async def _aiter(chunks: Any) -> Any:
    for chunk in chunks:
        yield chunk
        await asyncio.sleep(0)


async def run(ctx: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"skipped": [], "size_mb": ctx.upload_mb}
    out["baseline"] = await baseline_upload(ctx.upload_mb)
    c.log(f"baseline upload: {out['baseline']}")
    out["chatapi-sqlite"] = await asyncio.to_thread(run_script, ctx.upload_mb)
    c.log(f"chatapi upload: { {k: v for k, v in out['chatapi-sqlite'].items() if k != 'report'} }")
    return out
