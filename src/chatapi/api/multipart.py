"""Streaming multipart uploads: the body is parsed with python-multipart's push parser
straight from the request stream, instead of FastAPI's UploadFile, which would spool the
whole body before the endpoint runs. The size limit is enforced while the bytes arrive
and nothing but a chunk is ever held in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import aiofiles
from fastapi import APIRouter, Request
from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError, MultipartParseError
from python_multipart.multipart import parse_options_header

from chatapi.api.file_response import decimal
from chatapi.errors import (
    ChatError,
    PayloadTooLarge,
    Unprocessable,
)
from chatapi.errors import UnsupportedMediaType as UnsupportedMediaTypeError
from chatapi.storage import MediaStorage

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

router = APIRouter(prefix="/media", tags=["media"])

# Room for the multipart framing and part headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
# Received bytes are written in blocks of about this size (fewer thread hops).
WRITE_BLOCK = 1024 * 1024


@dataclass
class Received:
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


async def receive_upload(request: Request, storage: MediaStorage, *, limit: int) -> Received:
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
    declared_size = decimal(declared) if declared is not None else None
    if declared_size is not None and declared_size > body_limit:
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
    return Received(temp=temp, filename=part.filename, size=part.size)
