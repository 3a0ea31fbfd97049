"""Prometheus metrics (`GET /metrics` when METRICS_ENABLED; README "Metrics").

The metrics are process-wide objects, incremented where things happen: HTTP requests in
the `HttpMetrics` middleware (api/middleware.py), sockets and frames in the gateway,
deliveries and outbox closes in the realtime hub, batches and commits in the group
commit, broker failures in the broker, uploads in the media route. Hot paths add once
per batch, never per recipient: a fan-out to 1,000 sockets is one `DELIVERIES.inc(1000)`.

With several worker processes (`chatapi serve --workers N`) each process answers for
itself; scrape separate instances instead (README "PostgreSQL + Redis, several
instances").
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# --- HTTP ---------------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "chatapi_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "chatapi_http_request_duration_seconds",
    "Time to answer an HTTP request (to the response's first byte), by route template.",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
UPLOADS = Counter("chatapi_uploads_total", "Files uploaded and stored.")
UPLOAD_BYTES = Counter("chatapi_upload_bytes_total", "Bytes of the files uploaded and stored.")

# --- WebSockets and delivery --------------------------------------------------------------

SOCKETS_OPEN = Gauge("chatapi_websockets_open", "WebSockets open now (authenticated or not).")
USERS_ONLINE = Gauge(
    "chatapi_users_online", "Users with at least one authenticated socket on this process."
)
FRAMES_IN = Counter("chatapi_frames_in_total", "Frames received from clients, by type.", ["type"])
FRAMES_OUT = Counter(
    "chatapi_frames_out_total",
    "Frames queued to sockets, by kind (event, receipt, typing, presence, notice, reply).",
    ["kind"],
)
DELIVERIES = Counter(
    "chatapi_deliveries_total", "Timeline events queued to a socket (one per recipient socket)."
)
OUTBOX_CLOSES = Counter(
    "chatapi_outbox_closes_total",
    "Sockets closed 1013 because they did not keep up (outbox full, in frames or bytes).",
)
SEND_ACK_SECONDS = Histogram(
    "chatapi_send_ack_seconds",
    "From a message.send frame received to its message.ack (stored and committed).",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
)

# --- the group commit and the broker -----------------------------------------------------

COMMIT_BATCH = Histogram(
    "chatapi_commit_batch_size",
    "Messages per group-commit transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
COMMIT_SECONDS = Histogram(
    "chatapi_commit_seconds",
    "Time of one group-commit transaction, rules to commit.",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1),
)
SENDS_OVERLOADED = Counter(
    "chatapi_sends_overloaded_total",
    "Message sends refused because the send queue was full (SEND_QUEUE_MAX): 503 or an "
    "`error` frame `overloaded`.",
)
BROKER_PUBLISH_FAILURES = Counter(
    "chatapi_broker_publish_failures_total",
    "Publishes to Redis that failed (the local hub delivered; other instances catch up).",
)
BROKER_RECONNECTS = Counter(
    "chatapi_broker_reconnects_total", "Times the Redis subscription was re-established."
)

# --- Web Push -------------------------------------------------------------------------------

PUSH_SENT = Counter("chatapi_push_sent_total", "Pushes a push service accepted (2xx).")
PUSH_FAILED = Counter(
    "chatapi_push_failed_total",
    "Pushes given up: refused by the push service (4xx but 404/410/429), or still failing "
    "(5xx, 429, network) after PUSH_MAX_ATTEMPTS.",
)
PUSH_DROPPED = Counter(
    "chatapi_push_dropped_total",
    "Committed messages not pushed because the push queue was full (PUSH_QUEUE_SIZE).",
)
PUSH_EXPIRED = Counter(
    "chatapi_push_expired_total",
    "Push subscriptions deleted because their push service answered 404 or 410.",
)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
