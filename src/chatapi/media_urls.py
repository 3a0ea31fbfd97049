"""Signed, expiring media URLs: `<img src>` works without an Authorization header, and a
link stops working after its expiry."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from chatapi import security
from chatapi.settings import Settings

Variant = Literal["original", "thumbnail"]


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
