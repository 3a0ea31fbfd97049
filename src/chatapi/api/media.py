"""Media: upload (streamed to disk as it arrives, `multipart.py`) and download (signed
links, Range, `file_response.py`)."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from chatapi.api import errors
from chatapi.api.deps import CurrentUser, ReadUowDep, StateDep, UowDep, oauth2_scheme
from chatapi.api.file_response import file_response
from chatapi.api.multipart import receive_upload
from chatapi.errors import NotAuthenticated, NotFound, RateLimited
from chatapi.media_urls import Variant
from chatapi.metrics import UPLOAD_BYTES, UPLOADS
from chatapi.ports import Quota
from chatapi.schemas import ErrorBody, MediaRead
from chatapi.services import auth
from chatapi.services.media import attachments, files

if TYPE_CHECKING:
    pass

router = APIRouter(prefix="/media", tags=["media"])

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
OPTIONAL_AUTH: dict[str, object] = {"security": [{}]}


# --- upload -----------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    openapi_extra=_UPLOAD_OPENAPI,
    responses={
        **errors(400, 401, 413, 415, 429),
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
    settings = state.settings
    cap = files.UnattachedCap(
        settings.max_unattached_uploads, grace_seconds=settings.media_orphan_grace_seconds
    )
    # The quotas first, before a byte is read (and again, exactly, once it is known).
    async with state.read_uow() as read:
        await files.require_room(read, uploader_id=uploader_id, cap=cap)
    # No transaction may be open while the (possibly long) body arrives: it would hold a
    # connection, and on SQLite the write lock. Authentication uses its own session, so
    # this is a no-op today; it keeps the upload safe if a dependency ever queries `uow`.
    await uow.rollback()
    held = _BytesHeld(state.quotas.upload_bytes, str(uploader_id))
    await held.adjust(min(_declared_length(request), settings.max_upload_bytes) or 1)
    try:
        received = await receive_upload(request, state.storage, limit=settings.max_upload_bytes)
        try:
            await held.adjust(received.size)
        except RateLimited:
            await state.storage.discard_temp(received.temp)
            raise
        media = await files.create_from_upload(
            uow, state.storage, uploader_id=uploader_id, temp=received.temp,
            filename=received.filename, cap=cap,
        )  # fmt: skip
        try:
            await uow.commit()
        except BaseException:
            await files.discard(state.storage, media)
            raise
    except BaseException:
        await held.adjust(0)
        raise
    UPLOADS.inc()
    UPLOAD_BYTES.inc(media.size)
    return attachments.to_read(media, signer=state.media_signer.for_viewer(uploader_id))


class _BytesHeld:
    """Bytes of a user's daily upload quota held for one upload: the declared length
    before reading, the real size once received, nothing if it fails."""

    def __init__(self, quota: Quota, key: str) -> None:
        self.quota, self.key, self.held = quota, key, 0

    async def adjust(self, size: int) -> None:
        if size > self.held:
            await self.quota.take(self.key, size - self.held)
        elif size < self.held:
            await self.quota.give_back(self.key, self.held - size)
        self.held = size


def _declared_length(request: Request) -> int:
    try:
        return max(0, int(request.headers.get("content-length", "0")))
    except ValueError:
        return 0


# --- download ---------------------------------------------------------------------------


@router.get(
    "/{media_id}",
    response_class=StreamingResponse,
    openapi_extra=OPTIONAL_AUTH,
    responses={
        200: {"description": "The file, with its own Content-Type", "content": {"*/*": {}}},
        206: {"description": "The requested byte range", "content": {"*/*": {}}},
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
    v: Annotated[uuid.UUID | None, Query(description=_SIGNED_QUERY_DOC)] = None,
) -> Response:
    """The file's bytes, with `Range` support. Use the signed `url` of a Media (no header
    needed, so it works in `<img>`/`<video>`), or this path with a Bearer token."""
    return await _serve(request, state, uow, media_id, "original", token, (exp, sig, v))


@router.get(
    "/{media_id}/thumbnail",
    response_class=StreamingResponse,
    openapi_extra=OPTIONAL_AUTH,
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
    v: Annotated[uuid.UUID | None, Query(description=_SIGNED_QUERY_DOC)] = None,
) -> Response:
    """A small WebP preview of an image (404 for other files)."""
    return await _serve(request, state, uow, media_id, "thumbnail", token, (exp, sig, v))


async def _serve(
    request: Request,
    state: StateDep,
    uow: UowDep,
    media_id: uuid.UUID,
    variant: Variant,
    token: str | None,
    link: tuple[int | None, str | None, uuid.UUID | None],
) -> Response:
    """A signed link speaks for its viewer (`v`), a Bearer token for its user; either way
    the viewer must still be allowed to see the file (`files.open_download`), so a link
    stops working the moment its viewer leaves the conversation."""
    now = time.time()
    exp, sig, viewer = link
    viewer_id: uuid.UUID
    signed = (
        exp is not None
        and sig is not None
        and viewer is not None
        and state.media_signer.verify(media_id, variant, exp=exp, sig=sig, viewer=viewer, now=now)
    )
    if signed and viewer is not None:
        viewer_id = viewer
    elif token:
        key, revocations = state.token_policy.key, state.revocations
        user = await auth.authenticate(uow, token=token, key=key, revocations=revocations)
        viewer_id = user.id
    elif exp is not None or sig is not None or viewer is not None:
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
    return file_response(request, state.storage, download, max_age=max_age, signed=bool(signed))
