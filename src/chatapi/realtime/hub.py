"""The hub: this process's sockets, and which of them gets each envelope.

It is a broker listener: every envelope, from this process or another one, is routed
here synchronously, without a database query and without awaiting a socket:

- Membership is cached as conversation -> local users, loaded once per user when their
  first socket here authenticates, then kept current by the membership carried in
  envelope headers (`member.added` / `member.removed` events, `conversation.created`
  notices). A removed member gets the `member.removed` event and nothing after it.
- Timeline events are delivered in seq order per conversation. Commits can publish out
  of order (and Redis can lose envelopes while it is down), so the hub tracks the next
  seq it expects, holds later ones back, and when the hole is still there after the
  reorder timeout it fills it from the database; a seq the database does not have is
  skipped. No seq is ever written to a socket twice.
- Each envelope's frame is decoded to text once and the same string is handed to every
  recipient socket's bounded outbox (`Sink.send`), which never blocks; a frame with media
  links is signed once per recipient user instead (`personalize`).
- A `revoke` envelope (login sessions revoked) tells the revocation cache and closes
  the sessions' sockets with 4401.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from chatapi import metrics
from chatapi.realtime.envelope import Envelope
from chatapi.realtime.protocol import CLOSE_NOT_AUTHENTICATED
from chatapi.realtime.tasks import TaskOwner

log = logging.getLogger(__name__)


class Sink(Protocol):
    """A socket as the hub sees it: its user, the login session of its token (`sid`);
    `send` queues a frame and never blocks (a socket that cannot keep up closes itself),
    `close` asks for it to be closed (queued frames are flushed first)."""

    @property
    def user_id(self) -> uuid.UUID: ...

    @property
    def sid(self) -> uuid.UUID | None: ...

    def send(self, text: str) -> None: ...

    def close(self, code: int, reason: str = "") -> None: ...


class Directory(Protocol):
    """What the hub asks the database (via services), outside the delivery path."""

    async def conversation_seqs(self, user_id: uuid.UUID) -> dict[uuid.UUID, int]:
        """The user's conversations, each with its last committed seq."""
        ...

    async def events(
        self, conversation_id: uuid.UUID, *, after_seq: int, until_seq: int | None
    ) -> list[Envelope]:
        """Timeline events `after_seq < seq <= until_seq`, ascending, as envelopes."""
        ...


