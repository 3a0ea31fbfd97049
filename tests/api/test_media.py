"""Media: streamed uploads, type detection, signed links, Range, metadata stripping,
attachments and cleanup — through the real endpoints, a real database and a temp MEDIA_DIR."""

from __future__ import annotations

import asyncio
import io
import os
import time
import uuid
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import select

# src imports (module paths may move with the code under test)
from chatapi.api.state import AppState
from chatapi.media_urls import MediaSigner
from chatapi.models import Media
from chatapi.services.media import cleanup as media_cleanup
from chatapi.services.media import sniff
from chatapi.settings import Settings
from helpers import Account, Signup, elapse, eventually

LIMIT = 2 * 1024 * 1024
GPS_IFD = 0x8825
ORIENTATION = 0x0112


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_upload_bytes": LIMIT}


def state_of(app: FastAPI) -> AppState:
    state: AppState = app.state.chat
    return state


def media_files(settings: Settings) -> list[Path]:
    """Every stored file (temp files included) under MEDIA_DIR."""
    root = settings.resolved_media_dir
    return sorted(p for p in root.rglob("*") if p.is_file())


def png_bytes(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, "red" if mode != "1" else 0).save(buf, "PNG")
    return buf.getvalue()


def jpeg_with_gps(size: tuple[int, int] = (120, 80), orientation: int = 6) -> bytes:
    """A photo as phones write it: EXIF orientation and a GPS position."""
    image = Image.new("RGB", size, (10, 120, 200))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)})
    buf = io.BytesIO()
    image.save(
        buf, "JPEG", exif=exif, comment=b"taken at home", xmp=b"<x:xmpmeta>XMP-home</x:xmpmeta>"
    )
    return buf.getvalue()


MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free" + bytes(2000)
M4A = b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A mp42" + bytes(2000)
OOXML = "application/vnd.openxmlformats-officedocument"
DOCX, XLSX, PPTX = (
    f"{OOXML}.wordprocessingml.document",
    f"{OOXML}.spreadsheetml.sheet",
    f"{OOXML}.presentationml.presentation",
)
# An EBML header whose DocType is "webm" (Matroska CodecIDs follow in the Tracks).
WEBM_HEAD = (
    b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04"
    b"\x42\xf3\x81\x08\x42\x82\x84webm"
)
WEBM_AUDIO = WEBM_HEAD + bytes(40) + b"\x86\x86A_OPUS" + bytes(200)
WEBM_VIDEO = WEBM_HEAD + bytes(40) + b"\x86\x85V_VP9" + bytes(200)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def office_zip(main_part: str, *, macro: bool = False) -> bytes:
    buf = io.BytesIO()
    content_types = (
        '<?xml version="1.0"?><Types><Override ContentType="application/'
        + ("vnd.ms-word.document.macroEnabled.main+xml" if macro else "vnd.openxmlformats")
        + '"/></Types>'
    )
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", content_types)
        zf.writestr("_rels/.rels", "<Relationships/>")
        zf.writestr(main_part, "<document/>")
    return buf.getvalue()


def plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data/readme.txt", "hello")
    return buf.getvalue()


