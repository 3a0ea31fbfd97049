"""Media: upload (streamed to disk as it arrives) and download (signed links, Range).

The upload body is parsed here with python-multipart's push parser straight from the
request stream, instead of FastAPI's UploadFile, which would spool the whole body before
the endpoint runs: the size limit is enforced while the bytes arrive and nothing but a
chunk is ever held in memory.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import quote

import aiofiles
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError, MultipartParseError
from python_multipart.multipart import parse_options_header

from chatapi.api import errors
from chatapi.api.deps import CurrentUser, ReadUowDep, StateDep, UowDep, oauth2_scheme
from chatapi.errors import (
    ChatError,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
)
from chatapi.errors import UnsupportedMediaType as UnsupportedMediaTypeError
from chatapi.media_urls import Variant
from chatapi.schemas import ErrorBody, MediaRead
from chatapi.services import auth
from chatapi.services.media import attachments, files
from chatapi.storage import MediaStorage

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

router = APIRouter(prefix="/media", tags=["media"])

# Room for the multipart framing and part headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
# Received bytes are written in blocks of about this size (fewer thread hops).
WRITE_BLOCK = 1024 * 1024

_UPLOAD_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The file. Its type is decided from its bytes.",
                        }
                    },
                }
            }
        },
    }
}
_SIGNED_QUERY_DOC = "from a signed `url`/`thumbnail_url`; or send a Bearer token instead"
# The token is optional here, a signed link alone is enough: FastAPI appends this "{}"
# (no auth) alternative to the Bearer requirement it derives from the dependency.
_OPTIONAL_AUTH: dict[str, object] = {"security": [{}]}


# --- upload -----------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    openapi_extra=_UPLOAD_OPENAPI,
    responses={
        **errors(400, 401, 413, 415),
        422: {"model": ErrorBody, "description": "No file, an empty file, or an unusable image"},
    },
)
async def upload_media(
    request: Request, user: CurrentUser, uow: UowDep, state: StateDep
) -> MediaRead:
    """Upload a file (multipart field `file`), to attach it to a message afterwards.

    Accepted: images (JPEG, PNG, GIF, WebP), video (MP4, WebM, QuickTime), audio (MP3,
    Ogg, WAV, WebM, M4A), PDF, plain text, CSV, Office documents and zip/7z/gz/tar
    archives, up to MAX_UPLOAD_BYTES. Image metadata (EXIF, GPS) is removed. An upload
    not attached to a message within the grace period is deleted.
    """
    uploader_id = user.id
    # No transaction may be open while the (possibly long) body arrives: it would hold a
    # connection, and on SQLite the write lock. Authentication uses its own session, so
    # this is a no-op today; it keeps the upload safe if a dependency ever queries `uow`.
    await uow.rollback()
    received = await _receive_upload(request, state.storage, limit=state.settings.max_upload_bytes)
    media = await files.create_from_upload(
        uow, state.storage, uploader_id=uploader_id, temp=received.temp,
        filename=received.filename,
    )  # fmt: skip
    try:
        await uow.commit()
    except BaseException:
        await files.discard(state.storage, media)
        raise
    return attachments.to_read(media, signer=state.media_signer)


@dataclass
class _Received:
    temp: Path
    filename: str | None
    size: int


@dataclass
class _FilePart:
    """Push-parser callbacks that pick out the one `file` part and queue its bytes."""

    limit: int
    found: bool = False
    filename: str | None = None
    size: int = 0
    ended: bool = False
    pending: bytearray = field(default_factory=bytearray)
    _in_file: bool = False
    _header_name: bytearray = field(default_factory=bytearray)
    _header_value: bytearray = field(default_factory=bytearray)
    _disposition: bytes = b""

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _part_begin(self) -> None:
        self._disposition = b""
        self._in_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if bytes(self._header_name).strip().lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if options.get(b"name") != b"file":
            return  # other fields are ignored (and bounded by the body limit)
        if self.found:
            raise ChatError("Send one file per upload.", code="too_many_files")
        self.found = True
        self._in_file = True
        raw = options.get(b"filename")
        self.filename = raw.decode("utf-8", "replace") if raw is not None else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file:
            return
        self.size += end - start
        if self.size > self.limit:
            raise _too_large(self.limit)
        self.pending += data[start:end]

    def _part_end(self) -> None:
        self._in_file = False

    def _end(self) -> None:
        self.ended = True


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file is larger than the upload limit of {limit:,} bytes.", code="payload_too_large"
    )


async def _receive_upload(request: Request, storage: MediaStorage, *, limit: int) -> _Received:
    """Stream the multipart body's `file` part into a temporary file; nothing is kept
    when anything goes wrong (too large, malformed, client gone)."""
    mime, params = parse_options_header(request.headers.get("content-type"))
    if mime != b"multipart/form-data":
        raise UnsupportedMediaTypeError(
            "Send the file as multipart/form-data, in a field named `file`.",
            code="multipart_required",
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise ChatError("The multipart Content-Type has no boundary.", code="malformed_multipart")
    body_limit = limit + MULTIPART_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > body_limit:
        raise _too_large(limit)  # refused before a byte is read

    part = _FilePart(limit=limit)
    try:
        parser = MultipartParser(boundary, part.callbacks())
    except (FormParserError, ValueError) as exc:
        raise ChatError("The multipart boundary is invalid.", code="malformed_multipart") from exc
    temp = await storage.new_temp()
    try:
        async with aiofiles.open(temp, "wb") as fh:
            received = 0
            async for chunk in request.stream():
                received += len(chunk)
                if received > body_limit:
                    raise _too_large(limit)
                try:
                    parser.write(chunk)
                except MultipartParseError as exc:
                    raise ChatError(
                        "The multipart body is malformed.", code="malformed_multipart"
                    ) from exc
                if len(part.pending) >= WRITE_BLOCK:
                    await fh.write(bytes(part.pending))
                    part.pending.clear()
            parser.finalize()
            if part.pending:
                await fh.write(bytes(part.pending))
                part.pending.clear()
        if not part.ended:
            raise ChatError(
                "The multipart body ended before its closing boundary.",
                code="malformed_multipart",
            )
        if not part.found:
            raise Unprocessable(
                "No file: send it in a multipart field named `file`.", code="file_missing"
            )
        if part.size == 0:
            raise Unprocessable("The file is empty.", code="empty_file")
    except BaseException:
        await storage.discard_temp(temp)
        raise
    return _Received(temp=temp, filename=part.filename, size=part.size)


# --- download ---------------------------------------------------------------------------


@router.get(
    "/{media_id}",
    response_class=StreamingResponse,
    openapi_extra=_OPTIONAL_AUTH,
    responses={
        200: {"description": "The file", "content": {"application/octet-stream": {}}},
        206: {
            "description": "The requested byte range",
            "content": {"application/octet-stream": {}},
        },
        416: {"model": ErrorBody, "description": "The range starts past the end of the file"},
        **errors(401, 404),
    },
)
async def download_media(
    media_id: uuid.UUID,
    request: Request,
    state: StateDep,
    uow: ReadUowDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    exp: Annotated[int | None, Query(description=_SIGNED_QUERY_DOC)] = None,
    sig: Annotated[str | None, Query(max_length=128, description=_SIGNED_QUERY_DOC)] = None,
) -> Response:
    """The file's bytes, with `Range` support. Use the signed `url` of a Media (no header
    needed, so it works in `<img>`/`<video>`), or this path with a Bearer token."""
    return await _serve(request, state, uow, media_id, "original", token, exp, sig)


@router.get(
    "/{media_id}/thumbnail",
    response_class=StreamingResponse,
    openapi_extra=_OPTIONAL_AUTH,
    responses={
        200: {"description": "A WebP thumbnail (at most 320x320)", "content": {"image/webp": {}}},
        **errors(401, 404),
    },
)
async def download_thumbnail(
    media_id: uuid.UUID,
    request: Request,
    state: StateDep,
    uow: ReadUowDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    exp: Annotated[int | None, Query(description=_SIGNED_QUERY_DOC)] = None,
    sig: Annotated[str | None, Query(max_length=128, description=_SIGNED_QUERY_DOC)] = None,
) -> Response:
    """A small WebP preview of an image (404 for other files)."""
    return await _serve(request, state, uow, media_id, "thumbnail", token, exp, sig)


async def _serve(
    request: Request,
    state: StateDep,
    uow: UowDep,
    media_id: uuid.UUID,
    variant: Variant,
    token: str | None,
    exp: int | None,
    sig: str | None,
) -> Response:
    now = time.time()
    viewer_id: uuid.UUID | None
    signed = (
        exp is not None
        and sig is not None
        and state.media_signer.verify(media_id, variant, exp=exp, sig=sig, now=now)
    )
    if signed:
        viewer_id = None
    elif token:
        viewer_id = (await auth.authenticate(uow, token=token, key=state.token_policy.key)).id
    elif exp is not None or sig is not None:
        # An expired or forged link looks exactly like a missing file.
        raise NotFound("No such file, or it is not shared with you.", code="media_not_found")
    else:
        raise NotAuthenticated(
            "Use the signed `url` of the Media, or send `Authorization: Bearer <token>`."
        )
    download = await files.open_download(
        uow, state.storage, media_id=media_id, variant=variant, viewer_id=viewer_id
    )
    await uow.rollback()  # done with the database before streaming

    max_age = (
        max(0, exp - int(now)) if signed and exp is not None else state.media_signer.ttl_seconds
    )
    headers = _media_headers(download, max_age=max_age, signed=bool(signed))
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
            state.storage.read(download.key), media_type=content_type, headers=headers
        )
    start, end = byte_range  # inclusive end
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(
        state.storage.read(download.key, start=start, end=end + 1),
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
        "ETag": f'"{download.media_id.hex}-{download.variant}"',
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
    first, last = first.strip(), last.strip()
    if not first:
        if not last.isdigit():
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size - 1
    if not first.isdigit() or (last and not last.isdigit()):
        return None
    start = int(first)
    if start >= size:
        return "unsatisfiable"
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return None
    return start, end
