"""Media safety: a zip of many entries is never indexed (bounded memory), files are
inspected a few at a time, GIFs are re-encoded (frames, durations and loop kept; comments,
extensions and trailing bytes gone), and a text file is checked for markup all through."""

from __future__ import annotations

import asyncio
import functools
import io
import struct
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageSequence

from chatapi.services.media import sniff
from helpers import Account, Signup, elapse

API = "/api/v1"


async def upload(
    client: httpx.AsyncClient, account: Account, content: bytes, filename: str
) -> httpx.Response:
    return await client.post(
        f"{API}/media",
        files={"file": (filename, content, "application/octet-stream")},
        headers=account.headers,
    )


# --- zips --------------------------------------------------------------------------------


@functools.cache
def many_entries_zip(entries: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(entries):
            zf.writestr(f"{i}", b"")
    return buf.getvalue()


def with_entry_count(data: bytes, count: int) -> bytes:
    """The same zip with an end record that claims `count` entries (the directory is
    left as it is: zipfile reads all of it whatever the count says)."""
    at = data.rfind(b"PK\x05\x06")
    record = bytearray(data[at:])
    struct.pack_into("<HH", record, 8, count, count)
    return data[:at] + bytes(record)


def forbid_zip_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, fail the test if anything builds a zipfile index."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("zipfile.ZipFile was built: every entry would be indexed")

    monkeypatch.setattr(sniff.zipfile, "ZipFile", refuse)


@pytest.mark.parametrize(
    ("entries", "claimed"),
    [
        (sniff.MAX_ZIP_ENTRIES + 1, None),  # over the count
        (70_000, None),  # over 65,535: the count is in the ZIP64 end record
        (30_000, 3),  # the end record lies about the count; the directory is too large
    ],
)
def test_a_zip_of_many_entries_is_a_plain_archive_without_an_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entries: int, claimed: int | None
) -> None:
    data = many_entries_zip(entries)
    if claimed is not None:
        data = with_entry_count(data, claimed)
    path = tmp_path / "many.zip"
    path.write_bytes(data)
    forbid_zip_index(monkeypatch)
    count, directory_bytes = sniff.zip_directory(path) or (0, 0)
    assert count == (claimed or entries)
    assert directory_bytes > sniff.MAX_ZIP_DIRECTORY_BYTES or count > sniff.MAX_ZIP_ENTRIES
    file_type = sniff.detect_type(path)
    assert file_type is not None and file_type.mime == "application/zip"


def test_zip_directory_of_small_and_broken_zips(tmp_path: Path) -> None:
    path = tmp_path / "small.zip"
    path.write_bytes(many_entries_zip(5))
    entries, directory_bytes = sniff.zip_directory(path) or (0, 0)
    assert entries == 5 and 0 < directory_bytes < 1000
    path.write_bytes(many_entries_zip(5)[:-30])  # cut into the end record
    assert sniff.zip_directory(path) is None
    assert sniff.detect_type(path) is None
    path.write_bytes(b"PK\x03\x04 not really a zip")
    assert sniff.zip_directory(path) is None


async def test_a_zip_of_many_entries_uploads_as_an_archive(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    r = await upload(client, alice, many_entries_zip(70_000), "many.zip")
    assert r.status_code == 201, r.text
    assert r.json()["content_type"] == "application/zip"


async def test_files_are_inspected_a_few_at_a_time(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    slots = sniff.inspection_slots()
    for _ in range(sniff.INSPECTION_SLOTS):
        await slots.acquire()  # every slot busy
    try:
        pending = asyncio.ensure_future(upload(client, alice, b"hello\n", "a.txt"))
        await elapse(0.3, "the behaviour under test: nothing is inspected while slots are busy")
        assert not pending.done(), "an upload was inspected with every slot taken"
    finally:
        for _ in range(sniff.INSPECTION_SLOTS):
            slots.release()
    r = await asyncio.wait_for(pending, 10)
    assert r.status_code == 201 and r.json()["content_type"] == "text/plain"


# --- GIFs --------------------------------------------------------------------------------

SCRIPT = b"alert(document.domain)//"


def animated_gif() -> bytes:
    """Three frames, 100/200/300 ms, looping forever; a comment and a script after the
    trailer, as polyglots carry them."""
    frames = []
    for colour in (1, 2, 3):
        frame = Image.new("P", (40, 30), colour)
        frame.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] * 64)
        frames.append(frame)
    buf = io.BytesIO()
    frames[0].save(
        buf,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=[100, 200, 300],
        loop=0,
        comment=b"*/" + SCRIPT + b"/*",
    )
    return buf.getvalue() + b"/*" + SCRIPT


def static_gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (30, 20), "blue").save(buf, "GIF", comment=SCRIPT)
    return buf.getvalue()


async def download(client: httpx.AsyncClient, url: str) -> bytes:
    r = await client.get(url)
    assert r.status_code == 200
    return r.content


async def test_an_animated_gif_is_re_encoded_keeping_its_animation(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    original = animated_gif()
    assert SCRIPT in original
    r = await upload(client, alice, original, "dance.gif")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["content_type"], body["width"], body["height"]) == ("image/gif", 40, 30)
    stored = await download(client, body["url"])
    assert SCRIPT not in stored
    assert stored.endswith(b";")  # the GIF trailer is the last byte
    with Image.open(io.BytesIO(stored)) as im:
        assert im.format == "GIF"
        assert "comment" not in im.info
        assert im.info["loop"] == 0
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(im)]
        assert durations == [100, 200, 300]
        assert im.n_frames == 3


async def test_a_still_gif_loses_its_comment(client: httpx.AsyncClient, signup: Signup) -> None:
    alice = await signup()
    r = await upload(client, alice, static_gif(), "still.gif")
    assert r.status_code == 201, r.text
    stored = await download(client, r.json()["url"])
    assert SCRIPT not in stored
    with Image.open(io.BytesIO(stored)) as im:
        assert im.size == (30, 20) and "comment" not in im.info


# --- text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"plain words\n" * 2000 + b"<script>alert(1)</script>\n",  # after the first 8 KB
        b"a" * ((1 << 20) - 4) + b"<scr" + b"ipt>alert(1)</script>",  # across a 1 MiB chunk
        b"notes\n" * 300_000 + b'<a href="JavaScript:alert(1)">x</a>',  # 1.8 MB in
        b"x" * 9000 + b"<SVG onload=alert(1)>",
    ],
    ids=["after-8k", "across-chunks", "deep", "upper-case"],
)
async def test_markup_anywhere_in_a_text_file_is_refused(
    client: httpx.AsyncClient, signup: Signup, content: bytes
) -> None:
    alice = await signup()
    r = await upload(client, alice, content, "notes.txt")
    assert r.status_code == 415, r.text


async def test_a_large_plain_text_file_is_still_text(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    content = "Zeile mit Umlauten äöü und a < b oder c > d\n".encode() * 80_000  # 3.4 MB
    r = await upload(client, alice, content, "log.txt")
    assert r.status_code == 201, r.text
    assert r.json()["content_type"] == "text/plain"
