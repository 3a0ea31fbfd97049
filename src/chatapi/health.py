"""Whether the last write of each store worked: readiness says 503 while one fails.

A full disk does not stop the process nor the database's `SELECT 1`; it makes writes
fail. So the places that write report here — the unit of work when a commit fails with
a database error, the media storage when a file cannot be written, the HTTP error
handler for any other disk error — and the next successful write of the same store
clears it. `/readyz` names every failing store (and retries a harmless write itself, so
an instance taken out of a load balancer can come back).
"""

from __future__ import annotations

import errno
import logging

log = logging.getLogger(__name__)

DATABASE = "database"
MEDIA = "media"

# OSErrors that say "this store cannot take writes now" (not "no such file").
WRITE_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EIO,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.ENOTDIR,
        errno.EFBIG,
    }
)


def is_write_failure(exc: BaseException) -> bool:
    """A disk error that writing again will meet too (full, read-only, broken)."""
    return isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS


class WriteHealth:
    """The stores whose last write failed, and why (`{"media": "ENOSPC ..."}`)."""

    def __init__(self) -> None:
        self._failing: dict[str, str] = {}

    def failed(self, store: str, exc: BaseException) -> None:
        reason = _describe(exc)
        if self._failing.get(store) != reason:
            log.error("%s writes fail (%s): not ready until a write succeeds", store, reason)
        self._failing[store] = reason

    def succeeded(self, store: str) -> None:
        if self._failing.pop(store, None) is not None:
            log.warning("%s writes work again", store)

    def failing(self) -> dict[str, str]:
        return dict(self._failing)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        name = errno.errorcode.get(exc.errno, str(exc.errno))
        return f"{name} {exc.strerror or ''}".strip()
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200]
