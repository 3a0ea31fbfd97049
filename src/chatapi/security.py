"""Password hashing and JWT issue/verify. No web framework imports here."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from jose import JWTError, jwt
from passlib.context import CryptContext

from chatapi.settings import MAX_TOKEN_TTL_SECONDS

ALGORITHM = "HS256"
# An explicit list: the verifier accepts nothing else (no "none", no RS/HS confusion).
ALLOWED_ALGORITHMS = [ALGORITHM]
ISSUER = "chatapi"
# How far in the future a token's `iat` may be (clocks of instances differ a little).
CLOCK_SKEW_SECONDS = 60

TokenType = Literal["access", "refresh"]

_pwd = CryptContext(schemes=["argon2"], deprecated="auto")
# Verified against when the username is unknown, so that answer costs as much as a
# wrong password and accounts cannot be enumerated by timing.
_DUMMY_HASH = _pwd.hash("chatapi-dummy-password-for-constant-time")


def configure_hashing(*, time_cost: int, memory_kib: int) -> None:
    """Set the argon2 cost (and remake the dummy hash so it costs the same)."""
    global _DUMMY_HASH
    current = _pwd.to_dict()
    if (current.get("argon2__time_cost"), current.get("argon2__memory_cost")) == (
        time_cost,
        memory_kib,
    ):
        return
    _pwd.update(argon2__time_cost=time_cost, argon2__memory_cost=memory_kib)
    _DUMMY_HASH = _pwd.hash("chatapi-dummy-password-for-constant-time")


def hash_password(password: str) -> str:
    return str(_pwd.hash(password))


def verify_password(password: str, password_hash: str | None) -> bool:
    """Check a password; with no hash (unknown user) burn the same time and fail."""
    if password_hash is None:
        _pwd.verify(password, _DUMMY_HASH)
        return False
    try:
        return bool(_pwd.verify(password, password_hash))
    except ValueError:
        return False


class InvalidToken(Exception):
    """A token that is malformed, forged, expired or of the wrong type."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    sub: uuid.UUID
    jti: uuid.UUID
    type: TokenType
    iat: datetime
    exp: datetime
    family: uuid.UUID | None = None
    # Access tokens: the login session they belong to (its refresh-token family), so
    # revoking that session (logout, account deletion) ends its access tokens at once.
    sid: uuid.UUID | None = None


def issue_token(
    *,
    key: str,
    subject: uuid.UUID,
    token_type: TokenType,
    ttl_seconds: int,
    jti: uuid.UUID | None = None,
    family: uuid.UUID | None = None,
    sid: uuid.UUID | None = None,
    now: datetime | None = None,
) -> tuple[str, TokenClaims]:
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    claims = TokenClaims(
        sub=subject,
        jti=jti or uuid.uuid4(),
        type=token_type,
        iat=issued,
        exp=issued + timedelta(seconds=ttl_seconds),
        family=family,
        sid=sid,
    )
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "sub": str(claims.sub),
        "jti": str(claims.jti),
        "typ": token_type,
        "iat": int(claims.iat.timestamp()),
        "exp": int(claims.exp.timestamp()),
    }
    if family is not None:
        payload["fam"] = str(family)
    if sid is not None:
        payload["sid"] = str(sid)
    return jwt.encode(payload, key, algorithm=ALGORITHM), claims


def decode_token(token: str, *, key: str, expected_type: TokenType) -> TokenClaims:
    """Verify signature, algorithm, expiry, issuer and type; raise InvalidToken otherwise."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise InvalidToken("unexpected signing algorithm")
        payload = jwt.decode(
            token,
            key,
            algorithms=ALLOWED_ALGORITHMS,
            issuer=ISSUER,
            options={
                "require_exp": True,
                "require_iat": True,
                "require_sub": True,
                "require_jti": True,
            },
        )
    except JWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if payload.get("typ") != expected_type:
        raise InvalidToken(f"not an {expected_type} token")
    iat, exp = _checked_times(payload)
    try:
        return TokenClaims(
            sub=uuid.UUID(payload["sub"]),
            jti=uuid.UUID(payload["jti"]),
            type=expected_type,
            iat=datetime.fromtimestamp(iat, UTC),
            exp=datetime.fromtimestamp(exp, UTC),
            family=uuid.UUID(payload["fam"]) if payload.get("fam") else None,
            sid=uuid.UUID(payload["sid"]) if payload.get("sid") else None,
        )
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidToken("malformed claims") from exc


def _checked_times(payload: dict[str, Any]) -> tuple[int, int]:
    """`iat` and `exp` as we issue them: integers, issued no later than now (give or take
    the clock skew between instances), expiring after issue and within the longest
    lifetime a token can have. The JWT library accepts strings and floats of any size
    here; a token that is not like ours is refused."""
    iat, exp = payload.get("iat"), payload.get("exp")
    if type(iat) is not int or type(exp) is not int:
        raise InvalidToken("iat and exp must be integers")
    now = int(time.time())
    if iat > now + CLOCK_SKEW_SECONDS:
        raise InvalidToken("issued in the future")
    if not iat < exp <= iat + MAX_TOKEN_TTL_SECONDS:
        raise InvalidToken("implausible lifetime")
    return iat, exp


def token_digest(token: str) -> str:
    """What is stored for a refresh token: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign(value: str, *, key: str) -> str:
    """An HMAC for signed URLs."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def signature_matches(value: str, signature: str, *, key: str) -> bool:
    return hmac.compare_digest(sign(value, key=key), signature)
