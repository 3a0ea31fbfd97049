"""Media: accepting uploads, deciding what they are, who may see them, attaching and cleanup.

The type of a file is decided from its bytes, never from the name or Content-Type the
client sent, and only an allowlist is accepted. Images are re-encoded without their
metadata (EXIF GPS and friends) and get a small WebP thumbnail. Everything blocking
(type sniffing, Pillow) runs in a worker thread.

Visibility: the uploader, and members of the conversation of the (not deleted) message
the file is attached to. Everyone else gets 404, as if the file did not exist.
Links handed to clients are signed and expire (`MediaSigner`), so `<img src>` works
without an Authorization header.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import functools
import io
import logging
import os
import time
import unicodedata
import uuid
import warnings
import weakref
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlencode

import filetype
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from chatapi import security
from chatapi.db import UnitOfWork
from chatapi.errors import NotFound, Unprocessable, UnsupportedMediaType
from chatapi.models import Media, Member, Message
from chatapi.schemas import MediaRead
from chatapi.settings import Settings
from chatapi.storage import MediaStorage

log = logging.getLogger(__name__)

Variant = Literal["original", "thumbnail"]
Kind = Literal["image", "video", "audio", "document", "archive"]

MAX_FILENAME_CHARS = 200
THUMBNAIL_BOX = (320, 320)
THUMBNAIL_TYPE = "image/webp"
# Pixels of one frame Pillow may decode (8000 x 6250); more is refused before decoding.
MAX_IMAGE_PIXELS = 50_000_000
# Pixels over all frames of an animated image we re-encode.
MAX_ANIMATION_PIXELS = 200_000_000
# Pillow's own guard: it warns above this and raises above twice this. The warning is
# made an error (process-wide: a bomb is never worth decoding), so Image.open refuses
# before a single pixel is decoded.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
warnings.simplefilter("error", Image.DecompressionBombWarning)
# At most this many full-size images are decoded at once (each can take ~200 MB). Waiting
# happens on the event loop, not in a worker thread, so waiting images do not tie up
# the default executor that file I/O also runs in.
IMAGE_SLOTS = 2
_image_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)
_SNIFF_BYTES = 8192

_STORAGE_INFO_KEY = "chatapi.media_storage"


# --- types ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileType:
    mime: str
    kind: Kind
    extensions: tuple[str, ...]  # the first is the canonical one

    @property
    def inline(self) -> bool:
        """Shown in the page (img/video/audio); everything else is downloaded."""
        return self.kind in ("image", "video", "audio")


_TYPES = [
    FileType("image/jpeg", "image", (".jpg", ".jpeg", ".jpe", ".jfif")),
    FileType("image/png", "image", (".png", ".apng")),
    FileType("image/gif", "image", (".gif",)),
    FileType("image/webp", "image", (".webp",)),
    FileType("video/mp4", "video", (".mp4", ".m4v")),
    FileType("video/webm", "video", (".webm",)),
    FileType("video/quicktime", "video", (".mov", ".qt")),
    FileType("audio/mpeg", "audio", (".mp3",)),
    FileType("audio/ogg", "audio", (".ogg", ".oga", ".opus")),
    FileType("audio/wav", "audio", (".wav",)),
    FileType("audio/webm", "audio", (".weba", ".webm")),
    FileType("audio/mp4", "audio", (".m4a", ".mp4", ".aac")),
    FileType("application/pdf", "document", (".pdf",)),
    FileType("text/plain", "document", (".txt", ".text", ".log", ".md", ".json")),
    FileType("text/csv", "document", (".csv", ".tsv", ".txt")),
    FileType(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "document",
        (".docx",),
    ),
    FileType(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "document", (".xlsx",)
    ),
    FileType(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "document",
        (".pptx",),
    ),
    FileType("application/vnd.oasis.opendocument.text", "document", (".odt",)),
    FileType("application/vnd.oasis.opendocument.spreadsheet", "document", (".ods",)),
    FileType("application/vnd.oasis.opendocument.presentation", "document", (".odp",)),
    FileType("application/epub+zip", "document", (".epub",)),
    FileType("application/zip", "archive", (".zip",)),
    FileType("application/x-7z-compressed", "archive", (".7z",)),
    FileType("application/gzip", "archive", (".gz", ".tgz")),
    FileType("application/x-tar", "archive", (".tar",)),
    FileType("application/x-bzip2", "archive", (".bz2", ".tbz2")),
    FileType("application/x-xz", "archive", (".xz", ".txz")),
]
ALLOWED_TYPES: dict[str, FileType] = {t.mime: t for t in _TYPES}

# What `filetype` calls a type we accept, when its name differs from ours.
_FILETYPE_ALIASES = {
    "image/apng": "image/png",
    "audio/x-wav": "audio/wav",
    "video/x-m4v": "video/mp4",
}
_ZIP_FAMILY = {
    "application/zip",
    "application/epub+zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
}
_ISO_BMFF = {"video/mp4", "video/quicktime", "audio/mp4", "video/x-m4v", "video/3gpp"}
_MP4_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_MP4_VIDEO_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
    b"M4V ", b"M4VH", b"M4VP", b"MSNV", b"dash", b"mmp4", b"NDAS", b"F4V ", b"f4v ",
}  # fmt: skip
_MARKUP_STARTS = ("<!doctype", "<html", "<?xml", "<svg", "<head", "<body", "<script", "<!--")
_MARKUP_ANYWHERE = ("<script", "<html", "<svg", "<iframe", "<object", "<embed", "javascript:")
_TEXT_CONTROLS_OK = {"\t", "\n", "\r", "\f"}


def detect_type(path: Path) -> FileType | None:
    """What the file at `path` is, from its bytes; None for anything not on the allowlist."""
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head:
        return None
    guessed = filetype.guess(head)
    mime: str | None = guessed.mime if guessed is not None else None
    if mime is None and head[4:8] == b"ftyp":
        mime = "video/mp4"  # an ISO-BMFF brand filetype does not know; decided below
    if mime in _ISO_BMFF:
        mime = _mp4_family(head)
    elif mime == "video/webm":
        mime = _webm_kind(head)
    elif mime in _ZIP_FAMILY:
        mime = _zip_kind(path)
    elif mime is None:
        mime = _text_kind(path, head)
    if mime is None:
        return None
    return ALLOWED_TYPES.get(_FILETYPE_ALIASES.get(mime, mime))


def _mp4_family(head: bytes) -> str | None:
    """ISO base media files by their brands: QuickTime, audio-only MP4 (m4a), or MP4 video."""
    if head[4:8] != b"ftyp":
        return None
    box_size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, min(box_size, len(head)) - 3, 4)}
    if major == b"qt  ":
        return "video/quicktime"
    if major in _MP4_AUDIO_BRANDS:
        return "audio/mp4"
    if major in _MP4_VIDEO_BRANDS or compatible & _MP4_VIDEO_BRANDS:
        return "video/mp4"
    return None  # HEIC, AVIF, 3GP, CR3, ...: not on the list


def _webm_kind(head: bytes) -> str:
    """WebM with no video track is audio (Matroska CodecIDs are plain ASCII: V_VP9, A_OPUS)."""
    if any(codec in head for codec in (b"V_VP8", b"V_VP9", b"V_AV1", b"V_MPEG4")):
        return "video/webm"
    if any(codec in head for codec in (b"A_OPUS", b"A_VORBIS")):
        return "audio/webm"
    return "video/webm"


def _zip_kind(path: Path) -> str | None:
    """A zip by its members: Office Open XML, OpenDocument, EPUB, or a plain archive.

    Macro-enabled Office files are refused: they are how documents carry malware.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if "[Content_Types].xml" in names:
                with zf.open("[Content_Types].xml") as fh:
                    content_types = fh.read(1 << 20)
                if b"macroEnabled" in content_types or any(
                    n.lower().endswith("vbaproject.bin") for n in names
                ):
                    return None
                prefixes = {n.split("/", 1)[0] for n in names if "/" in n}
                if "word" in prefixes:
                    return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                if "xl" in prefixes:
                    return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                if "ppt" in prefixes:
                    return (
                        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
                    )
            if names and names[0] == "mimetype":
                with zf.open("mimetype") as fh:
                    declared = fh.read(100).decode("ascii", "replace").strip()
                if declared in ALLOWED_TYPES:
                    return declared
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, KeyError, RuntimeError):
        return None
    return "application/zip"


