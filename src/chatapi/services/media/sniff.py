"""What a file is, decided from its bytes against an allowlist, never from the name or
Content-Type the client sent; and the name it is stored under.

Blocking: called in a worker thread, a few at a time (`inspection_slots`). Memory stays
bounded whatever the file: text is scanned in chunks, and a zip's central directory is
read only when its end record says it is small (`_zip_directory`).
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import logging
import struct
import unicodedata
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import filetype

log = logging.getLogger(__name__)

Kind = Literal["image", "video", "audio", "document", "archive"]

MAX_FILENAME_CHARS = 200
_SNIFF_BYTES = 8192
# A zip is looked into (Office, OpenDocument, EPUB?) only when its central directory has
# at most this many entries and bytes; a larger one is a plain archive, never indexed
# (zipfile builds an object per entry: 600,000 empty entries are ~300 MB of memory).
# Real documents have tens to a few thousand entries.
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_DIRECTORY_BYTES = 1 << 20
# Files inspected at once (each can hold a zip index of up to the bounds above).
INSPECTION_SLOTS = 2
_inspection_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def inspection_slots() -> asyncio.Semaphore:
    """The running loop's limit on concurrent `detect_type` calls."""
    loop = asyncio.get_running_loop()
    slots = _inspection_slots.get(loop)
    if slots is None:
        slots = _inspection_slots[loop] = asyncio.Semaphore(INSPECTION_SLOTS)
    return slots


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
_MARKER_CARRY = max(len(m) for m in _MARKUP_ANYWHERE) - 1
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


# The end of central directory record (and its ZIP64 locator and record), APPNOTE 4.3.
_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_EOCD_SEARCH = _EOCD.size + 0xFFFF  # the record, then a comment of up to 64 KiB


def zip_directory(path: Path) -> tuple[int, int] | None:
    """(entries, bytes) of a zip's central directory, from its end record alone — no
    entry is read. None when there is no end record (not a zip, or a damaged one)."""
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        start = max(0, size - _EOCD_SEARCH)
        fh.seek(start)
        tail = fh.read()
        # Found as zipfile finds it (so it reads the directory this one describes): a
        # record with no comment at the very end, else the last signature in the tail.
        at = len(tail) - _EOCD.size
        if not (tail[at : at + 4] == b"PK\x05\x06" and tail.endswith(b"\x00\x00")):
            at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _EOCD.size:
            return None
        _sig, _disk, _cd_disk, _here, entries, cd_size, _cd_offset, _comment = _EOCD.unpack_from(
            tail, at
        )
        # ZIP64: a locator just before the end record points at the record that counts
        # (zipfile uses it whenever it is there, whatever the end record says).
        locator_at = at - _EOCD64_LOCATOR.size
        if locator_at < 0 or tail[locator_at : locator_at + 4] != b"PK\x06\x07":
            return entries, cd_size
        _sig, _disk64, record_at, _disks = _EOCD64_LOCATOR.unpack_from(tail, locator_at)
        if record_at + _EOCD64.size > size:
            return None
        fh.seek(record_at)
        record = fh.read(_EOCD64.size)
        if len(record) < _EOCD64.size or record[:4] != b"PK\x06\x06":
            return None
        fields = _EOCD64.unpack(record)
        return fields[7], fields[8]  # total entries, directory size


def _zip_kind(path: Path) -> str | None:
    """A zip by its members: Office Open XML, OpenDocument, EPUB, or a plain archive.

    Macro-enabled Office files are refused: they are how documents carry malware. A zip
    whose directory is over MAX_ZIP_ENTRIES / MAX_ZIP_DIRECTORY_BYTES is a plain archive,
    decided without reading the directory (zipfile reads all of it, whatever the count
    says).
    """
    try:
        directory = zip_directory(path)
    except OSError:
        return None
    if directory is None:
        return None
    entries, directory_bytes = directory
    if entries > MAX_ZIP_ENTRIES or directory_bytes > MAX_ZIP_DIRECTORY_BYTES:
        return "application/zip"
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
    if stripped.startswith(_MARKUP_STARTS):
        return None  # HTML, SVG, XML: pages and scripts are not shared as files here
    if not _all_plain_text(path):
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


def _all_plain_text(path: Path) -> bool:
    """The whole file is valid UTF-8 with no NUL or stray control characters, and no
    markup anywhere (a script after the first 8 KB is still a script). Read in chunks:
    memory stays bounded whatever the file's size."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    carry = ""  # the end of the previous chunk, for a marker split across two chunks
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
            window = carry + text.lower()
            if any(marker in window for marker in _MARKUP_ANYWHERE):
                return False
            carry = window[-_MARKER_CARRY:]
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
