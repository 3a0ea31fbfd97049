"""The ASGI application: `create_app(settings)` and `app = create_app()`."""

from __future__ import annotations

import gc
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from chatapi import __version__, metrics, security
from chatapi.api import auth as auth_api
from chatapi.api import calls as calls_api
from chatapi.api import contract as contract_api
from chatapi.api import conversations as conversations_api
from chatapi.api import gateway as gateway_api
from chatapi.api import health as health_api
from chatapi.api import media as media_api
from chatapi.api import messages as messages_api
from chatapi.api import metrics as metrics_api
from chatapi.api import moderation as moderation_api
from chatapi.api import oidc as oidc_api
from chatapi.api import push as push_api
from chatapi.api import reactions as reactions_api
from chatapi.api import search as search_api
from chatapi.api import stream as stream_api
from chatapi.api import users as users_api
from chatapi.api.body_limit import BodyLimitMiddleware
from chatapi.api.error_handlers import install_error_handlers
from chatapi.api.gateway.directory import ServiceDirectory
from chatapi.api.gateway.presence import went_offline
from chatapi.api.gateway.revocations import close_revoked_sockets
from chatapi.api.middleware import HttpMetrics, InternalErrors, RequestIds, SecurityHeaders
from chatapi.api.openapi_doc import install_openapi
from chatapi.api.state import AppState
from chatapi.db import create_engine, is_sqlite, make_sessionmaker
from chatapi.health import MEDIA, WriteHealth
from chatapi.mail import Mailer
from chatapi.media_urls import MediaSigner
from chatapi.oidc import OpenIDProviders
from chatapi.ratelimit import Counters, LoginLimiter, Quotas
from chatapi.realtime.broker import Broker, MemoryBroker, RedisBroker
from chatapi.realtime.hub import Hub
from chatapi.realtime.outbound import EventPublisher
from chatapi.realtime.personal import personalizer
from chatapi.realtime.presence import LocalPresence, OfflineBatch, Presence, RedisPresence
from chatapi.services.auth import TokenPolicy
from chatapi.services.calls import CallPolicy, CallSweeper
from chatapi.services.media.cleanup import OrphanCleanup
from chatapi.services.messages.group_commit import GroupCommit
from chatapi.services.push import Pusher
from chatapi.settings import ConfigError, Settings, get_settings
from chatapi.storage import LocalMediaStorage
from chatapi.webpush import PushSender, VapidKey, VapidKeyError

log = logging.getLogger("chatapi")

API_PREFIX = "/api/v1"
GATEWAY_PATH = f"{API_PREFIX}/ws"


