"""Web Push, the application server's half: the VAPID key and its signed claims (RFC 8292,
py-vapid), the payload's encryption (RFC 8291, `aes128gcm` of RFC 8188, http_ece), and the
POST to the push service (RFC 8030) over httpx2, asynchronously.

pywebpush puts the same two libraries together, but sends with `requests` (blocking) or
aiohttp (not a dependency of ours); the request itself is small enough to write here.
Who gets which push, and what a push says, is decided in `services/push.py`.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import http_ece
import httpx2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from chatapi.schemas import b64url_decode

# A VAPID token is valid for 12 hours (RFC 8292 allows up to 24) and signed again after 6.
TOKEN_TTL_SECONDS = 12 * 3600
TOKEN_REUSE_SECONDS = 6 * 3600

Urgency = Literal["very-low", "low", "normal", "high"]


class VapidKeyError(ValueError):
    """VAPID_PRIVATE_KEY is neither a PEM private key nor a 32-byte base64url raw key."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL: the `aud` of the VAPID claims for its push service."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class VapidKey:
    """The server's VAPID key pair: its public key for `applicationServerKey`, and the
    `Authorization: vapid t=…, k=…` header for a push service (one token per push
    service origin, reused for a while)."""

    def __init__(self, key_text: str, subject: str) -> None:
        text = key_text.strip()
        try:
            if text.startswith("-----BEGIN"):
                vapid = Vapid02.from_pem(text.encode())
            else:
                raw = b64url_decode(text)
                if len(raw) != 32:
                    raise ValueError(f"the raw key is 32 bytes, this one {len(raw)}")
                vapid = Vapid02.from_raw(text.encode())
        except Exception as exc:  # py-vapid raises whatever its parsers raise
            raise VapidKeyError(
                "VAPID_PRIVATE_KEY must be a P-256 private key: PEM, or its 32 raw bytes in "
                f"base64url (`chatapi vapid-key` prints a new one): {exc}"
            ) from exc
        self._vapid = vapid
        self.subject = subject
        point = vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.public_key = b64url(point)
        self._tokens: dict[str, tuple[float, str]] = {}

    def authorization(self, endpoint: str, *, now: float | None = None) -> str:
        """The Authorization header for a push to `endpoint`."""
        audience = origin_of(endpoint)
        now = time.time() if now is None else now
        cached = self._tokens.get(audience)
        if cached is not None and now - cached[0] < TOKEN_REUSE_SECONDS:
            return cached[1]
        claims = {"aud": audience, "exp": int(now) + TOKEN_TTL_SECONDS, "sub": self.subject}
        header = str(self._vapid.sign(claims)["Authorization"])
        if len(self._tokens) > 1000:  # push services are few; bound it anyway
            self._tokens.clear()
        self._tokens[audience] = (now, header)
        return header


def encrypt(payload: bytes, *, p256dh: str, auth: str) -> bytes:
    """The payload encrypted for one subscription (RFC 8291, aes128gcm): a new ephemeral
    key pair and salt each time; the body's header carries the salt and our public key."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    return bytes(
        http_ece.encrypt(
            payload,
            salt=os.urandom(16),
            private_key=ephemeral,
            dh=b64url_decode(p256dh),
            auth_secret=b64url_decode(auth),
            version="aes128gcm",
        )
    )


@dataclass(frozen=True, slots=True)
class PushAnswer:
    """What the push service said: its status, and Retry-After (seconds) when it gave one."""

    status: int
    retry_after: float | None = None


class PushSender:
    """POSTs encrypted pushes to push services, over one pooled async HTTP client."""

    def __init__(self, key: VapidKey, *, timeout: float, ttl_seconds: int) -> None:
        self.key = key
        self._ttl = str(ttl_seconds)
        self._http = httpx2.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            limits=httpx2.Limits(max_connections=64, max_keepalive_connections=32),
        )

    async def send(
        self, *, endpoint: str, p256dh: str, auth: str, payload: bytes, urgency: Urgency
    ) -> PushAnswer:
        """Encrypt and POST one push. Raises httpx2.HTTPError when no answer came."""
        body = encrypt(payload, p256dh=p256dh, auth=auth)
        response = await self._http.post(
            endpoint,
            content=body,
            headers={
                "Authorization": self.key.authorization(endpoint),
                "Content-Encoding": "aes128gcm",
                "Content-Type": "application/octet-stream",
                "TTL": self._ttl,
                "Urgency": urgency,
            },
        )
        await response.aclose()
        return PushAnswer(response.status_code, _retry_after(response.headers.get("retry-after")))

    async def aclose(self) -> None:
        await self._http.aclose()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: our own backoff decides