@dataclass
class _Load:
    """A user's conversation list being loaded, and what changed meanwhile."""

    changes: list[tuple[str, uuid.UUID]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Order:
    """Seq bookkeeping for one conversation with local members."""

    next_seq: int
    pending: dict[int, Envelope] = field(default_factory=dict)
    timer: asyncio.TimerHandle | None = None
    filling: bool = False

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class Hub:
    # Pages of the timeline one gap fill may read (the directory's page size each).
    FILL_PAGES = 10

    def __init__(
        self,
        *,
        directory: Directory,
        reorder_timeout: float = 0.5,
        on_revoked: Callable[[uuid.UUID, uuid.UUID | None, uuid.UUID | None], None] | None = None,
        personalize: Callable[[str, uuid.UUID], str] | None = None,
    ) -> None:
        self._directory = directory
        # Signs a frame's media links for one recipient (`media_urls.personalize`).
        self._personalize = personalize
        # Told of every session revocation first (the app's revocation cache), then the
        # sockets of the revoked sessions are closed.
        self.on_revoked = on_revoked
        self._reorder_timeout = reorder_timeout
        self._sinks: dict[uuid.UUID, set[Sink]] = {}
        self._user_convs: dict[uuid.UUID, set[uuid.UUID]] = {}
        self._members: dict[uuid.UUID, set[uuid.UUID]] = {}
        self._loading: dict[uuid.UUID, _Load] = {}
        self._orders: dict[uuid.UUID, _Order] = {}
        self.tasks = TaskOwner()

    # --- sockets --------------------------------------------------------------------------

    async def attach(
        self,
        sink: Sink,
        first_frame: str | None,
        *,
        loaded: dict[uuid.UUID, int] | None = None,
    ) -> None:
        """Route this user's frames to `sink` from now on, `first_frame` (`ready`) first.

        The user's conversations are loaded once, when their first socket here attaches:
        by the hub (through its directory), or by the caller, who said so with
        `start_loading` and hands them in as `loaded` (conversation -> last seq).
        Nothing is awaited between registering the sink and queueing `first_frame`, so no
        event can slip in before it.
        """
        uid = sink.user_id
        if loaded is not None:
            self._loaded(uid, loaded)
        while uid not in self._user_convs:
            pending = self._loading.get(uid)
            if pending is not None:  # another socket of this user is loading them
                await pending.done.wait()
                continue
            await self._load(uid)
        self._sinks.setdefault(uid, set()).add(sink)
        if first_frame is not None:  # an event stream has none
            sink.send(first_frame)

    def start_loading(self, user_id: uuid.UUID) -> bool:
        """True: the caller is to load the user's conversations (nobody here has them or is
        loading them) and hand them to `attach`, or call `abandon_loading`. Membership
        changes heard meanwhile are recorded and applied on top of what it loads."""
        if user_id in self._user_convs or user_id in self._loading:
            return False
        self._loading[user_id] = _Load()
        return True

    def abandon_loading(self, user_id: uuid.UUID) -> None:
        """The caller of `start_loading` will not attach (the load failed, or the socket
        closed): another socket of the user loads them when it attaches."""
        load = self._loading.pop(user_id, None)
        if load is not None:
            load.done.set()

    async def _load(self, uid: uuid.UUID) -> None:
        self.start_loading(uid)
        try:
            seqs = await self._directory.conversation_seqs(uid)
        except BaseException:
            self.abandon_loading(uid)
            raise
        self._loaded(uid, seqs)

    def _loaded(self, uid: uuid.UUID, seqs: dict[uuid.UUID, int]) -> None:
        # Membership changes that arrived while the list loaded are replayed on top of it:
        # the list may or may not include them, and applying them twice is harmless.
        load = self._loading.pop(uid)
        load.done.set()
        convs = set(seqs)
        for op, conversation_id in load.changes:
            if op == "added":
                convs.add(conversation_id)
            else:
                convs.discard(conversation_id)
        self._user_convs[uid] = convs
        for conversation_id in convs:
            self._members.setdefault(conversation_id, set()).add(uid)
            if conversation_id in seqs and conversation_id not in self._orders:
                # Count from the committed end of the timeline, so that the first event
                # this process sees in the conversation may arrive out of order too, and
                # a resync after a broker outage covers it.
                self._orders[conversation_id] = _Order(next_seq=seqs[conversation_id] + 1)

    def detach(self, sink: Sink) -> None:
        uid = sink.user_id
        sinks = self._sinks.get(uid)
        if sinks is None:
            return
        sinks.discard(sink)
        if sinks:
            return
        del self._sinks[uid]
        for conversation_id in list(self._user_convs.pop(uid, set())):
            self._leave(conversation_id, uid)

    def sinks(self) -> Iterator[Sink]:
        """Every authenticated socket of this process."""
        for sinks in self._sinks.values():
            yield from sinks

    def is_member(self, user_id: uuid.UUID, conversation_id: uuid.UUID) -> bool | None:
        """From the cache: None when this user's conversations are not loaded here."""
        convs = self._user_convs.get(user_id)
        return None if convs is None else conversation_id in convs

    async def close(self) -> None:
        for order in self._orders.values():
            order.cancel_timer()
        await self.tasks.aclose()

    # --- routing --------------------------------------------------------------------------

    def listener(self, env: Envelope) -> None:
        """The broker listener: route one envelope. Runs on the loop, never blocks."""
        if env.kind == "event":
            self._on_event(env)
        elif env.kind == "revoke":
            self._on_revoke(env)
        elif env.kind in ("typing", "receipt"):
            if env.conversation_id is None:
                return
            members = self._members.get(env.conversation_id, ())
            skip = env.actor_id if env.kind == "typing" else None
            self._send(env, (u for u in members if u != skip))
        elif env.kind == "call":
            self._on_call(env)
        elif env.kind in ("presence", "notice"):
            if env.kind == "notice" and env.conversation_id is not None and env.membership:
                # A notice that changes membership (e.g. `conversation.created`, "added"):
                # its recipients are members of the conversation from now on.
                op = env.membership
                self._note_loading(op, env.conversation_id, env.user_ids)
                if op == "added":
                    self._join(env.conversation_id, env.user_ids)
                self._send(env, env.user_ids)
                if op == "removed":
                    for user_id in env.user_ids:
                        self._leave(env.conversation_id, user_id)
                return
            self._send(env, env.user_ids)

    def _on_call(self, env: Envelope) -> None:
        """A call's frame: to every socket of its users, or to one socket (a signal)."""
        target = env.connection_id
        if target is None:
            self._send(env, env.user_ids)
            return
        if not env.user_ids:
            return
        for sink in self._sinks.get(env.user_ids[0], ()):
            if getattr(sink, "session_id", None) == target:
                sink.send(env.frame.decode())
                _count(env.kind, 1)
                return

    def _on_revoke(self, env: Envelope) -> None:
        """Login sessions were revoked: no socket of theirs may stay open (4401)."""
        if not env.user_ids:
            return
        user_id, session_id, keep = env.user_ids[0], env.session_id, env.keep_session_id
        if self.on_revoked is not None:
            self.on_revoked(user_id, session_id, keep)
        reason = env.frame.decode()
        for sink in list(self._sinks.get(user_id, ())):
            if (keep is None or sink.sid != keep) and session_id in (None, sink.sid):
                sink.close(CLOSE_NOT_AUTHENTICATED, reason)

    def users_online(self) -> int:
        """Users with at least one authenticated socket attached here."""
        return len(self._sinks)

    def _send(self, env: Envelope, user_ids: Iterable[uuid.UUID]) -> None:
        if env.personal and self._personalize is not None:
            self._send_personal(env, user_ids, self._personalize)
            return
        text: str | None = None
        sent = 0
        for user_id in user_ids:
            for sink in self._sinks.get(user_id, ()):
                if text is None:
                    text = env.frame.decode()
                sink.send(text)
                sent += 1
        if sent:
            _count(env.kind, sent)

    def _send_personal(
        self,
        env: Envelope,
        user_ids: Iterable[uuid.UUID],
        personalize: Callable[[str, uuid.UUID], str],
    ) -> None:
        """A frame with media links: signed once per recipient user, for all their sockets."""
        frame: str | None = None
        sent = 0
        for user_id in user_ids:
            sinks = self._sinks.get(user_id)
            if sinks:
                frame = env.frame.decode() if frame is None else frame
                text = personalize(frame, user_id)
                for sink in sinks:
                    sink.send(text)
                sent += len(sinks)
        if sent:
            _count(env.kind, sent)

    def _note_loading(
        self, op: str, conversation_id: uuid.UUID, user_ids: Iterable[uuid.UUID]
    ) -> None:
        for user_id in user_ids:
            load = self._loading.get(user_id)
            if load is not None:
                load.changes.append((op, conversation_id))

    def _join(self, conversation_id: uuid.UUID, user_ids: Iterable[uuid.UUID]) -> None:
        for user_id in user_ids:
            convs = self._user_convs.get(user_id)
            if convs is not None:
                convs.add(conversation_id)
                self._members.setdefault(conversation_id, set()).add(user_id)

    def _leave(self, conversation_id: uuid.UUID, user_id: uuid.UUID) -> None:
        convs = self._user_convs.get(user_id)
        if convs is not None:
            convs.discard(conversation_id)
        members = self._members.get(conversation_id)
        if members is None:
            return
        members.discard(user_id)
        if not members:
            del self._members[conversation_id]
            order = self._orders.pop(conversation_id, None)
            if order is not None:
                order.cancel_timer()

    # --- timeline events in seq order ----------------------------------------------------

    def _on_event(self, env: Envelope) -> None:
        conversation_id, seq = env.conversation_id, env.seq
        if conversation_id is None or seq is None:
            return
        if env.membership:
            self._note_loading(env.membership, conversation_id, env.user_ids)
        order = self._orders.get(conversation_id)
        if order is None:
            joins_here = env.membership == "added" and any(
                u in self._user_convs for u in env.user_ids
            )
            if not self._members.get(conversation_id) and not joins_here:
                return
            order = self._orders[conversation_id] = _Order(next_seq=seq)
        self._accept(conversation_id, order, env)

    def _accept(self, conversation_id: uuid.UUID, order: _Order, env: Envelope) -> None:
        assert env.seq is not None
        if env.seq < order.next_seq or env.seq in order.pending:
            return  # delivered already (or a duplicate): never twice
        if env.seq == order.next_seq and not order.filling:
            self._deliver(conversation_id, env)
            order.next_seq += 1
            self._drain(conversation_id, order)
            return
        order.pending[env.seq] = env
        self._arm(conversation_id, order)

    def _arm(self, conversation_id: uuid.UUID, order: _Order) -> None:
        if order.timer is None and not order.filling and order.pending:
            loop = asyncio.get_running_loop()
            order.timer = loop.call_later(
                self._reorder_timeout, self._gap_timeout, conversation_id, order
            )

    def _drain(self, conversation_id: uuid.UUID, order: _Order) -> None:
        while order.next_seq in order.pending and self._orders.get(conversation_id) is order:
            self._deliver(conversation_id, order.pending.pop(order.next_seq))
            order.next_seq += 1
        if not order.pending:
            order.cancel_timer()

    def _deliver(self, conversation_id: uuid.UUID, env: Envelope) -> None:
        if env.membership == "added":
            self._join(conversation_id, env.user_ids)
        self._send(env, tuple(self._members.get(conversation_id, ())))
        if env.membership == "removed":
            for user_id in env.user_ids:
                self._leave(conversation_id, user_id)

    def _gap_timeout(self, conversation_id: uuid.UUID, order: _Order) -> None:
        order.timer = None
        if self._orders.get(conversation_id) is not order or not order.pending:
            return
        order.filling = True
        until = max(order.pending)
        log.info(
            "hub: seq gap in %s at %d; filling from the database", conversation_id, order.next_seq
        )
        self.tasks.spawn(self._fill(conversation_id, order, until), name="hub-gap-fill")

    def resync(self) -> None:
        """After the broker reconnects: deliver what was committed while it was away."""
        for conversation_id, order in list(self._orders.items()):
            if not order.filling:
                order.cancel_timer()
                order.filling = True
                self.tasks.spawn(self._fill(conversation_id, order, None), name="hub-resync")

    async def _fill(self, conversation_id: uuid.UUID, order: _Order, until: int | None) -> None:
        fetched: list[Envelope] = []
        after = order.next_seq - 1
        try:
            # The directory answers a page at a time; a longer backlog than FILL_PAGES
            # pages is skipped (a client that sees the jump catches up by itself).
            for _ in range(self.FILL_PAGES):
                page = await self._directory.events(
                    conversation_id, after_seq=after, until_seq=until
                )
                fetched += page
                if (
                    not page
                    or page[-1].seq is None
                    or (until is not None and page[-1].seq >= until)
                ):
                    break
                after = page[-1].seq
        except Exception:
            log.exception("hub: filling a gap in %s failed; skipping ahead", conversation_id)
        finally:
            order.filling = False
        for env in fetched:
            if env.seq is not None and env.seq >= order.next_seq:
                order.pending.setdefault(env.seq, env)
        if self._orders.get(conversation_id) is not order:
            return
        limit = until if until is not None else max((e.seq or 0 for e in fetched), default=0)
        while order.pending and self._orders.get(conversation_id) is order:
            self._drain(conversation_id, order)
            lowest = min(order.pending, default=None)
            if lowest is None or order.next_seq > limit:
                break
            # The database does not have it: give up on this hole (clients catch up).
            log.warning(
                "hub: skipping seqs %d..%d of %s", order.next_seq, lowest - 1, conversation_id
            )
            order.next_seq = lowest
        if self._orders.get(conversation_id) is order:
            self._arm(conversation_id, order)


def _count(kind: str, sockets: int) -> None:
    """Metrics of one fan-out: one increment per envelope, never per socket."""
    metrics.FRAMES_OUT.labels(kind).inc(sockets)
    if kind == "event":
        metrics.DELIVERIES.inc(sockets)
