"""Logging: one JSON object per line in production, readable lines in development; the
request id of an HTTP request and the session id of a socket in every line logged while
handling it; no credentials in any line.

The ids live in context variables set by the request middleware (`api/middleware.py`)
and by the socket's handler (`api/gateway/socket.py`): every log call made while
handling that request or socket — ours, uvicorn's access line, SQLAlchemy's — carries
them, with nothing passed around.

What is never logged: passwords, tokens and message bodies are not put in log lines
anywhere in chatapi; the one place a credential could slip in — a signed media URL in
uvicorn's access line (its `sig` is a bearer credential for one viewer) — is redacted
here, as are `token`/`access_token`/`refresh_token`/`code`/`state` query parameters.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import time
from contextvars import ContextVar
from typing import Any

from chatapi.settings import Settings

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
session_id: ContextVar[str | None] = ContextVar("session_id", default=None)

_SECRET_PARAMS = re.compile(
    r"(?P<name>(?:^|[?&])(?:sig|token|access_token|refresh_token|code|state)=)[^&\s\"]*"
)


def redact(text: str) -> str:
    """`text` with the values of credential-bearing query parameters replaced."""
    return _SECRET_PARAMS.sub(r"\g<name>[redacted]", text)


class ContextFilter(logging.Filter):
    """Adds `request_id` and `session_id` to every record, and redacts the access line."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.session_id = session_id.get()
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "session_id"):
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`LEVEL logger: message [request …] [session …]`, for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname} {record.name}: {record.getMessage()}"
        if rid := getattr(record, "request_id", None):
            line += f" [request {rid}]"
        if sid := getattr(record, "session_id", None):
            line += f" [session {sid}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def log_format(settings: Settings) -> str:
    """`LOG_FORMAT`, or by default JSON in production and text elsewhere."""
    if settings.log_format is not None:
        return settings.log_format
    return "json" if settings.environment == "production" else "text"


def logging_config(settings: Settings) -> dict[str, Any]:
    """The `logging.config.dictConfig` of the process, uvicorn's loggers included (passed
    to uvicorn as its `log_config`, so worker processes get it too)."""
    formatter = JsonFormatter if log_format(settings) == "json" else TextFormatter
    level = settings.logging_level
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"chatapi": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "chatapi",
                "filters": ["context"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level, "propagate": True},
            "chatapi": {"level": level},
            "alembic.runtime.plugins": {"level": "WARNING"},
            # Libraries that print statements with their parameters, or whole frames, at
            # info/debug: message bodies, password hashes and tokens would follow.
            **{name: {"level": "WARNING"} for name in _WIRE_LOGGERS},
        },
    }


_WIRE_LOGGERS = (
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "websockets",
    "uvicorn.protocols",
    "httpx",
    "httpcore",
    "redis",
)


def configure(settings: Settings) -> None:
    logging.config.dictConfig(logging_config(settings))