def _text_kind(path: Path, head: bytes) -> str | None:
    """UTF-8 text without control characters or markup: text/csv when it is a table."""
    if b"\x00" in head:
        return None
    sample = _decode_text(head, final=False)
    if sample is None:
        return None
    stripped = sample.lstrip("\ufeff \t\r\n").lower()
    if stripped.startswith(_MARKUP_STARTS) or any(m in stripped for m in _MARKUP_ANYWHERE):
        return None  # HTML, SVG, XML: pages and scripts are not shared as files here
    if not _all_text(path):
        return None
    return "text/csv" if _looks_like_csv(sample) else "text/plain"


def _decode_text(data: bytes, *, final: bool) -> str | None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(data, final=final)
    except UnicodeDecodeError:
        return None
    bad = any(unicodedata.category(ch) == "Cc" and ch not in _TEXT_CONTROLS_OK for ch in set(text))
    return None if bad else text


def _all_text(path: Path) -> bool:
    """The whole file is valid UTF-8 with no NUL or stray control characters."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError:
                return False
            if any(
                unicodedata.category(ch) == "Cc" and ch not in _TEXT_CONTROLS_OK for ch in set(text)
            ):
                return False
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _looks_like_csv(sample: str) -> bool:
    lines = [ln for ln in sample.splitlines()[:-1] if ln.strip()][:20]
    if len(lines) < 2:
        lines = [ln for ln in sample.splitlines() if ln.strip()][:20]
    if len(lines) < 2:
        return False
    for delimiter in (",", ";", "\t"):
        try:
            widths = {len(row) for row in csv.reader(lines, delimiter=delimiter)}
        except csv.Error:
            continue
        if len(widths) == 1 and widths.pop() >= 2:
            return True
    return False


# --- names ------------------------------------------------------------------------------


def clean_filename(raw: str | None, file_type: FileType) -> str:
    """A display/download name: no path parts, no control or bidi-override characters,
    at most MAX_FILENAME_CHARS, and an extension that matches the real type."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    name = " ".join(name.split()).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if dot and f".{ext.lower()}" in file_type.extensions:
        base, suffix = stem, f".{ext}"
    else:
        # "invoice.pdf.exe" stays readable, but what the OS opens is what the bytes are.
        base, suffix = name, file_type.extensions[0]
    base = base[: MAX_FILENAME_CHARS - len(suffix)].rstrip(" .") or "file"
    return base + suffix