class ChatApp(FastAPI):
    """The FastAPI application, with the WebSocket gateway served ahead of the HTTP stack.

    Every middleware here passes WebSockets through untouched, and so would the router,
    but each layer's frame (and FastAPI's three exit stacks per WebSocket route) would
    stay alive as long as the socket: about 12 KiB per socket, a quarter of its cost
    (bench/PERFORMANCE.md). Other WebSocket paths go the usual way (refused, 403).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and gateway_api.route_path(scope) == GATEWAY_PATH:
            scope["app"] = self
            await gateway_api.websocket_endpoint(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def build_state(settings: Settings) -> AppState:
    """Everything the app holds for its lifetime, wired together (nothing started yet)."""
    engine = create_engine(settings.resolved_database_url)
    write_health = WriteHealth()
    storage = LocalMediaStorage(settings.resolved_media_dir, health=write_health)
    try:
        storage.ensure_dirs()
    except OSError as exc:  # serve anyway: reads work, /readyz says what is wrong
        write_health.failed(MEDIA, exc)
    instance_id = uuid.uuid4().hex
    broker, presence = _realtime_backends(settings, instance_id)
    counters = Counters(redis_url=settings.redis_url, key_prefix=settings.redis_prefix)
    state = AppState(
        settings=settings,
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        read_sessionmaker=make_sessionmaker(engine, read_only=True),
        broker=broker,
        presence=presence,
        counters=counters,
        login_limiter=LoginLimiter(
            counters, settings.login_rate_limit, settings.login_address_rate_limit
        ),
        quotas=Quotas.from_settings(settings, counters),
        token_policy=TokenPolicy(
            key=settings.signing_key,
            access_ttl=settings.access_token_ttl_seconds,
            refresh_ttl=settings.refresh_token_ttl_seconds,
        ),
        storage=storage,
        media_signer=MediaSigner.from_settings(settings),
        publisher=EventPublisher(broker),
        oidc=OpenIDProviders(
            settings.oidc_providers, clock_skew_seconds=settings.oidc_clock_skew_seconds
        ),
        instance_id=instance_id,
        write_health=write_health,
        call_policy=CallPolicy(
            ring_seconds=settings.call_ring_timeout_seconds,
            rejoin_seconds=settings.call_rejoin_seconds,
        ),
        mailer=(
            Mailer(settings.smtp_url.get_secret_value(), settings.mail_from or "")
            if settings.password_reset and settings.smtp_url is not None
            else None
        ),
    )
    _wire_realtime(state)
    _wire_push(state)
    return state


def _vapid_key(settings: Settings) -> VapidKey | None:
    """The VAPID key pair, or None when push is off; a key that does not parse stops the
    start with a clear message."""
    text = settings.vapid_key_text
    if text is None:
        return None
    try:
        return VapidKey(text, settings.resolved_vapid_subject)
    except VapidKeyError as exc:
        raise ConfigError(str(exc)) from exc


def _wire_push(state: AppState) -> None:
    """Web Push: the VAPID key and the push queue (started with the app)."""
    settings = state.settings
    state.vapid = _vapid_key(settings)
    if state.vapid is None:
        return
    state.pusher = Pusher(
        uow=state.uow,
        read_uow=state.read_uow,
        presence=state.presence,
        sender=PushSender(
            state.vapid,
            timeout=settings.push_timeout_seconds,
            ttl_seconds=settings.push_ttl_seconds,
        ),
        queue_size=settings.push_queue_size,
        max_attempts=settings.push_max_attempts,
        retry_base_seconds=settings.push_retry_base_seconds,
    )


def _realtime_backends(settings: Settings, instance_id: str) -> tuple[Broker, Presence]:
    """In memory for one process; Redis when REDIS_URL is set (several instances)."""
    if not settings.redis_url:
        return MemoryBroker(), LocalPresence()
    broker = RedisBroker(
        settings.redis_url, channel=f"{settings.redis_prefix}:events", instance_id=instance_id
    )
    presence = RedisPresence(
        broker.client,
        prefix=settings.redis_prefix,
        instance_id=instance_id,
        heartbeat_seconds=settings.presence_heartbeat_seconds,
    )
    return broker, presence


def _wire_realtime(state: AppState) -> None:
    """The hub, the send batcher and the offline batch, and who calls whom among them."""
    state.hub = Hub(
        directory=ServiceDirectory(state),
        reorder_timeout=state.settings.ws_reorder_timeout_seconds,
        on_revoked=state.revocations.revoked,
        personalize=personalizer(state.media_signer),
    )
    state.sends = GroupCommit(
        state.uow,
        state.media_signer,
        quota=state.quotas.messages,
        max_queued=state.settings.send_queue_max,
        # PostgreSQL: a batch is built while the previous one commits. SQLite has one
        # writer at a time: a second worker would only wait for its lock.
        workers=1 if is_sqlite(state.settings.resolved_database_url) else 2,
    )
    hub = state.hub
    metrics.USERS_ONLINE.set_function(hub.users_online)

    async def offline(user_ids: list[uuid.UUID]) -> None:
        await went_offline(state, user_ids)

    state.offline = OfflineBatch(
        offline, presence=state.presence, spawn=lambda coro: hub.tasks.spawn(coro, name="offline")
    )
    state.broker.subscribe(hub.listener)
    if isinstance(state.broker, RedisBroker):

        async def resync() -> None:
            # Revocations published while Redis was away were missed: load them again,
            # and end the sockets of sessions revoked meanwhile.
            state.revocations.clear()
            hub.resync()
            hub.tasks.spawn(close_revoked_sockets(state), name="revoked-sockets")

        state.broker.on_reconnect = resync
    if isinstance(state.presence, RedisPresence):
        state.presence.on_offline = offline


# Young-generation threshold and how rarely older generations are collected. A full
# (generation-2) collection stops the event loop for ~0.6 µs per tracked object — about
# 200 ms with 1,000 open sockets (bench/PERFORMANCE.md) — so it must be rare.
GC_THRESHOLDS = (20_000, 50, 100)


def _tune_gc() -> None:
    """Keep full garbage collections off the delivery path as much as we can: freeze what
    start-up allocated (imports, the app) so no collection scans it again, and collect
    the older generations less often."""
    if gc.get_threshold() == GC_THRESHOLDS:
        return  # another app in this process did it already (tests)
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start what the app holds on start-up and stop it, in reverse, on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = build_state(settings)
        app.state.chat = state
        await state.broker.start()
        if isinstance(state.presence, RedisPresence):
            await state.presence.start()
        media_cleanup = OrphanCleanup(
            state.uow, state.storage, grace_seconds=settings.media_orphan_grace_seconds
        )
        media_cleanup.start()
        if state.pusher is not None:
            state.pusher.start()
        # Ends calls nobody answered, and participants gone too long, on every instance.
        call_sweeper = CallSweeper(state.uow, state.call_policy, lambda: state.call_connections)
        call_sweeper.start()
        _tune_gc()
        try:
            yield
        finally:
            await call_sweeper.stop()
            await media_cleanup.stop()
            await state.sends.aclose()
            if state.pusher is not None:
                await state.pusher.aclose()
            await state.offline.drain()
            await state.hub.close()
            if isinstance(state.presence, RedisPresence):
                await state.presence.stop()
            await state.broker.stop()
            await state.counters.aclose()
            await state.engine.dispose()

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # LOG_LEVEL governs chatapi's own loggers as it does uvicorn's (worker processes too).
    logging.getLogger("chatapi").setLevel(settings.logging_level)
    # Fail at import/start-up, with a clear message, when the configuration cannot work.
    _ = settings.signing_key
    _vapid_key(settings)
    security.configure_hashing(
        time_cost=settings.password_hash_time_cost, memory_kib=settings.password_hash_memory_kib
    )

    app = ChatApp(
        title="chatapi",
        version=__version__,
        description="A self-hosted real-time chat service. Authorize with the OAuth2 "
        "password flow, then call any endpoint; realtime frames are documented in "
        "docs/protocol.md.",
        lifespan=_lifespan(settings),
    )
    # Added before CORS, so CORS wraps it and a 413 carries the CORS headers too.
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_json_body_bytes,
        exempt={("POST", f"{API_PREFIX}/media")},  # streamed, under MAX_UPLOAD_BYTES
    )
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After", "Content-Range", "Accept-Ranges"],
        )
    install_error_handlers(app)
    _install_hardening(app)
    app.include_router(health_api.router)
    if settings.metrics_enabled:
        app.include_router(metrics_api.router)
    app.include_router(contract_api.router)
    app.include_router(auth_api.router, prefix=API_PREFIX)
    app.include_router(oidc_api.router, prefix=API_PREFIX)
    app.include_router(users_api.router, prefix=API_PREFIX)
    app.include_router(conversations_api.router, prefix=API_PREFIX)
    app.include_router(messages_api.router, prefix=API_PREFIX)
    app.include_router(search_api.router, prefix=API_PREFIX)
    app.include_router(media_api.router, prefix=API_PREFIX)
    app.include_router(stream_api.router, prefix=API_PREFIX)
    app.include_router(reactions_api.router, prefix=API_PREFIX)
    app.include_router(push_api.router, prefix=API_PREFIX)
    app.include_router(moderation_api.router, prefix=API_PREFIX)
    app.include_router(calls_api.router, prefix=API_PREFIX)
    _mount_web_client(app, settings)
    return app


def _install_hardening(app: FastAPI) -> None:
    """Security headers on every response (api/middleware.py), outside everything else so
    that error answers carry them too; inside them, unexpected errors become a JSON 500;
    and the OpenAPI document describes every error answer (api/openapi_doc.py)."""
    app.add_middleware(InternalErrors)
    app.add_middleware(HttpMetrics)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestIds)
    install_openapi(app)


def _mount_web_client(app: FastAPI, settings: Settings) -> None:
    """Serve the built web client at `/`; client routes fall back to its index.html."""
    dist = settings.web_dist_dir or Path(__file__).resolve().parents[2] / "web" / "dist"

    @app.get("/{path:path}", include_in_schema=False)
    async def web_client(path: str) -> Response:
        if path.startswith(("api/", "docs", "redoc", "openapi.json", "asyncapi.json")):
            return JSONResponse({"detail": "Not Found", "code": "not_found"}, status_code=404)
        root = dist.resolve()
        if not (root / "index.html").is_file():
            return JSONResponse(
                {
                    "detail": "The web client is not built. Run `make run` (or `make web`), "
                    "or use the API at /docs.",
                    "code": "web_client_not_built",
                },
                status_code=404,
            )
        try:  # a NUL or an overlong name is not a file of ours
            candidate = (root / path).resolve()
            found = bool(path) and candidate.is_relative_to(root) and candidate.is_file()
        except (OSError, ValueError):
            found = False
        if found:
            # Hashed build output never changes; every other file (index.html, the service
            # worker, the manifest, theme.js) keeps its name across deploys, so the browser
            # asks again each time (a 304 when unchanged) instead of running a stale one.
            immutable = path.startswith("assets/")
            cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
            return FileResponse(candidate, headers={"Cache-Control": cache})
        return FileResponse(root / "index.html", headers={"Cache-Control": "no-cache"})


def __getattr__(name: str) -> FastAPI:
    # `chatapi.main:app` is built on first access, not at import, so importing this
    # module (tests, tools) reads no environment and writes no files.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
