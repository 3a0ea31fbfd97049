"""The hub's routing and seq ordering, in-process (its own in-memory parts, no server)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest

# src imports (module paths may move with the code under test)
from chatapi.realtime.envelope import Envelope
from chatapi.realtime.hub import Hub
from helpers import elapse, eventually

TIMEOUT = 0.05  # the hub's reorder timeout in these tests


class Sink:
    def __init__(self, user_id: uuid.UUID) -> None:
        self.user_id = user_id
        self.frames: list[dict[str, object]] = []

    def send(self, text: str) -> None:
        self.frames.append(json.loads(text))

    def seqs(self) -> list[object]:
        return [f["seq"] for f in self.frames if "seq" in f]


class Timeline:
    """A directory over an in-memory timeline: what the database would answer."""

    def __init__(self, memberships: dict[uuid.UUID, list[uuid.UUID]]) -> None:
        self.memberships = memberships
        self.stored: dict[uuid.UUID, dict[int, Envelope]] = {}
        self.fills: list[tuple[int, int | None]] = []
        self.page = 500

    async def conversation_seqs(self, user_id: uuid.UUID) -> dict[uuid.UUID, int]:
        return {
            c: max(self.stored.get(c, {}), default=0) for c in self.memberships.get(user_id, [])
        }

    async def events(
        self, conversation_id: uuid.UUID, *, after_seq: int, until_seq: int | None
    ) -> list[Envelope]:
        self.fills.append((after_seq, until_seq))
        stored = self.stored.get(conversation_id, {})
        return [
            stored[s]
            for s in sorted(stored)
            if s > after_seq and (until_seq is None or s <= until_seq)
        ][: self.page]


def event(
    conv: uuid.UUID, seq: int, *, membership: str = "", user_ids: tuple[uuid.UUID, ...] = ()
) -> Envelope:
    frame = {"type": "message.new", "conversation_id": str(conv), "seq": seq}
    return Envelope(
        kind="event",
        frame=json.dumps(frame).encode(),
        conversation_id=conv,
        seq=seq,
        membership=membership,
        user_ids=user_ids,
    )


_hubs: list[Hub] = []


@pytest.fixture(autouse=True)
async def close_hubs() -> AsyncIterator[None]:
    """Every hub a test makes is closed after it (its timers and background tasks)."""
    yield
    while _hubs:
        await _hubs.pop().close()


def new_hub(timeline: Timeline) -> Hub:
    hub = Hub(directory=timeline, reorder_timeout=TIMEOUT)
    _hubs.append(hub)
    return hub


async def setup(n_users: int = 1) -> tuple[Hub, Timeline, uuid.UUID, list[Sink]]:
    conv = uuid.uuid4()
    users = [uuid.uuid4() for _ in range(n_users)]
    timeline = Timeline({u: [conv] for u in users})
    hub = new_hub(timeline)
    sinks = [Sink(u) for u in users]
    for sink in sinks:
        await hub.attach(sink, '{"type":"ready"}')
    return hub, timeline, conv, sinks


def publish(hub: Hub, timeline: Timeline, env: Envelope, *, store: bool = True) -> None:
    assert env.conversation_id is not None and env.seq is not None
    if store:
        timeline.stored.setdefault(env.conversation_id, {})[env.seq] = env
    hub.listener(env)


async def test_hub_ready_comes_first_then_events_in_order() -> None:
    hub, timeline, conv, (sink,) = await setup()
    for seq in (1, 2, 3):
        publish(hub, timeline, event(conv, seq))
    assert sink.frames[0] == {"type": "ready"}
    assert sink.seqs() == [1, 2, 3]


async def test_hub_holds_back_out_of_order_events_until_the_gap_closes() -> None:
    hub, timeline, conv, (sink,) = await setup()
    publish(hub, timeline, event(conv, 1))
    publish(hub, timeline, event(conv, 3))
    publish(hub, timeline, event(conv, 4))
    assert sink.seqs() == [1]
    publish(hub, timeline, event(conv, 2))
    assert sink.seqs() == [1, 2, 3, 4]
    await elapse(TIMEOUT * 3, "the reorder timeout passes: no gap fill may start")
    await hub.tasks.idle()
    assert timeline.fills == []  # closed in time: no database query


async def test_hub_fills_a_lasting_gap_from_the_database() -> None:
    hub, timeline, conv, (sink,) = await setup()
    publish(hub, timeline, event(conv, 1))
    timeline.stored[conv][2] = event(conv, 2)  # committed, its publish lost
    publish(hub, timeline, event(conv, 3))
    # After the reorder timeout the hub fills the gap by itself.
    await eventually(lambda: sink.seqs() == [1, 2, 3], what="the gap filled")
    await hub.tasks.idle()
    assert sink.seqs() == [1, 2, 3]
    assert timeline.fills == [(1, 3)]
    publish(hub, timeline, event(conv, 2))  # the late publish: never delivered twice
    publish(hub, timeline, event(conv, 4))
    assert sink.seqs() == [1, 2, 3, 4]


async def test_hub_skips_a_seq_the_database_does_not_have() -> None:
    hub, timeline, conv, (sink,) = await setup()
    publish(hub, timeline, event(conv, 1))
    publish(hub, timeline, event(conv, 3))
    await eventually(lambda: sink.seqs() == [1, 3], what="seq 2 skipped after a gap fill")
    await hub.tasks.idle()
    assert sink.seqs() == [1, 3]
    publish(hub, timeline, event(conv, 4))
    assert sink.seqs() == [1, 3, 4]


async def test_hub_removed_member_gets_the_removal_then_nothing() -> None:
    hub, timeline, conv, (stays, leaves) = await setup(2)
    publish(hub, timeline, event(conv, 1))
    # Published out of order: the removal (3) before the message (2) it follows.
    publish(hub, timeline, event(conv, 3, membership="removed", user_ids=(leaves.user_id,)))
    publish(hub, timeline, event(conv, 2))
    publish(hub, timeline, event(conv, 4))
    assert stays.seqs() == [1, 2, 3, 4]
    assert leaves.seqs() == [1, 2, 3]
    assert hub.is_member(leaves.user_id, conv) is False


async def test_hub_added_member_receives_from_the_addition_on() -> None:
    hub, timeline, conv, (old,) = await setup()
    newcomer = Sink(uuid.uuid4())
    await hub.attach(newcomer, '{"type":"ready"}')
    publish(hub, timeline, event(conv, 1))
    publish(hub, timeline, event(conv, 2, membership="added", user_ids=(newcomer.user_id,)))
    publish(hub, timeline, event(conv, 3))
    assert old.seqs() == [1, 2, 3]
    assert newcomer.seqs() == [2, 3]


async def test_hub_typing_skips_the_typist_and_non_members() -> None:
    hub, _timeline, conv, (typist, other) = await setup(2)
    stranger = Sink(uuid.uuid4())
    await hub.attach(stranger, '{"type":"ready"}')
    frame = json.dumps({"type": "typing", "state": "start"}).encode()
    hub.listener(
        Envelope(kind="typing", frame=frame, conversation_id=conv, actor_id=typist.user_id)
    )
    assert [f["type"] for f in other.frames] == ["ready", "typing"]
    assert [f["type"] for f in typist.frames] == ["ready"]
    assert [f["type"] for f in stranger.frames] == ["ready"]


async def test_hub_membership_change_during_load_is_kept() -> None:
    conv = uuid.uuid4()
    user = uuid.uuid4()
    loading, gate = asyncio.Event(), asyncio.Event()

    class SlowTimeline(Timeline):
        async def conversation_seqs(self, user_id: uuid.UUID) -> dict[uuid.UUID, int]:
            loading.set()
            await gate.wait()
            return {}  # read before the addition committed

    timeline = SlowTimeline({})
    hub = new_hub(timeline)
    sink = Sink(user)
    attaching = asyncio.create_task(hub.attach(sink, '{"type":"ready"}'))
    await asyncio.wait_for(loading.wait(), 5)  # the user's conversations are being loaded
    publish(hub, timeline, event(conv, 1, membership="added", user_ids=(user,)))
    gate.set()
    await attaching
    publish(hub, timeline, event(conv, 2))
    assert hub.is_member(user, conv) is True
    assert sink.seqs() == [2]


async def test_hub_forgets_conversations_without_local_members() -> None:
    hub, timeline, conv, (sink,) = await setup()
    publish(hub, timeline, event(conv, 1))
    hub.detach(sink)
    publish(hub, timeline, event(conv, 2))
    again = Sink(sink.user_id)
    await hub.attach(again, '{"type":"ready"}')
    # Counting starts again from the committed end of the timeline (seq 2), so even the
    # first events seen after re-attaching are put in order.
    publish(hub, timeline, event(conv, 4))
    publish(hub, timeline, event(conv, 3))
    assert again.seqs() == [3, 4]
    await hub.close()


async def test_hub_fills_a_long_gap_page_by_page() -> None:
    hub, timeline, conv, (sink,) = await setup()
    timeline.page = 2
    publish(hub, timeline, event(conv, 1))
    for seq in range(2, 7):  # committed while their publishes were lost
        timeline.stored[conv][seq] = event(conv, seq)
    publish(hub, timeline, event(conv, 7))
    await eventually(lambda: len(sink.seqs()) == 7, what="the gap filled")
    await hub.tasks.idle()
    assert sink.seqs() == [1, 2, 3, 4, 5, 6, 7]
    assert timeline.fills == [(1, 7), (3, 7), (5, 7)]


async def test_hub_resync_delivers_what_was_missed_while_the_broker_was_away() -> None:
    hub, timeline, conv, (sink,) = await setup()
    publish(hub, timeline, event(conv, 1))
    for seq in (2, 3):
        timeline.stored[conv][seq] = event(conv, seq)
    hub.resync()
    await hub.tasks.idle()
    assert sink.seqs() == [1, 2, 3]
    publish(hub, timeline, event(conv, 3))  # late duplicate
    publish(hub, timeline, event(conv, 4))
    assert sink.seqs() == [1, 2, 3, 4]