# --- images -----------------------------------------------------------------------------


class ImageTooLarge(Exception):
    pass


class InvalidImage(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ImageInfo:
    width: int
    height: int
    thumbnail: bytes


_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}


def process_image(path: Path, mime: str) -> ImageInfo:
    """Check an image, strip its metadata in place and make a thumbnail (blocking).

    JPEG, PNG and WebP are re-encoded with the EXIF orientation applied and no EXIF,
    XMP or comments, so a photo's GPS position does not reach other users. GIF carries
    no EXIF and is kept as is. Raises ImageTooLarge (decompression bombs) or InvalidImage.
    """
    fmt = _PIL_FORMATS[mime]
    try:
        with Image.open(path, formats=[fmt]) as im:
            frames = int(getattr(im, "n_frames", 1))
            pixels = im.width * im.height
            if pixels > MAX_IMAGE_PIXELS or pixels * frames > MAX_ANIMATION_PIXELS:
                raise ImageTooLarge
            if getattr(im, "is_animated", False):
                if fmt != "GIF":
                    _rewrite(path, lambda out: _save_clean(im, out, fmt, save_all=True))
                im.seek(0)
            else:
                # In place: one full-size copy of the pixels, not two.
                ImageOps.exif_transpose(im, in_place=True)
                if fmt != "GIF":
                    _rewrite(path, lambda out: _save_clean(im, out, fmt))
            width, height = im.size
            return ImageInfo(width=width, height=height, thumbnail=_thumbnail(im))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImage(str(exc)) from exc


def image_slots() -> asyncio.Semaphore:
    """The running loop's limit on concurrent image processing."""
    loop = asyncio.get_running_loop()
    slots = _image_slots.get(loop)
    if slots is None:
        slots = _image_slots[loop] = asyncio.Semaphore(IMAGE_SLOTS)
    return slots


def _save_clean(
    im: Image.Image, out: io.BufferedWriter, fmt: str, *, save_all: bool = False
) -> None:
    options: dict[str, object] = {"exif": b"", "xmp": b""}
    icc = im.info.get("icc_profile")
    if icc:
        options["icc_profile"] = icc  # colour, not identity: keep it so colours stay right
    if fmt == "JPEG":
        options.update(quality=90, comment=b"")
    elif fmt == "WEBP":
        options.update(quality=90, method=4)
    if save_all:
        options["save_all"] = True
    im.save(out, format=fmt, **options)


