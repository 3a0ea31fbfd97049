"""One error tree for the whole service.

    ChatError                     (status 400, code "bad_request")
    ├── NotAuthenticated          401 not_authenticated / invalid_token / invalid_credentials
    ├── Forbidden                 403 forbidden / not_allowed / origin_not_allowed
    ├── NotFound                  404 not_found / user_not_found / conversation_not_found / ...
    ├── Conflict                  409 username_taken / oidc_identity_taken / ...
    ├── PayloadTooLarge           413 payload_too_large
    ├── UnsupportedMediaType      415 unsupported_media_type
    ├── Unprocessable             422 validation_error / unknown_users / ...
    ├── RateLimited               429 rate_limited (carries retry_after seconds)
    ├── BadGateway                502 oidc_provider_unavailable / oidc_issuer_mismatch
    └── Overloaded                503 overloaded (carries retry_after seconds)

Services raise these; HTTP renders `{"detail": message, "code": code}` with the status,
the WebSocket gateway renders `{"type": "error", "code": code, "detail": message}`.
"""

from __future__ import annotations

from typing import ClassVar


class ChatError(Exception):
    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code

    @property
    def headers(self) -> dict[str, str] | None:
        return None


class BadRequest(ChatError):
    status = 400
    default_code = "bad_request"


class NotAuthenticated(ChatError):
    status = 401
    default_code = "not_authenticated"

    @property
    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(ChatError):
    status = 403
    default_code = "forbidden"


class NotFound(ChatError):
    status = 404
    default_code = "not_found"


class Conflict(ChatError):
    status = 409
    default_code = "conflict"


class PayloadTooLarge(ChatError):
    status = 413
    default_code = "payload_too_large"


class UnsupportedMediaType(ChatError):
    status = 415
    default_code = "unsupported_media_type"


class Unprocessable(ChatError):
    status = 422
    default_code = "validation_error"


class RateLimited(ChatError):
    status = 429
    default_code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after = max(1, retry_after)

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class BadGateway(ChatError):
    """A server we depend on (an OpenID Provider) failed or answered what it must not."""

    status = 502
    default_code = "bad_gateway"


class Overloaded(ChatError):
    """The server has more work queued than it can finish soon (e.g. the send queue is
    full): nothing was done; try again after `retry_after` seconds."""

    status = 503
    default_code = "overloaded"

    def __init__(self, detail: str, *, retry_after: int = 1, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after = max(1, retry_after)

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}
