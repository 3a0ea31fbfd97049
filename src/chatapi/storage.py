"""Media storage: the protocol the media service needs, and the local-disk implementation.

Files live under random keys chosen here (never a name from a request). An upload is
written to a temporary file under the same root as it arrives, then moved into place
with an atomic rename once it has been checked, so a reader never sees half a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import aiofiles
import aiofiles.os

from chatapi.health import MEDIA, WriteHealth, is_write_failure

CHUNK_SIZE = 256 * 1024
_KEY_RE = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}$")


class InvalidKey(ValueError):
    """A storage key this storage did not issue."""


class MediaStorage(Protocol):
    """Where uploaded bytes live. Keys are opaque strings issued by the storage."""

    async def new_temp(self) -> Path:
        """A fresh path for an upload in progress (on the same filesystem as the files)."""
        ...

    async def commit_temp(self, temp: Path) -> str:
        """Move a finished temporary file into place; return its new key."""
        ...

    async def discard_temp(self, temp: Path) -> None: ...

    async def put_bytes(self, data: bytes) -> str:
        """Store a small blob (a thumbnail) under a new key."""
        ...

    async def size(self, key: str) -> int | None:
        """The stored size in bytes, or None when the file is gone."""
        ...

    def read(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes of `key` from `start` up to, not including, `end`."""
        ...

    async def delete(self, *keys: str | None) -> None:
        """Remove files; missing ones are fine."""
        ...

    async def sweep_temp(self, *, older_than_seconds: float) -> int:
        """Remove abandoned temporary files (from a crash mid-upload)."""
        ...

    async def check_writable(self) -> bool:
        """Write and remove a small file: can the store take writes now?"""
        ...


class LocalMediaStorage:
    """Files on local disk under `root`: `<root>/<2 hex>/<32 hex>`, temp files in `<root>/tmp`."""

    def __init__(self, root: Path, *, health: WriteHealth | None = None) -> None:
        self.root = root.resolve()
        self.temp_dir = self.root / "tmp"
        self.health = health

    def _failed(self, exc: OSError) -> None:
        if self.health is not None and is_write_failure(exc):
            self.health.failed(MEDIA, exc)

    def _succeeded(self) -> None:
        if self.health is not None:
            self.health.succeeded(MEDIA)

    def ensure_dirs(self) -> None:
        self.temp_dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        """The file for a key; refuses anything that is not a key this storage issued."""
        if not _KEY_RE.fullmatch(key):
            raise InvalidKey(key)
        return self.root / key

    @staticmethod
    def _new_key() -> str:
        token = secrets.token_hex(16)
        return f"{token[:2]}/{token}"

    async def new_temp(self) -> Path:
        try:
            await aiofiles.os.makedirs(self.temp_dir, exist_ok=True)
        except OSError as exc:
            self._failed(exc)
            raise
        return self.temp_dir / f"{secrets.token_hex(16)}.part"

    async def commit_temp(self, temp: Path) -> str:
        if temp.parent != self.temp_dir:
            raise InvalidKey(str(temp))
        key = self._new_key()
        target = self.path_for(key)
        try:
            await aiofiles.os.makedirs(target.parent, exist_ok=True)
            await aiofiles.os.replace(temp, target)
        except OSError as exc:
            self._failed(exc)
            raise
        self._succeeded()
        return key

    async def discard_temp(self, temp: Path) -> None:
        if temp.parent == self.temp_dir:
            await _unlink(temp)

    async def put_bytes(self, data: bytes) -> str:
        temp = await self.new_temp()
        try:
            async with aiofiles.open(temp, "wb") as fh:
                await fh.write(data)
            return await self.commit_temp(temp)
        except OSError as exc:
            self._failed(exc)
            await _unlink(temp)
            raise
        except BaseException:
            await _unlink(temp)
            raise

    async def size(self, key: str) -> int | None:
        try:
            return (await aiofiles.os.stat(self.path_for(key))).st_size
        except FileNotFoundError:
            return None

    async def read(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        async with aiofiles.open(self.path_for(key), "rb") as fh:
            await fh.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                want = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
                chunk = await fh.read(want)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    async def delete(self, *keys: str | None) -> None:
        for key in keys:
            if key:
                await _unlink(self.path_for(key))

    async def sweep_temp(self, *, older_than_seconds: float) -> int:
        return await asyncio.to_thread(self._sweep_temp, older_than_seconds)

    async def check_writable(self) -> bool:
        try:
            await asyncio.to_thread(self._write_probe)
        except OSError as exc:
            self._failed(exc)
            return False
        self._succeeded()
        return True

    def _write_probe(self) -> None:
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        probe = self.temp_dir / f"{secrets.token_hex(16)}.part"
        try:
            with probe.open("wb") as fh:
                fh.write(secrets.token_bytes(4096))
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                probe.unlink()

    def _sweep_temp(self, older_than_seconds: float) -> int:
        cutoff = time.time() - older_than_seconds
        removed = 0
        try:
            entries = list(os.scandir(self.temp_dir))
        except FileNotFoundError:
            return 0
        for entry in entries:
            try:
                if entry.name.endswith(".part") and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


async def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        await aiofiles.os.remove(path)
