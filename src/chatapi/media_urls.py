"""Signed, expiring media URLs, each for one viewer: `<img src>` works without an
Authorization header, a link stops working after its expiry, and at once when its viewer
may no longer see the file (the fetch checks the viewer's membership).

A URL carries `exp`, the viewer's id `v` and `sig`, an HMAC over the file, the variant,
`exp` and `v`: a link cannot be moved to another file, variant or person. Frames that
go to every member of a conversation are serialized once with links signed for nobody
(which no fetch accepts); each process's hub signs them for each recipient
(`personalize`) as it hands the frame to that recipient's sockets.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import re
import time
import uuid
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from chatapi import security
from chatapi.settings import Settings

Variant = Literal["original", "thumbnail"]

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@functools.cache
def _link_pattern(path_prefix: str) -> re.Pattern[str]:
    # A media link as a JSON field of a serialized model: `"url":"<link>"`. A message
    # body cannot contain one (its quotes are escaped), so only real links match.
    return re.compile(
        r'"(url|thumbnail_url)":"' + re.escape(path_prefix) + "/(" + _UUID + r")(/thumbnail)?"
        r'\?exp=(\d+)(?:&v=[0-9a-f]{32})?&sig=[0-9a-f]{64}"'
    )


@dataclass(frozen=True, slots=True)
class MediaSigner:
    """Signs and checks the expiring media URLs handed to clients, for `viewer`.

    Expiry is rounded up to a step, so a viewer gets the same URL for a file for a while
    and browsers can cache it; a URL stays valid between `ttl_seconds` and `ttl + step`.
    """

    key: str
    ttl_seconds: int
    path_prefix: str = "/api/v1/media"
    # Profile pictures: `<avatar_prefix>/<user id>/avatar[/thumbnail]`.
    avatar_prefix: str = "/api/v1/users"
    # Whom the links are for; None: links for nobody (broadcast frames, see above).
    viewer: uuid.UUID | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaSigner:
        return cls(key=settings.signing_key, ttl_seconds=settings.media_url_ttl_seconds)

    def for_viewer(self, viewer: uuid.UUID) -> MediaSigner:
        """This signer, making links for `viewer`."""
        return dataclasses.replace(self, viewer=viewer)

    @property
    def step(self) -> int:
        return max(1, min(self.ttl_seconds // 4, 3600))

    def expiry(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return (int(now) + self.ttl_seconds) // self.step * self.step + self.step

    def _payload(
        self, media_id: uuid.UUID, variant: Variant, exp: int, viewer: uuid.UUID | None
    ) -> str:
        base = f"media:{media_id}:{variant}:{exp}"
        return base if viewer is None else f"{base}:{viewer.hex}"

    def signature(
        self, media_id: uuid.UUID, variant: Variant, exp: int, viewer: uuid.UUID | None = None
    ) -> str:
        return security.sign(self._payload(media_id, variant, exp, viewer), key=self.key)

    def url(
        self, media_id: uuid.UUID, variant: Variant = "original", *, now: float | None = None
    ) -> str:
        return self._url(media_id, variant, self.expiry(now))

    def _url(self, media_id: uuid.UUID, variant: Variant, exp: int) -> str:
        path = f"{self.path_prefix}/{media_id}"
        if variant == "thumbnail":
            path += "/thumbnail"
        params: dict[str, str | int] = {"exp": exp}
        if self.viewer is not None:
            params["v"] = self.viewer.hex
        params["sig"] = self.signature(media_id, variant, exp, self.viewer)
        return f"{path}?{urlencode(params)}"

    def personalize(self, text: str, viewer: uuid.UUID) -> str:
        """A serialized frame with every media link in it signed for `viewer` (same
        expiry): what the hub hands to that viewer's sockets. The hot path of a frame
        with files, once per recipient: it builds exactly what `url` would, from the
        matched text, without parsing it."""
        v = viewer.hex
        key = self.key.encode()
        prefix = self.path_prefix

        def sign(match: re.Match[str]) -> str:
            field, media_id, thumbnail, exp = match.groups()
            variant = "thumbnail" if thumbnail else "original"
            payload = f"media:{media_id}:{variant}:{exp}:{v}".encode()
            sig = hmac.new(key, payload, hashlib.sha256).hexdigest()
            return f'"{field}":"{prefix}/{media_id}{thumbnail or ""}?exp={exp}&v={v}&sig={sig}"'

        return _link_pattern(prefix).sub(sign, text)

    # --- profile pictures -------------------------------------------------------------
    # Anyone signed in may see anyone's picture (as they may look anyone up), so an
    # avatar link is for no viewer in particular: it covers the user, the picture's
    # version, the variant and `exp`. The same link goes to everyone (frames are
    # serialized once), and it stops working when the picture is replaced or removed.

    def avatar_url(
        self, user_id: uuid.UUID, version: int, variant: Variant, *, now: float | None = None
    ) -> str:
        exp = self.expiry(now)
        path = f"{self.avatar_prefix}/{user_id}/avatar"
        if variant == "thumbnail":
            path += "/thumbnail"
        sig = security.sign(_avatar_payload(user_id, version, variant, exp), key=self.key)
        return f"{path}?{urlencode({'version': version, 'exp': exp, 'sig': sig})}"

    def verify_avatar(
        self,
        user_id: uuid.UUID,
        version: int,
        variant: Variant,
        *,
        exp: int,
        sig: str,
        now: float | None = None,
    ) -> bool:
        now = time.time() if now is None else now
        if exp < now:
            return False
        payload = _avatar_payload(user_id, version, variant, exp)
        return security.signature_matches(payload, sig, key=self.key)

    def verify(
        self,
        media_id: uuid.UUID,
        variant: Variant,
        *,
        exp: int,
        sig: str,
        viewer: uuid.UUID | None = None,
        now: float | None = None,
    ) -> bool:
        now = time.time() if now is None else now
        if exp < now:
            return False
        payload = self._payload(media_id, variant, exp, viewer)
        return security.signature_matches(payload, sig, key=self.key)


def _avatar_payload(user_id: uuid.UUID, version: int, variant: Variant, exp: int) -> str:
    # Its own prefix: a media signature can never pass for an avatar one, nor back.
    return f"avatar:{user_id}:{variant}:{version}:{exp}"
