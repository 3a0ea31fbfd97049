"""Images: re-encoded without metadata (EXIF GPS and friends), bounded in pixels, with a
small WebP thumbnail. Blocking: called in a worker thread, a few at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

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

    Every image is re-encoded with the EXIF orientation applied and no EXIF, XMP or
    comments, so a photo's GPS position does not reach other users, and nothing but
    pixels survives: a GIF keeps its frames, their durations and its loop count, and
    loses its comments and application extensions (where script polyglots hide).
    Raises ImageTooLarge (decompression bombs), InvalidImage, or OSError when the
    cleaned file cannot be written.
    """
    fmt = _PIL_FORMATS[mime]
    try:
        with Image.open(path, formats=[fmt]) as im:
            frames = int(getattr(im, "n_frames", 1))
            pixels = im.width * im.height
            if pixels > MAX_IMAGE_PIXELS or pixels * frames > MAX_ANIMATION_PIXELS:
                raise ImageTooLarge
            if getattr(im, "is_animated", False):
                _rewrite(path, lambda out: _save_clean(im, out, fmt, save_all=True))
                im.seek(0)
            else:
                # In place: one full-size copy of the pixels, not two.
                ImageOps.exif_transpose(im, in_place=True)
                _rewrite(path, lambda out: _save_clean(im, out, fmt))
            width, height = im.size
            return ImageInfo(width=width, height=height, thumbnail=_thumbnail(im))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge from exc
    except _WriteFailed as exc:
        raise exc.error from None  # the disk, not the image: the caller's problem
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
    elif fmt == "GIF":
        # Only what animates: frame durations and disposal come from each frame, the
        # loop count is kept; comments and application extensions are not written.
        options["comment"] = b""
        if "loop" in im.info:
            options["loop"] = im.info["loop"]
    if save_all:
        options["save_all"] = True
    im.save(out, format=fmt, **options)


class _WriteFailed(Exception):
    """Writing the cleaned image failed (a full disk): `error` says why."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def _rewrite(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    """Replace `path` atomically with what `write` produces."""
    temp = path.with_name(path.name + ".clean")
    try:
        try:
            out = temp.open("wb")
        except OSError as exc:
            raise _WriteFailed(exc) from exc
        with out:
            try:
                write(out)
            except OSError as exc:
                if exc.errno is None:  # Pillow's "cannot write mode ..." and friends
                    raise
                raise _WriteFailed(exc) from exc
        try:
            os.replace(temp, path)
        except OSError as exc:
            raise _WriteFailed(exc) from exc
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


# --- profile pictures -------------------------------------------------------------------

AVATAR_SIZE = 256
AVATAR_THUMB_SIZE = 64
AVATAR_TYPE = "image/webp"


class InvalidCrop(Exception):
    """The crop square is not inside the image: `size` says how large the image is."""

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__(f"{size[0]}x{size[1]}")
        self.size = size


@dataclass(frozen=True, slots=True)
class Crop:
    """A square of the image as displayed (EXIF orientation applied): its top-left
    corner and its side, in pixels."""

    x: int
    y: int
    size: int


@dataclass(frozen=True, slots=True)
class Avatar:
    picture: bytes  # AVATAR_SIZE square, WebP
    thumbnail: bytes  # AVATAR_THUMB_SIZE square, WebP


def make_avatar(path: Path, mime: str, crop: Crop | None) -> Avatar:
    """A square profile picture and its thumbnail from an image (blocking).

    The first frame of an animation, turned as the camera meant (EXIF orientation), cut
    to `crop` (default: the largest centred square) and resized to AVATAR_SIZE and
    AVATAR_THUMB_SIZE. Both are fresh WebP images, so no metadata of the upload survives.
    Raises ImageTooLarge, InvalidImage or InvalidCrop.
    """
    fmt = _PIL_FORMATS[mime]
    try:
        with Image.open(path, formats=[fmt]) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise ImageTooLarge
            im.seek(0)
            upright = ImageOps.exif_transpose(im)
            width, height = upright.size
            box = crop or _centred_square(width, height)
            if (
                box.size < 1
                or box.x < 0
                or box.y < 0
                or box.x + box.size > width
                or box.y + box.size > height
            ):
                raise InvalidCrop((width, height))
            square = upright.crop((box.x, box.y, box.x + box.size, box.y + box.size))
            return Avatar(
                picture=_square_webp(square, AVATAR_SIZE),
                thumbnail=_square_webp(square, AVATAR_THUMB_SIZE),
            )
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImage(str(exc)) from exc


def _centred_square(width: int, height: int) -> Crop:
    side = min(width, height)
    return Crop(x=(width - side) // 2, y=(height - side) // 2, size=side)


def _square_webp(image: Image.Image, side: int) -> bytes:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    target = "RGBA" if has_alpha else "RGB"
    if image.mode != target:
        image = image.convert(target)
    resized = image.resize((side, side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    buf = io.BytesIO()
    resized.save(buf, format="WEBP", quality=85, method=4)
    return buf.getvalue()