def _rewrite(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    """Replace `path` atomically with what `write` produces."""
    temp = path.with_name(path.name + ".clean")
    try:
        with temp.open("wb") as out:
            write(out)
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _thumbnail(image: Image.Image) -> bytes:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    target = "RGBA" if has_alpha else "RGB"
    if image.mode in ("P", "1"):
        image = image.convert(target)  # palette images resize only with NEAREST
    scale = min(1.0, THUMBNAIL_BOX[0] / image.width, THUMBNAIL_BOX[1] / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # resize() makes the small image directly (no full-size copy first); reducing_gap
    # shrinks by whole factors before the Lanczos pass, which is much faster.
    thumb = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    thumb = thumb.convert(target)
    buf = io.BytesIO()
    thumb.save(buf, format="WEBP", quality=80, method=4)  # a fresh image: no metadata at all
    return buf.getvalue()


# --- signed URLs ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaSigner:
    """Signs and checks the expiring media URLs handed to clients.

    Expiry is rounded up to a step, so the same file gets the same URL for a while and
    browsers can cache it; a URL stays valid between `ttl_seconds` and `ttl + step`.
    """

    key: str
    ttl_seconds: int
    path_prefix: str = "/api/v1/media"

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaSigner:
        return cls(key=settings.signing_key, ttl_seconds=settings.media_url_ttl_seconds)

    @property
    def step(self) -> int:
        return max(1, min(self.ttl_seconds // 4, 3600))

    def expiry(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return (int(now) + self.ttl_seconds) // self.step * self.step + self.step

    def _payload(self, media_id: uuid.UUID, variant: Variant, exp: int) -> str:
        return f"media:{media_id}:{variant}:{exp}"

    def signature(self, media_id: uuid.UUID, variant: Variant, exp: int) -> str:
        return security.sign(self._payload(media_id, variant, exp), key=self.key)

    def url(
        self, media_id: uuid.UUID, variant: Variant = "original", *, now: float | None = None
    ) -> str:
        exp = self.expiry(now)
        path = f"{self.path_prefix}/{media_id}"
        if variant == "thumbnail":
            path += "/thumbnail"
        query = urlencode({"exp": exp, "sig": self.signature(media_id, variant, exp)})
        return f"{path}?{query}"

    def verify(
        self,
        media_id: uuid.UUID,
        variant: Variant,
        *,
        exp: int,
        sig: str,
        now: float | None = None,
    ) -> bool:
        now = time.time() if now is None else now
        if exp < now:
            return False
        return security.signature_matches(self._payload(media_id, variant, exp), sig, key=self.key)


def to_read(media: Media, *, signer: MediaSigner) -> MediaRead:
    """The API view of a file, with freshly signed links."""
    return MediaRead(
        id=media.id,
        filename=media.filename,
        content_type=media.content_type,
        size=media.size,
        width=media.width,
        height=media.height,
        url=signer.url(media.id),
        thumbnail_url=signer.url(media.id, "thumbnail") if media.thumbnail_key else None,
        created_at=media.created_at,
    )


# --- storage binding --------------------------------------------------------------------


def bind_storage(sessionmaker: async_sessionmaker[AsyncSession], storage: MediaStorage) -> None:
    """Make `storage` reachable from every session (services that only get a unit of work,
    like detach_for_deleted_message, delete files through it after commit)."""
    sessionmaker.configure(info={_STORAGE_INFO_KEY: storage})


def storage_of(uow: UnitOfWork) -> MediaStorage:
    storage = uow.session.info.get(_STORAGE_INFO_KEY)
    if storage is None:
        raise RuntimeError("no media storage is bound to this session (see bind_storage)")
    result: MediaStorage = storage
    return result


# --- uploads ----------------------------------------------------------------------------


async def create_from_upload(
    uow: UnitOfWork,
    storage: MediaStorage,
    *,
    uploader_id: uuid.UUID,
    temp: Path,
    filename: str | None,
) -> Media:
    """Turn a fully received temporary file into a stored Media row (not yet committed).

    The temporary file is consumed: moved into place, or deleted when refused. When
    the row is not committed after all, call `discard(storage, media)`.
    """
    try:
        file_type = await asyncio.to_thread(detect_type, temp)
        if file_type is None:
            raise UnsupportedMediaType(
                "This type of file cannot be shared. Images (JPEG, PNG, GIF, WebP), video "
                "(MP4, WebM, QuickTime), audio (MP3, Ogg, WAV, WebM, M4A), PDF, text, CSV, "
                "Office documents and zip/7z/gz archives can.",
                code="unsupported_media_type",
            )
        info: ImageInfo | None = None
        if file_type.kind == "image":
            try:
                async with image_slots():
                    info = await asyncio.to_thread(process_image, temp, file_type.mime)
            except ImageTooLarge as exc:
                raise Unprocessable(
                    f"The image has too many pixels (at most {MAX_IMAGE_PIXELS:,}); "
                    "scale it down and upload it again.",
                    code="image_too_large",
                ) from exc
            except InvalidImage as exc:
                raise Unprocessable(
                    "The image could not be read; it may be damaged.", code="invalid_image"
                ) from exc
        size = (await asyncio.to_thread(temp.stat)).st_size
        thumbnail_key = await storage.put_bytes(info.thumbnail) if info else None
        try:
            key = await storage.commit_temp(temp)
        except BaseException:
            await storage.delete(thumbnail_key)
            raise
    except BaseException:
        await storage.discard_temp(temp)
        raise
    media = Media(
        uploader_id=uploader_id,
        filename=clean_filename(filename, file_type),
        content_type=file_type.mime,
        size=size,
        width=info.width if info else None,
        height=info.height if info else None,
        storage_key=key,
        thumbnail_key=thumbnail_key,
    )
    uow.session.add(media)
    return media


async def discard(storage: MediaStorage, media: Media) -> None:
    """Delete the files of a Media row that was never committed."""
    await storage.delete(media.storage_key, media.thumbnail_key)


# --- visibility -------------------------------------------------------------------------


async def can_view(uow: UnitOfWork, *, media: Media, user_id: uuid.UUID) -> bool:
    """The uploader, or a member of the conversation whose live message carries the file."""
    if media.uploader_id == user_id:
        return True
    if media.message_id is None:
        return False
    stmt = (
        select(col(Member.user_id))
        .join(Message, col(Message.conversation_id) == col(Member.conversation_id))
        .where(
            col(Message.id) == media.message_id,
            col(Message.deleted_at).is_(None),
            col(Member.user_id) == user_id,
        )
        .limit(1)
    )
    return (await uow.session.execute(stmt)).first() is not None


def _not_found() -> NotFound:
    return NotFound("No such file, or it is not shared with you.", code="media_not_found")


@dataclass(frozen=True, slots=True)
class Download:
    """What to send for a media request: which stored bytes, typed and named how."""

    media_id: uuid.UUID
    variant: Variant
    key: str
    size: int
    content_type: str
    filename: str
    inline: bool


async def open_download(
    uow: UnitOfWork,
    storage: MediaStorage,
    *,
    media_id: uuid.UUID,
    variant: Variant,
    viewer_id: uuid.UUID | None,
) -> Download:
    """The stored file behind a media link; 404 when it does not exist or is not visible.

    `viewer_id` None means the caller holds a valid signed URL for this file and variant.
    """
    media = await uow.session.get(Media, media_id)
    if media is None:
        raise _not_found()
    if viewer_id is not None and not await can_view(uow, media=media, user_id=viewer_id):
        raise _not_found()
    if variant == "thumbnail":
        if not media.thumbnail_key:
            raise NotFound("This file has no thumbnail.", code="media_not_found")
        key, content_type = media.thumbnail_key, THUMBNAIL_TYPE
        stem = media.filename.rsplit(".", 1)[0]
        filename = f"{stem}.thumbnail.webp"
    else:
        key, content_type, filename = media.storage_key, media.content_type, media.filename
    size = await storage.size(key)
    if size is None:
        raise _not_found()
    file_type = ALLOWED_TYPES.get(content_type)
    return Download(
        media_id=media.id,
        variant=variant,
        key=key,
        size=size,
        content_type=content_type,
        filename=filename,
        inline=file_type is not None and file_type.inline,
    )


# --- attachments ------------------------------------------------------------------------


async def attach(
    uow: UnitOfWork,
    *,
    owner_id: uuid.UUID,
    message_id: uuid.UUID,
    attachment_ids: list[uuid.UUID],
) -> list[Media]:
    """Attach the owner's unattached uploads to a message, in the order given.

    Each link is a conditional update (still unattached, still the owner's), so two
    messages racing for one upload cannot both get it.
    """
    if not attachment_ids:
        return []
    if len(set(attachment_ids)) != len(attachment_ids):
        raise Unprocessable("An upload can be attached only once.", code="invalid_attachment")
    await uow.session.flush()  # the message row must exist before rows point at it
    for position, media_id in enumerate(attachment_ids):
        linked = await uow.session.execute(
            update(Media)
            .where(
                col(Media.id) == media_id,
                col(Media.uploader_id) == owner_id,
                col(Media.message_id).is_(None),
            )
            .values(message_id=message_id, position=position)
            .returning(col(Media.id))
            .execution_options(synchronize_session=False)
        )
        if linked.first() is None:
            raise Unprocessable(
                f"Attachment {media_id} does not exist, is not your upload, or is already "
                "attached to a message. Upload the file again.",
                code="invalid_attachment",
            )
    rows = (
        await uow.session.scalars(
            select(Media)
            .where(col(Media.id).in_(attachment_ids))
            .execution_options(populate_existing=True)
        )
    ).all()
    by_id = {m.id: m for m in rows}
    return [by_id[i] for i in attachment_ids]


async def attachments_for(
    uow: UnitOfWork, *, message_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Media]]:
    """Each message's attachments in order, in one query (every id present in the result)."""
    found: dict[uuid.UUID, list[Media]] = {mid: [] for mid in message_ids}
    if not message_ids:
        return found
    rows = await uow.session.scalars(
        select(Media)
        .where(col(Media.message_id).in_(list(set(message_ids))))
        .order_by(col(Media.message_id), col(Media.position))
    )
    for media in rows:
        assert media.message_id is not None
        found[media.message_id].append(media)
    return found


async def detach_for_deleted_message(
    uow: UnitOfWork, *, message_id: uuid.UUID, storage: MediaStorage | None = None
) -> None:
    """Delete a deleted message's files: the rows now, the bytes once the delete commits."""
    storage = storage or storage_of(uow)
    result = await uow.session.execute(
        delete(Media)
        .where(col(Media.message_id) == message_id)
        .returning(col(Media.storage_key), col(Media.thumbnail_key))
        .execution_options(synchronize_session=False)
    )
    keys = [key for row in result.all() for key in row if key]
    if keys:
        uow.after_commit(functools.partial(storage.delete, *keys))


# --- orphan cleanup ---------------------------------------------------------------------


async def delete_orphans(
    uow: UnitOfWork, storage: MediaStorage, *, older_than: datetime, limit: int = 500
) -> int:
    """Delete up to `limit` uploads never attached and created before `older_than`.

    The files go once the unit of work commits. Returns how many rows were deleted.
    """
    ids = (
        await uow.session.scalars(
            select(col(Media.id))
            .where(col(Media.message_id).is_(None), col(Media.created_at) < older_than)
            .limit(limit)
        )
    ).all()
    if not ids:
        return 0
    result = await uow.session.execute(
        delete(Media)
        .where(col(Media.id).in_(ids), col(Media.message_id).is_(None))
        .returning(col(Media.storage_key), col(Media.thumbnail_key))
        .execution_options(synchronize_session=False)
    )
    rows = result.all()
    keys = [key for row in rows for key in row if key]
    if keys:
        uow.after_commit(functools.partial(storage.delete, *keys))
    return len(rows)


async def cleanup_orphans(
    new_uow: Callable[[], UnitOfWork],
    storage: MediaStorage,
    *,
    grace_seconds: float,
    now: datetime | None = None,
) -> int:
    """Remove every upload not attached within the grace period, and stale temp files."""
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=grace_seconds)
    total = 0
    while True:
        async with new_uow() as uow:
            deleted = await delete_orphans(uow, storage, older_than=cutoff)
            await uow.commit()
        total += deleted
        if deleted < 500:
            break
    await storage.sweep_temp(older_than_seconds=grace_seconds)
    if total:
        log.info("deleted %d unattached uploads", total)
    return total


class OrphanCleanup:
    """Owns the background task that runs cleanup_orphans periodically; stop() cancels it."""

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        storage: MediaStorage,
        *,
        grace_seconds: float,
        interval_seconds: float | None = None,
    ) -> None:
        self._new_uow = new_uow
        self._storage = storage
        self._grace = grace_seconds
        self._interval = interval_seconds or max(60.0, min(3600.0, grace_seconds / 2))
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="media-orphan-cleanup")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await cleanup_orphans(self._new_uow, self._storage, grace_seconds=self._grace)
            except Exception:
                log.exception("media orphan cleanup failed; retrying next round")
