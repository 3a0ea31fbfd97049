"""File responses for media downloads: caching headers, ETags and byte ranges."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from chatapi.services.media import files
from chatapi.storage import MediaStorage

if TYPE_CHECKING:
    pass

router = APIRouter(prefix="/media", tags=["media"])


def file_response(
    request: Request,
    storage: MediaStorage,
    download: files.Download,
    *,
    max_age: int,
    signed: bool,
) -> Response:
    """The file, honouring If-None-Match and a single Range (206, or 416 past the end)."""
    headers = _media_headers(download, max_age=max_age, signed=signed)
    if _etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)

    size = download.size
    byte_range = _requested_range(request, size, etag=headers["ETag"])
    if byte_range == "unsatisfiable":
        headers["Content-Range"] = f"bytes */{size}"
        headers.pop("Content-Disposition", None)
        return JSONResponse(
            {"detail": f"The range is outside the file ({size} bytes).",
             "code": "range_not_satisfiable"},
            status_code=416,
            headers=headers,
        )  # fmt: skip
    content_type = _content_type_header(download.content_type)
    if byte_range is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(
            storage.read(download.key), media_type=content_type, headers=headers
        )
    start, end = byte_range  # inclusive end
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        storage.read(download.key, start=start, end=end + 1),
        status_code=206,
        media_type=content_type,
        headers=headers,
    )


def _media_headers(download: files.Download, *, max_age: int, signed: bool) -> dict[str, str]:
    headers = {
        # Never let an uploaded file act as a page: no sniffing, no scripts, no origin.
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": f"private, max-age={max_age}, immutable",
        "ETag": f'"{download.media_id.hex}-{download.variant}-{download.version}"',
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(
            "inline" if download.inline else "attachment", download.filename
        ),
    }
    if not signed:
        headers["Vary"] = "Authorization"
    return headers


def content_disposition(kind: Literal["inline", "attachment"], filename: str) -> str:
    """`filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266/5987)."""
    fallback = (
        "".join(
            ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\%;' else "_" for ch in filename
        ).strip()
        or "file"
    )
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _content_type_header(content_type: str) -> str:
    return f"{content_type}; charset=utf-8" if content_type.startswith("text/") else content_type


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {c.strip().removeprefix("W/") for c in header.split(",")}
    return "*" in candidates or etag in candidates


_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also accepts "²" and "٣"
# Any byte position past this is past the end of every file; longer numbers are capped
# here instead of being parsed (int() refuses more than 4,300 digits).
_POSITION_CAP = 2**63


def decimal(text: str) -> int | None:
    """A non-negative decimal number of ASCII digits (capped at 2**63), or None."""
    if not _DIGITS.fullmatch(text):
        return None
    digits = text.lstrip("0")
    return int(digits or "0") if len(digits) <= 18 else _POSITION_CAP


def _requested_range(
    request: Request, size: int, *, etag: str
) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """The single byte range asked for (inclusive), None for the whole file.

    Multiple ranges, malformed ones and a stale If-Range are answered with the whole
    file, which RFC 9110 allows; a range starting past the end is unsatisfiable.
    """
    header = request.headers.get("range")
    if not header:
        return None
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    start, end = decimal(first.strip()), decimal(last.strip())
    if not first.strip():
        if end is None:
            return None
        if end == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - end), size - 1  # the last `end` bytes
    if start is None or (last.strip() and end is None):
        return None
    if start >= size:
        return "unsatisfiable"
    end = size - 1 if end is None else min(end, size - 1)
    if end < start:
        return None
    return start, end
