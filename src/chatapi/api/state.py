"""What the app holds for its lifetime (settings, engine, broker, hub, presence, ...), and
the units of work every entry point opens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chatapi.db import UnitOfWork
from chatapi.domain import DomainEvent
from chatapi.health import WriteHealth
from chatapi.mail import Mailer
from chatapi.media_urls import MediaSigner
from chatapi.oidc import OpenIDProviders
from chatapi.ratelimit import Counters, LoginLimiter, Quotas
from chatapi.realtime.broker import Broker
from chatapi.realtime.hub import Hub
from chatapi.realtime.outbound import EventPublisher
from chatapi.realtime.presence import OfflineBatch, Presence
from chatapi.services.auth import TokenPolicy
from chatapi.services.messages.group_commit import GroupCommit
from chatapi.services.push import Pusher
from chatapi.services.sessions import RevocationCache
from chatapi.settings import Settings
from chatapi.storage import MediaStorage
from chatapi.webpush import VapidKey


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_sessionmaker: async_sessionmaker[AsyncSession]
    broker: Broker
    presence: Presence
    # The rate-limit counters behind the login limiter and the quotas (closed on shutdown).
    counters: Counters
    login_limiter: LoginLimiter
    # Per-user and per-address quotas (README "Security").
    quotas: Quotas
    token_policy: TokenPolicy
    storage: MediaStorage
    media_signer: MediaSigner
    # Domain events to the broker, as frames (units of work publish through it).
    publisher: EventPublisher
    # The OpenID Providers people may sign in with (OIDC_PROVIDERS), discovery cached.
    oidc: OpenIDProviders
    # This process's sockets; set by build_state once the state it looks things up in exists.
    hub: Hub = field(init=False)
    # Message sends, committed in groups (services.messages.group_commit).
    sends: GroupCommit = field(init=False)
    # Users whose last socket closed, written and announced in batches.
    offline: OfflineBatch = field(init=False)
    instance_id: str = ""
    # Which login sessions are revoked, answered from memory (services/sessions.py);
    # kept current by the broker's `revoke` envelopes through the hub.
    revocations: RevocationCache = field(default_factory=RevocationCache)
    # Stores whose writes fail now (a full disk): /readyz answers 503 meanwhile.
    write_health: WriteHealth = field(default_factory=WriteHealth)
    # Outgoing mail (SMTP_URL): password-reset links; None without SMTP.
    mailer: Mailer | None = None

    # The VAPID key (None: push is off) and the push queue with its worker.
    vapid: VapidKey | None = None
    pusher: Pusher | None = None

    def uow(self) -> UnitOfWork:
        """A unit of work that writes; its events are published after it commits (and its
        new messages queued for pushing)."""
        return UnitOfWork(self.sessionmaker, self._committed, health=self.write_health)

    @cached_property
    def _committed(self) -> _Committed:
        return _Committed(self)

    def read_uow(self) -> UnitOfWork:
        """A unit of work that only reads (on SQLite it does not queue for the write lock)."""
        return UnitOfWork(self.read_sessionmaker, None, read_only=True)


class _Committed:
    """Where a unit of work's committed events go: new messages to the push queue (it only
    appends), then every event to the broker."""

    __slots__ = ("_state",)

    def __init__(self, state: AppState) -> None:
        self._state = state

    async def publish_many(self, events: Sequence[DomainEvent]) -> None:
        if self._state.pusher is not None:
            self._state.pusher.offer(events)
        await self._state.publisher.publish_many(events)