async def upload(
    client: httpx.AsyncClient,
    account: Account,
    content: bytes,
    *,
    filename: str = "file.bin",
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    return await client.post(
        "/api/v1/media",
        files={"file": (filename, content, content_type)},
        headers=account.headers,
    )


async def uploaded(client: httpx.AsyncClient, account: Account, content: bytes, **kw: Any) -> Any:
    r = await upload(client, account, content, **kw)
    assert r.status_code == 201, r.text
    return r.json()


# --- upload and type detection ----------------------------------------------------------


async def test_upload_image_returns_media_with_signed_urls(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    body = await uploaded(client, alice, png_bytes((64, 48)), filename="cat.png")
    assert body["content_type"] == "image/png"
    assert body["filename"] == "cat.png"
    assert (body["width"], body["height"]) == (64, 48)
    assert body["url"].startswith(f"/api/v1/media/{body['id']}?exp=")
    assert "&sig=" in body["url"]
    assert body["thumbnail_url"].startswith(f"/api/v1/media/{body['id']}/thumbnail?exp=")


async def test_signed_url_serves_the_bytes_without_a_header(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    content = png_bytes()
    body = await uploaded(client, alice, content, filename="cat.png")
    r = await client.get(body["url"])
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert r.headers["content-disposition"].startswith("inline;")
    assert r.headers["cache-control"].startswith("private, max-age=")
    assert "immutable" in r.headers["cache-control"]
    assert r.headers["accept-ranges"] == "bytes"
    assert Image.open(io.BytesIO(r.content)).size == (64, 48)


async def test_same_etag_answers_304(client: httpx.AsyncClient, signup: Signup) -> None:
    alice = await signup()
    body = await uploaded(client, alice, png_bytes(), filename="cat.png")
    first = await client.get(body["url"])
    again = await client.get(body["url"], headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_thumbnail_is_a_small_webp_without_metadata(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    body = await uploaded(client, alice, jpeg_with_gps((1600, 900), orientation=1))
    r = await client.get(body["thumbnail_url"])
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/webp"
    thumb = Image.open(io.BytesIO(r.content))
    assert thumb.format == "WEBP"
    assert max(thumb.size) <= 320
    assert thumb.size == (320, 180)
    assert not thumb.getexif()


async def test_thumbnail_is_404_for_a_file_that_is_not_an_image(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    alice = await signup()
    body = await uploaded(client, alice, PDF, filename="doc.pdf")
    assert body["thumbnail_url"] is None
    signer = state_of(app).media_signer
    r = await client.get(signer.url(uuid.UUID(body["id"]), "thumbnail"))
    assert r.status_code == 404
    r = await client.get(f"/api/v1/media/{body['id']}/thumbnail", headers=alice.headers)
    assert r.status_code == 404


async def test_pdf_is_served_as_an_attachment_with_its_name(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    body = await uploaded(client, alice, PDF, filename="Résumé 2026.pdf", content_type="text/html")
    assert body["content_type"] == "application/pdf"
    r = await client.get(body["url"])
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="R_sum_ 2026.pdf"' in disposition
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9%202026.pdf" in disposition
    assert r.content == PDF


@pytest.mark.parametrize(
    ("content", "filename", "expected"),
    [
        (MP4, "clip.mp4", "video/mp4"),
        (M4A, "voice.m4a", "audio/mp4"),
        (WEBM_VIDEO, "clip.webm", "video/webm"),
        (WEBM_AUDIO, "voice.webm", "audio/webm"),
        (b"OggS\x00\x02" + bytes(100), "voice.ogg", "audio/ogg"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + bytes(500), "x.mov", "video/quicktime"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(500), "song.mp3", "audio/mpeg"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(500), "a.wav", "audio/wav"),
        (b"hello there\nsecond line\n", "notes.txt", "text/plain"),
        (b"name,age\nalice,30\nbob,41\n", "people.csv", "text/csv"),
        (office_zip("word/document.xml"), "report.docx", DOCX),
        (office_zip("xl/workbook.xml"), "sheet.xlsx", XLSX),
        (office_zip("ppt/presentation.xml"), "deck.pptx", PPTX),
        (plain_zip(), "a.zip", "application/zip"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(100), "a.gz", "application/gzip"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(100), "a.7z", "application/x-7z-compressed"),
    ],
)  # fmt: skip
async def test_type_is_decided_from_the_bytes(
    client: httpx.AsyncClient, signup: Signup, content: bytes, filename: str, expected: str
) -> None:
    alice = await signup()
    body = await uploaded(client, alice, content, filename=filename, content_type="image/png")
    assert body["content_type"] == expected
    assert body["filename"] == filename


@pytest.mark.parametrize(
    ("content", "filename", "content_type"),
    [
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "cat.png", "image/png"),
        (b"<html><body>hi</body></html>", "page.html", "text/html"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "a.svg", "image/svg+xml"),
        (b"hello <script>alert(1)</script>", "notes.txt", "text/plain"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(200), "photo.jpg", "image/jpeg"),
        (b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200), "setup.pdf", "application/pdf"),
        (bytes(range(256)) * 4, "data.bin", "application/octet-stream"),
        (office_zip("word/document.xml", macro=True), "invoice.docx", "application/msword"),
    ],
)  # fmt: skip
async def test_unsupported_types_are_refused_with_415(
    client: httpx.AsyncClient,
    signup: Signup,
    settings: Settings,
    content: bytes,
    filename: str,
    content_type: str,
) -> None:
    alice = await signup()
    r = await upload(client, alice, content, filename=filename, content_type=content_type)
    assert r.status_code == 415, r.text
    assert r.json()["code"] == "unsupported_media_type"
    assert media_files(settings) == []


async def test_path_traversal_filename_is_cleaned_and_never_used_on_disk(
    client: httpx.AsyncClient, signup: Signup, settings: Settings
) -> None:
    alice = await signup()
    body = await uploaded(
        client, alice, PDF, filename="../../etc/\x00pass\u202ewd\r\n..\\..\\evil.pdf"
    )
    assert body["filename"] == "evil.pdf"
    files = media_files(settings)
    assert len(files) == 1
    assert "evil" not in str(files[0])
    assert files[0].is_relative_to(settings.resolved_media_dir)
    assert not (settings.var_dir.parent / "etc").exists()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "file.pdf"),
        ("..", "file.pdf"),
        ("/", "file.pdf"),
        ("report", "report.pdf"),
        ("invoice.pdf.exe", "invoice.pdf.exe.pdf"),
        ("C:\\Users\\me\\My Doc.PDF", "My Doc.PDF"),
        ("a" * 400 + ".pdf", "a" * 196 + ".pdf"),
    ],
)
def test_clean_filename(raw: str, expected: str) -> None:
    assert sniff.clean_filename(raw, sniff.ALLOWED_TYPES["application/pdf"]) == (expected)


async def test_not_multipart_is_415(client: httpx.AsyncClient, signup: Signup) -> None:
    alice = await signup()
    r = await client.post(
        "/api/v1/media", content=PDF, headers={**alice.headers, "Content-Type": "application/pdf"}
    )
    assert r.status_code == 415
    assert r.json()["code"] == "multipart_required"


async def test_missing_file_field_and_empty_file_are_422(
    client: httpx.AsyncClient, signup: Signup, settings: Settings
) -> None:
    alice = await signup()
    r = await client.post(
        "/api/v1/media", files={"other": ("a.pdf", PDF, "application/pdf")}, headers=alice.headers
    )
    assert r.status_code == 422
    assert r.json()["code"] == "file_missing"
    r = await upload(client, alice, b"", filename="empty.txt")
    assert r.status_code == 422
    assert r.json()["code"] == "empty_file"
    assert media_files(settings) == []


async def test_two_files_in_one_upload_are_refused(
    client: httpx.AsyncClient, signup: Signup, settings: Settings
) -> None:
    alice = await signup()
    r = await client.post(
        "/api/v1/media",
        files=[("file", ("a.pdf", PDF, "application/pdf")), ("file", ("b.pdf", PDF, "x/y"))],
        headers=alice.headers,
    )
    assert r.status_code == 400
    assert r.json()["code"] == "too_many_files"
    assert media_files(settings) == []


async def test_upload_needs_a_token(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/media", files={"file": ("a.pdf", PDF, "application/pdf")})
    assert r.status_code == 401


# --- size limit -------------------------------------------------------------------------


async def test_declared_content_length_over_the_limit_is_refused_early(
    client: httpx.AsyncClient, signup: Signup, settings: Settings
) -> None:
    alice = await signup()
    r = await upload(client, alice, b"a" * (LIMIT + 100 * 1024), filename="big.txt")
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"
    assert media_files(settings) == []


async def test_file_just_over_the_limit_is_413(
    client: httpx.AsyncClient, signup: Signup, settings: Settings
) -> None:
    alice = await signup()
    r = await upload(client, alice, b"a" * (LIMIT + 1), filename="big.txt")
    assert r.status_code == 413
    assert media_files(settings) == []
    r = await upload(client, alice, b"a" * LIMIT, filename="fits.txt")
    assert r.status_code == 201
    assert r.json()["size"] == LIMIT


def multipart_chunks(
    boundary: str, filename: str, total: int, chunk: int = 64 * 1024
) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: text/plain\r\n\r\n'
        ).encode()
        sent = 0
        while sent < total:
            n = min(chunk, total - sent)
            sent += n
            yield b"x" * n
        yield f"\r\n--{boundary}--\r\n".encode()

    return gen()


async def test_streamed_upload_over_the_limit_without_content_length_is_413(
    client: httpx.AsyncClient, signup: Signup, settings: Settings
) -> None:
    alice = await signup()
    boundary = "b0undary"
    request = client.build_request(
        "POST",
        "/api/v1/media",
        content=multipart_chunks(boundary, "huge.txt", LIMIT * 3),
        headers={**alice.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    r = await client.send(request)
    assert r.status_code == 413
    assert media_files(settings) == []


async def test_streamed_upload_within_the_limit_is_stored(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    boundary = "b0undary"
    r = await client.post(
        "/api/v1/media",
        content=multipart_chunks(boundary, "log.txt", LIMIT // 2, chunk=1000),
        headers={**alice.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["size"] == LIMIT // 2
    assert r.json()["content_type"] == "text/plain"


async def test_truncated_multipart_body_is_400(
    client: httpx.AsyncClient, signup: Signup, settings: Settings
) -> None:
    alice = await signup()
    body = b'--bnd\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello'
    r = await client.post(
        "/api/v1/media",
        content=body,
        headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=bnd"},
    )
    assert r.status_code == 400
    assert r.json()["code"] == "malformed_multipart"
    assert media_files(settings) == []


# --- ranges -----------------------------------------------------------------------------


async def test_range_requests(client: httpx.AsyncClient, signup: Signup) -> None:
    alice = await signup()
    body = await uploaded(client, alice, MP4, filename="clip.mp4")
    size = len(MP4)
    r = await client.get(body["url"], headers={"Range": "bytes=4-11"})
    assert r.status_code == 206
    assert r.content == b"ftypmp42"
    assert r.headers["content-range"] == f"bytes 4-11/{size}"
    assert r.headers["content-length"] == "8"
    assert r.headers["content-type"] == "video/mp4"
    assert r.headers["content-disposition"].startswith("inline;")

    r = await client.get(body["url"], headers={"Range": "bytes=-10"})
    assert (r.status_code, r.content) == (206, MP4[-10:])
    r = await client.get(body["url"], headers={"Range": f"bytes={size - 5}-"})
    assert (r.status_code, r.content) == (206, MP4[-5:])
    r = await client.get(body["url"], headers={"Range": f"bytes=0-{size * 2}"})
    assert (r.status_code, r.content) == (206, MP4)
    r = await client.get(body["url"], headers={"Range": "bytes=0-1,5-6"})
    assert (r.status_code, r.content) == (200, MP4)  # several ranges: the whole file


async def test_range_past_the_end_is_416(client: httpx.AsyncClient, signup: Signup) -> None:
    alice = await signup()
    body = await uploaded(client, alice, MP4, filename="clip.mp4")
    r = await client.get(body["url"], headers={"Range": f"bytes={len(MP4)}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(MP4)}"
    assert r.json()["code"] == "range_not_satisfiable"


# --- images -----------------------------------------------------------------------------


async def test_exif_gps_is_stripped_and_orientation_applied(
    client: httpx.AsyncClient, signup: Signup, settings: Settings
) -> None:
    alice = await signup()
    photo = jpeg_with_gps((120, 80), orientation=6)
    assert Image.open(io.BytesIO(photo)).getexif().get_ifd(GPS_IFD)
    body = await uploaded(client, alice, photo, filename="IMG_0001.JPG")
    # Orientation 6 is "rotate 90°": what people see is 80 wide and 120 high.
    assert (body["width"], body["height"]) == (80, 120)
    r = await client.get(body["url"])
    served = Image.open(io.BytesIO(r.content))
    assert served.size == (80, 120)
    exif = served.getexif()
    assert not exif.get_ifd(GPS_IFD)
    assert ORIENTATION not in exif
    assert len(exif) == 0
    assert b"taken at home" not in r.content
    assert b"PhoneMaker" not in r.content
    assert b"XMP-home" not in r.content
    assert "comment" not in served.info
    assert body["size"] == len(r.content)
    # What is on disk is the stripped copy, not the original.
    for path in media_files(settings):
        assert b"PhoneMaker" not in path.read_bytes()


async def test_decompression_bomb_is_refused(
    client: httpx.AsyncClient, signup: Signup, settings: Settings
) -> None:
    alice = await signup()
    bomb = png_bytes((10_000, 10_000), mode="1")  # 100 megapixels in a few kilobytes
    assert len(bomb) < LIMIT
    r = await upload(client, alice, bomb, filename="bomb.png")
    assert r.status_code == 422
    assert r.json()["code"] == "image_too_large"
    assert media_files(settings) == []


async def test_damaged_image_is_refused(client: httpx.AsyncClient, signup: Signup) -> None:
    alice = await signup()
    r = await upload(client, alice, png_bytes()[:60], filename="broken.png")
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_image"


async def test_animated_gif_keeps_its_frames(client: httpx.AsyncClient, signup: Signup) -> None:
    alice = await signup()
    frames = [Image.new("RGB", (30, 20), (i * 80, 0, 0)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    body = await uploaded(client, alice, buf.getvalue(), filename="anim.gif")
    assert (body["content_type"], body["width"], body["height"]) == ("image/gif", 30, 20)
    served = Image.open(io.BytesIO((await client.get(body["url"])).content))
    assert getattr(served, "n_frames", 1) == 3


# --- access -----------------------------------------------------------------------------


async def test_uploader_can_fetch_with_a_bearer_token(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice = await signup()
    body = await uploaded(client, alice, PDF, filename="a.pdf")
    r = await client.get(f"/api/v1/media/{body['id']}", headers=alice.headers)
    assert r.status_code == 200
    assert r.content == PDF
    assert "Authorization" in r.headers["vary"]


async def test_no_link_and_no_token_is_401(client: httpx.AsyncClient, signup: Signup) -> None:
    alice = await signup()
    body = await uploaded(client, alice, PDF, filename="a.pdf")
    r = await client.get(f"/api/v1/media/{body['id']}")
    assert r.status_code == 401


async def test_someone_else_with_a_guessed_id_gets_404(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, mallory = await signup(), await signup()
    body = await uploaded(client, alice, PDF, filename="a.pdf")
    r = await client.get(f"/api/v1/media/{body['id']}", headers=mallory.headers)
    assert r.status_code == 404
    assert r.json()["code"] == "media_not_found"
    missing = await client.get(f"/api/v1/media/{uuid.uuid4()}", headers=mallory.headers)
    assert missing.status_code == 404
    assert missing.json() == r.json()  # the same answer: existence does not leak


async def test_expired_signed_url_is_404(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    alice = await signup()
    body = await uploaded(client, alice, PDF, filename="a.pdf")
    signer = state_of(app).media_signer
    stale = signer.url(uuid.UUID(body["id"]), now=time.time() - 2 * signer.ttl_seconds - 3600)
    r = await client.get(stale)
    assert r.status_code == 404
    assert r.json()["code"] == "media_not_found"


async def test_tampered_or_borrowed_signatures_are_404(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    alice = await signup()
    one = await uploaded(client, alice, png_bytes(), filename="one.png")
    two = await uploaded(client, alice, png_bytes(), filename="two.png")
    query = one["url"].split("?", 1)[1]
    assert (await client.get(f"/api/v1/media/{two['id']}?{query}")).status_code == 404
    thumb_query = one["thumbnail_url"].split("?", 1)[1]
    assert (await client.get(f"/api/v1/media/{one['id']}?{thumb_query}")).status_code == 404
    exp = int(query.split("exp=")[1].split("&")[0])
    later = one["url"].replace(f"exp={exp}", f"exp={exp + 3600}")
    assert (await client.get(later)).status_code == 404


def test_signed_urls_are_stable_within_a_step() -> None:
    signer = MediaSigner(key="k", ttl_seconds=3600)
    media_id = uuid.uuid4()
    now = 1_800_000_000.0
    assert signer.url(media_id, now=now) == signer.url(media_id, now=now + 1)
    exp = signer.expiry(now)
    assert now + 3600 <= exp <= now + 3600 + signer.step
    sig = signer.signature(media_id, "original", exp)
    assert signer.verify(media_id, "original", exp=exp, sig=sig, now=now)
    assert not signer.verify(media_id, "thumbnail", exp=exp, sig=sig, now=now)
    assert not signer.verify(media_id, "original", exp=exp, sig=sig, now=exp + 1)


# --- orphans ----------------------------------------------------------------------------


async def test_uploads_never_attached_are_removed_after_the_grace_period(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI, settings: Settings
) -> None:
    alice = await signup()
    body = await uploaded(client, alice, png_bytes(), filename="a.png")
    assert len(media_files(settings)) == 2  # the image and its thumbnail
    state = state_of(app)
    grace = settings.media_orphan_grace_seconds

    soon = datetime.now(UTC) + timedelta(seconds=grace - 60)
    kept = await media_cleanup.cleanup_orphans(
        state.uow, state.storage, grace_seconds=grace, now=soon
    )
    assert kept == 0
    assert (await client.get(body["url"])).status_code == 200

    later = datetime.now(UTC) + timedelta(seconds=grace + 60)
    removed = await media_cleanup.cleanup_orphans(
        state.uow, state.storage, grace_seconds=grace, now=later
    )
    assert removed == 1
    assert media_files(settings) == []
    assert (await client.get(body["url"])).status_code == 404
    async with state.uow() as uow:
        assert (await uow.session.scalars(select(Media))).all() == []


async def test_orphan_cleanup_task_is_owned_by_the_app(app: FastAPI) -> None:
    import asyncio

    names = {t.get_name() for t in asyncio.all_tasks()}
    assert "media-orphan-cleanup" in names


# --- attachments (through the conversations and messages endpoints) ---------------------


async def group_with(client: httpx.AsyncClient, owner: Account, *members: Account) -> str:
    r = await client.post(
        "/api/v1/conversations",
        json={"kind": "group", "title": "photos", "member_ids": [m.id for m in members]},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def post(
    client: httpx.AsyncClient, account: Account, conversation_id: str, *media_ids: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"body": "look", "attachment_ids": list(media_ids)},
        headers=account.headers,
    )


async def test_members_see_attachments_and_outsiders_get_404(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob, carol = await signup(), await signup(), await signup()
    conversation_id = await group_with(client, alice, bob)
    photo = await uploaded(client, alice, png_bytes(), filename="a.png")
    r = await post(client, alice, conversation_id, photo["id"])
    assert r.status_code == 201, r.text
    attachment = r.json()["attachments"][0]
    assert attachment["id"] == photo["id"]
    assert attachment["content_type"] == "image/png"

    history = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=bob.headers
    )
    seen = history.json()[-1]["attachments"][0]
    assert (await client.get(seen["url"])).status_code == 200
    assert (await client.get(seen["thumbnail_url"])).status_code == 200
    as_bob = await client.get(f"/api/v1/media/{photo['id']}", headers=bob.headers)
    assert as_bob.status_code == 200
    as_carol = await client.get(f"/api/v1/media/{photo['id']}", headers=carol.headers)
    assert as_carol.status_code == 404
    thumb_carol = await client.get(f"/api/v1/media/{photo['id']}/thumbnail", headers=carol.headers)
    assert thumb_carol.status_code == 404


async def test_attachments_keep_the_order_given(client: httpx.AsyncClient, signup: Signup) -> None:
    alice, bob = await signup(), await signup()
    conversation_id = await group_with(client, alice, bob)
    ids = [(await uploaded(client, alice, PDF, filename=f"{i}.pdf"))["id"] for i in range(3)]
    ids.reverse()
    r = await post(client, alice, conversation_id, *ids)
    assert r.status_code == 201, r.text
    assert [a["id"] for a in r.json()["attachments"]] == ids
    history = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=bob.headers
    )
    assert [a["id"] for a in history.json()[-1]["attachments"]] == ids


async def test_only_your_own_uploads_can_be_attached(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    conversation_id = await group_with(client, alice, bob)
    alices = await uploaded(client, alice, PDF, filename="a.pdf")
    r = await post(client, bob, conversation_id, alices["id"])
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_attachment"
    r = await post(client, bob, conversation_id, str(uuid.uuid4()))
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_attachment"


async def test_an_upload_can_be_attached_once(client: httpx.AsyncClient, signup: Signup) -> None:
    alice, bob = await signup(), await signup()
    conversation_id = await group_with(client, alice, bob)
    other_id = await group_with(client, alice)
    doc = await uploaded(client, alice, PDF, filename="a.pdf")
    assert (await post(client, alice, conversation_id, doc["id"])).status_code == 201
    r = await post(client, alice, other_id, doc["id"])
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_attachment"


async def test_deleting_a_message_removes_its_files(
    client: httpx.AsyncClient, signup: Signup, settings: Settings, app: FastAPI
) -> None:
    alice, bob = await signup(), await signup()
    conversation_id = await group_with(client, alice, bob)
    photo = await uploaded(client, alice, png_bytes(), filename="a.png")
    doc = await uploaded(client, alice, PDF, filename="b.pdf")
    message = (await post(client, alice, conversation_id, photo["id"], doc["id"])).json()
    url = message["attachments"][0]["url"]
    assert len(media_files(settings)) == 3
    r = await client.delete(f"/api/v1/messages/{message['id']}", headers=alice.headers)
    assert r.status_code == 204, r.text
    assert media_files(settings) == []
    assert (await client.get(url)).status_code == 404
    for media_id in (photo["id"], doc["id"]):
        r = await client.get(f"/api/v1/media/{media_id}", headers=alice.headers)
        assert r.status_code == 404
    async with state_of(app).uow() as uow:
        assert (await uow.session.scalars(select(Media))).all() == []
    history = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=bob.headers
    )
    assert history.json()[-1]["attachments"] == []


async def test_attached_uploads_survive_orphan_cleanup(
    client: httpx.AsyncClient, signup: Signup, settings: Settings, app: FastAPI
) -> None:
    alice, bob = await signup(), await signup()
    conversation_id = await group_with(client, alice, bob)
    kept = await uploaded(client, alice, PDF, filename="kept.pdf")
    await uploaded(client, alice, PDF, filename="orphan.pdf")
    assert (await post(client, alice, conversation_id, kept["id"])).status_code == 201
    state = state_of(app)
    later = datetime.now(UTC) + timedelta(seconds=settings.media_orphan_grace_seconds + 60)
    removed = await media_cleanup.cleanup_orphans(
        state.uow, state.storage, grace_seconds=settings.media_orphan_grace_seconds, now=later
    )
    assert removed == 1
    assert len(media_files(settings)) == 1
    r = await client.get(f"/api/v1/media/{kept['id']}", headers=bob.headers)
    assert r.status_code == 200


async def test_a_removed_member_fetches_with_a_token_only_what_was_sent_before(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    conversation_id = await group_with(client, alice, bob)
    doc = await uploaded(client, alice, PDF, filename="a.pdf")
    assert (await post(client, alice, conversation_id, doc["id"])).status_code == 201
    assert (await client.get(f"/api/v1/media/{doc['id']}", headers=bob.headers)).status_code == 200
    r = await client.delete(
        f"/api/v1/conversations/{conversation_id}/members/{bob.id}", headers=alice.headers
    )
    assert r.status_code == 204, r.text
    # Removed, he keeps what was sent before (read-only history), not what comes after.
    assert (await client.get(f"/api/v1/media/{doc['id']}", headers=bob.headers)).status_code == 200
    later = await uploaded(client, alice, PDF, filename="b.pdf")
    assert (await post(client, alice, conversation_id, later["id"])).status_code == 201
    r = await client.get(f"/api/v1/media/{later['id']}", headers=bob.headers)
    assert r.status_code == 404
    # Once he deletes the chat, nothing of it.
    r = await client.delete(f"/api/v1/conversations/{conversation_id}/former", headers=bob.headers)
    assert r.status_code == 204
    r = await client.get(f"/api/v1/media/{doc['id']}", headers=bob.headers)
    assert r.status_code == 404


# --- resources --------------------------------------------------------------------------


async def test_a_slow_upload_holds_no_database_lock(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    """While an upload's bytes trickle in, other requests can still write (SQLite takes
    its write lock at BEGIN, so a transaction left open by authentication would block)."""
    alice = await signup()
    halfway, gate = asyncio.Event(), asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b'--bnd\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
        yield b"first half, "
        halfway.set()  # the server has taken the first half and asks for more
        await gate.wait()
        yield b"second half\r\n--bnd--\r\n"

    uploading = asyncio.create_task(
        client.post(
            "/api/v1/media",
            content=slow_body(),
            headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=bnd"},
        )
    )
    try:
        await asyncio.wait_for(halfway.wait(), 5)
        assert not uploading.done()
        bob = await asyncio.wait_for(signup(), timeout=5)  # a write while the upload waits
        assert bob.id
    finally:
        gate.set()
    r = await uploading
    assert r.status_code == 201, r.text
    assert r.json()["size"] == len(b"first half, second half")


async def test_cleanup_task_runs_periodically(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI, settings: Settings
) -> None:
    alice = await signup()
    body = await uploaded(client, alice, PDF, filename="a.pdf")
    state = state_of(app)
    await elapse(1.1, "created_at grows older than the 1 s grace")
    cleanup = media_cleanup.OrphanCleanup(
        state.uow, state.storage, grace_seconds=1, interval_seconds=0.05
    )
    cleanup.start()
    try:
        await eventually(lambda: not media_files(settings), what="the orphan removed")
    finally:
        await cleanup.stop()
    assert media_files(settings) == []
    assert (await client.get(body["url"])).status_code == 404


async def test_cleanup_removes_abandoned_temp_files(app: FastAPI, settings: Settings) -> None:
    state = state_of(app)
    temp = settings.resolved_media_dir / "tmp" / "0123abcd.part"
    temp.write_bytes(b"half an upload")
    fresh = settings.resolved_media_dir / "tmp" / "fresh.part"
    fresh.write_bytes(b"in progress")
    old = time.time() - 2 * settings.media_orphan_grace_seconds
    os.utime(temp, (old, old))
    await media_cleanup.cleanup_orphans(
        state.uow, state.storage, grace_seconds=settings.media_orphan_grace_seconds
    )
    assert not temp.exists()
    assert fresh.exists()


async def test_png_text_chunks_and_exif_are_stripped(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    from PIL import PngImagePlugin

    alice = await signup()
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "52.5200 N, 13.4050 E")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    buf = io.BytesIO()
    Image.new("RGBA", (40, 30), (1, 2, 3, 128)).save(buf, "PNG", pnginfo=info, exif=exif)
    assert b"52.5200" in buf.getvalue()
    body = await uploaded(client, alice, buf.getvalue(), filename="map.png")
    served = (await client.get(body["url"])).content
    assert b"52.5200" not in served
    assert b"PhoneMaker" not in served
    image = Image.open(io.BytesIO(served))
    assert image.mode == "RGBA"
    assert not image.getexif()
    assert "Location" not in image.info


async def test_webp_exif_and_xmp_are_stripped(client: httpx.AsyncClient, signup: Signup) -> None:
    alice = await signup()
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(
        buf, "WEBP", exif=exif, xmp=b"<x:xmpmeta>secret-place</x:xmpmeta>"
    )
    assert b"secret-place" in buf.getvalue()
    body = await uploaded(client, alice, buf.getvalue(), filename="a.webp")
    served = (await client.get(body["url"])).content
    assert b"secret-place" not in served
    assert b"PhoneMaker" not in served
    assert Image.open(io.BytesIO(served)).size == (40, 30)


async def test_two_messages_racing_for_one_upload_only_one_gets_it(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    alice, bob = await signup(), await signup()
    first, second = await group_with(client, alice, bob), await group_with(client, alice, bob)
    doc = await uploaded(client, alice, PDF, filename="a.pdf")
    results = await asyncio.gather(
        post(client, alice, first, doc["id"]), post(client, alice, second, doc["id"])
    )
    assert sorted(r.status_code for r in results) == [201, 422]
    winner = next(r for r in results if r.status_code == 201)
    assert [a["id"] for a in winner.json()["attachments"]] == [doc["id"]]
