"""Real WebRTC calls through chatapi: two aiortc peers, each on its own chatapi instance
(PostgreSQL + Redis), ring, answer and exchange their SDP offer/answer and trickled ICE
candidates through chatapi's WebSocket; audio (a generated tone) flows between them; the
hang-up ends the call for both and the timeline records it with its duration. Then the
same through a real coturn (`turnserver`, started here on loopback) with the peers
restricted to relay candidates: it connects with the credential chatapi issued, and not
with an expired one.

Runs when TEST_DATABASE_URL and REDIS_URL are set; in CI (CI set) a missing `turnserver`
fails the TURN tests instead of skipping them.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fractions
import math
import os
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.sdp import candidate_from_sdp
from av import AudioFrame

# src imports (module paths may move with the code under test)
from chatapi.services.calls import turn_credential
from helpers import PG_URL, REDIS_URL, elapse, eventually, prepare_postgres
from servers import Api, Client, Server, Sockets, User, free_port, server_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="needs TEST_DATABASE_URL and REDIS_URL"),
]

TURN_SECRET = "chatapi-test-turn-secret"
TURN_REALM = "chatapi.test"
TONE_HZ = 440.0


# --- coturn ---------------------------------------------------------------------------


@dataclass
class Coturn:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _wait_tcp(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        time.sleep(0.1)  # poll interval, bounded by the deadline
    return False


@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    """A real coturn on loopback: time-limited credentials (use-auth-secret) with our
    secret, relaying between loopback addresses."""
    binary = shutil.which("turnserver")
    if binary is None:
        reason = "turnserver not found (Debian's coturn: apt-get install -y coturn)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("coturn")
    port = free_port()
    relay_from = random.randrange(20_000, 60_000, 200)
    log = workdir / "turnserver.log"
    argv = [
        binary,
        "-n",  # no configuration file: everything is on this line
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        f"--listening-port={port}",
        f"--min-port={relay_from}",
        f"--max-port={relay_from + 199}",
        "--use-auth-secret",
        f"--static-auth-secret={TURN_SECRET}",
        f"--realm={TURN_REALM}",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        "--allow-loopback-peers",
        "--fingerprint",
        f"--userdb={workdir / 'turndb'}",
        f"--pidfile={workdir / 'turnserver.pid'}",
        "--log-file=stdout",
        "--simple-log",
        "--verbose",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        if not _wait_tcp(port, proc):
            pytest.fail(f"turnserver did not start:\n{log.read_text(errors='replace')[-3000:]}")
        yield Coturn(port, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- two chatapi instances ------------------------------------------------------------


@pytest.fixture(scope="module")
async def cluster(
    tmp_path_factory: pytest.TempPathFactory, coturn: Coturn
) -> AsyncIterator[list[Server]]:
    await prepare_postgres()
    assert PG_URL and REDIS_URL
    prefix = f"chatapi-test-{uuid.uuid4().hex[:12]}"
    servers = []
    for name in ("a", "b"):
        workdir = tmp_path_factory.mktemp(f"calls-{name}")
        env = server_env(
            workdir,
            PG_URL,
            redis_url=REDIS_URL,
            redis_prefix=prefix,
            turn_urls=coturn.url,
            turn_secret=TURN_SECRET,
            turn_ttl_seconds=600,
        )
        servers.append(Server(workdir, env))
    try:
        for srv in servers:
            await asyncio.to_thread(srv.start)
        yield servers
    finally:
        for srv in servers:
            srv.stop()


@pytest.fixture
async def api(cluster: list[Server]) -> AsyncIterator[Api]:
    client = Api(cluster[0].base_url)
    yield client
    await client.aclose()


async def direct(api: Api, one: User, other: User) -> str:
    r = await api.http.post(
        "/api/v1/conversations",
        headers=one.headers,
        json={"kind": "direct", "member_ids": [other.id]},
    )
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


# --- a WebRTC peer signalling through chatapi -----------------------------------------


class Tone(MediaStreamTrack):
    """A 440 Hz tone, 20 ms frames at 48 kHz, paced in real time."""

    kind = "audio"
    RATE = 48_000
    SAMPLES = 960

    def __init__(self) -> None:
        super().__init__()
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        else:
            await asyncio.sleep(max(0.0, self._start + self._pts / self.RATE - time.monotonic()))
        step = 2 * math.pi * TONE_HZ / self.RATE
        samples = array.array(
            "h", (int(12_000 * math.sin(step * (self._pts + i))) for i in range(self.SAMPLES))
        )
        frame = AudioFrame(format="s16", layout="mono", samples=self.SAMPLES)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate = self.RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, self.RATE)
        self._pts += self.SAMPLES
        return frame


def split_candidates(sdp: str) -> tuple[str, list[dict[str, Any]]]:
    """The SDP without its candidates, and the candidates as RTCIceCandidateInit: aiortc
    gathers before it answers, a browser trickles; the test trickles them like a browser."""
    lines, candidates = [], []
    mline, mid = -1, None
    for line in sdp.splitlines():
        if line.startswith("m="):
            mline, mid = mline + 1, None
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        if line.startswith("a=candidate:"):
            candidates.append({"candidate": line[2:], "sdpMid": mid, "sdpMLineIndex": mline})
            continue
        if line == "a=end-of-candidates":
            continue
        lines.append(line)
    return "\r\n".join(lines) + "\r\n", candidates


@dataclass
class Peer:
    """One side of a call: an aiortc peer connection whose signalling goes through its
    chatapi socket (`call.signal` frames), like the web client's."""

    user: User
    socket: Client
    config: RTCConfiguration
    pc: RTCPeerConnection = field(init=False)
    tracks: asyncio.Queue[MediaStreamTrack] = field(default_factory=asyncio.Queue)
    frames: list[dict[str, Any]] = field(default_factory=list)
    local_candidates: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pc = RTCPeerConnection(self.config)
        self.pc.addTrack(Tone())

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.tracks.put_nowait(track)

    async def _send_description(self, call_id: str, to: str) -> None:
        await self.pc.setLocalDescription(
            await (self.pc.createOffer() if to_offer(self.pc) else self.pc.createAnswer())
        )
        local = self.pc.localDescription
        sdp, candidates = split_candidates(local.sdp)
        self.local_candidates = candidates
        base = {"type": "call.signal", "call_id": call_id, "to_user_id": to}
        await self.socket.send({**base, "data": {"kind": local.type, "sdp": sdp}})
        for candidate in candidates:
            await self.socket.send({**base, "data": {"kind": "candidate", "candidate": candidate}})
        await self.socket.send({**base, "data": {"kind": "candidate", "candidate": None}})

    async def offer(self, call_id: str, to: str) -> None:
        await self._send_description(call_id, to)

    async def handle_signals(self, call_id: str, until: asyncio.Event) -> None:
        """Apply the signals relayed to this socket until `until` is set."""
        while not until.is_set():
            try:
                frame = await self.socket.recv(0.2)
            except TimeoutError:
                continue
            self.frames.append(frame)
            if frame["type"] != "call.signal":
                continue
            data = frame["data"]
            if data["kind"] in ("offer", "answer"):
                await self.pc.setRemoteDescription(RTCSessionDescription(data["sdp"], data["kind"]))
                if data["kind"] == "offer":
                    await self._send_description(call_id, frame["from_user_id"])
            elif data["candidate"] is None:
                await self.pc.addIceCandidate(None)
            else:
                init = data["candidate"]
                candidate = candidate_from_sdp(init["candidate"].removeprefix("candidate:"))
                candidate.sdpMid = init["sdpMid"]
                candidate.sdpMLineIndex = init["sdpMLineIndex"]
                await self.pc.addIceCandidate(candidate)

    def selected_local_candidate_type(self) -> str | None:
        """The type (host, srflx, relay) of the local candidate of the nominated pair."""
        transceiver = self.pc.getTransceivers()[0]
        ice = transceiver.receiver.transport.transport
        nominated = ice._connection._nominated  # aioice: component -> CandidatePair
        pair = nominated.get(1)
        return None if pair is None else str(pair.local_candidate.type)


def to_offer(pc: RTCPeerConnection) -> bool:
    return pc.remoteDescription is None


async def wait_state(pc: RTCPeerConnection, states: set[str], timeout: float) -> str:
    await eventually(
        lambda: pc.connectionState in states, timeout=timeout, interval=0.05, what=str(states)
    )
    return str(pc.connectionState)


def loudness(frame: AudioFrame) -> float:
    """The root mean square of a decoded (s16, interleaved) frame's samples."""
    assert frame.format.name == "s16", frame.format.name
    count = frame.samples * len(frame.layout.channels)
    samples = array.array("h", bytes(frame.planes[0])[: count * 2])
    return math.sqrt(sum(x * x for x in samples) / max(1, len(samples)))


async def ice_servers(api: Api, user: User) -> list[RTCIceServer]:
    r = await api.http.get("/api/v1/calls/ice-servers", headers=user.headers)
    assert r.status_code == 200, r.text
    return [
        RTCIceServer(urls=s["urls"], username=s["username"], credential=s["credential"])
        for s in r.json()["ice_servers"]
    ]


@dataclass
class Call:
    call_id: str
    caller: Peer
    callee: Peer
    done: asyncio.Event
    tasks: list[asyncio.Task[None]]

    async def aclose(self) -> None:
        self.done.set()
        results = await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.caller.pc.close()
        await self.callee.pc.close()
        for result in results:
            if isinstance(result, BaseException):
                raise result


async def place_call(conv: str, caller: Peer, callee: Peer, callee_sockets: list[Client]) -> Call:
    """The caller rings (instance A), the callee answers (instance B) and, as the one who
    joins, offers to the caller; both apply what chatapi relays to them."""
    await caller.socket.send({"type": "call.invite", "conversation_id": conv})
    ringing = await caller.socket.expect("call.ringing")
    call_id = ringing["call"]["id"]
    for s in callee_sockets:
        assert (await s.expect("call.invite"))["call"]["id"] == call_id
    await callee.socket.send({"type": "call.accept", "call_id": call_id})
    accepted = await caller.socket.expect("call.accept")
    assert accepted["user_id"] == callee.user.id
    await callee.socket.expect("call.accept")
    done = asyncio.Event()
    tasks = [
        asyncio.create_task(caller.handle_signals(call_id, done)),
        asyncio.create_task(callee.handle_signals(call_id, done)),
    ]
    await callee.offer(call_id, caller.user.id)
    return Call(call_id, caller, callee, done, tasks)


async def hear_the_tone(peer: Peer) -> None:
    track = await asyncio.wait_for(peer.tracks.get(), 20)
    assert track.kind == "audio"
    frames = [await asyncio.wait_for(track.recv(), 10) for _ in range(40)]
    assert all(isinstance(f, AudioFrame) and f.samples > 0 for f in frames)
    # The tone, not silence (the first frames may be the decoder warming up).
    assert max(loudness(f) for f in frames[10:]) > 1000


# --- tests ----------------------------------------------------------------------------


async def test_aiortc_peers_call_each_other_through_two_instances_and_hear_each_other(
    sockets: Sockets, cluster: list[Server], api: Api
) -> None:
    one, two = cluster
    alice, bob = await api.signup(), await api.signup()
    conv = await direct(api, alice, bob)
    a = await sockets.open(one.ws_url, alice.token)
    b = await sockets.open(two.ws_url, bob.token)
    b_other = await sockets.open(one.ws_url, bob.token)  # Bob's other device
    host_only = RTCConfiguration(iceServers=[])
    call = await place_call(
        conv, Peer(alice, a, host_only), Peer(bob, b, host_only), callee_sockets=[b, b_other]
    )
    try:
        for peer in (call.caller, call.callee):
            assert await wait_state(peer.pc, {"connected", "failed"}, 30) == "connected"
        # Candidates really went through chatapi (trickled), not inside the SDP.
        assert call.callee.local_candidates and call.caller.local_candidates
        await asyncio.gather(hear_the_tone(call.caller), hear_the_tone(call.callee))
        await elapse(1.0, "the call lasts a second")
    finally:
        await call.aclose()
    await a.send({"type": "call.hangup", "call_id": call.call_id})
    hung = await b.expect("call.hangup")
    assert hung["user_id"] == alice.id and hung["call"]["participants"][0]["user_id"] == bob.id
    ended = {c: await c.expect("call.ended") for c in (a, b, b_other)}
    for frame in ended.values():
        assert frame["call"]["outcome"] == "completed"
        assert frame["call"]["call_id"] == call.call_id
        assert frame["call"]["duration_seconds"] >= 1
    events = [e for e in await api.events(bob, conv) if e["type"] == "call.ended"]
    assert [e["call"] for e in events] == [ended[b]["call"]]
    assert sorted(events[0]["call"]["participant_ids"]) == sorted([alice.id, bob.id])
    # The other device never got the signalling.
    assert not [f for f in b_other.seen if f["type"] == "call.signal"]


async def test_peers_restricted_to_relay_connect_through_coturn_with_chatapis_credentials(
    sockets: Sockets, cluster: list[Server], api: Api, coturn: Coturn
) -> None:
    one, two = cluster
    alice, bob = await api.signup(), await api.signup()
    conv = await direct(api, alice, bob)
    a = await sockets.open(one.ws_url, alice.token)
    b = await sockets.open(two.ws_url, bob.token)
    relay = RTCIceTransportPolicy.RELAY
    alice_servers = await ice_servers(api, alice)
    async with Api(two.base_url) as api_b:
        bob_servers = await ice_servers(api_b, bob)
    assert [s.urls for s in alice_servers] == [[coturn.url]]
    call = await place_call(
        conv,
        Peer(alice, a, RTCConfiguration(iceServers=alice_servers, iceTransportPolicy=relay)),
        Peer(bob, b, RTCConfiguration(iceServers=bob_servers, iceTransportPolicy=relay)),
        callee_sockets=[b],
    )
    try:
        for peer in (call.caller, call.callee):
            state = await wait_state(peer.pc, {"connected", "failed"}, 30)
            assert state == "connected", coturn.log_text()[-3000:]
            assert peer.selected_local_candidate_type() == "relay"
        for peer in (call.caller, call.callee):
            assert {c["candidate"].split()[7] for c in peer.local_candidates} == {"relay"}
        await asyncio.gather(hear_the_tone(call.caller), hear_the_tone(call.callee))
    finally:
        await call.aclose()
    await b.send({"type": "call.hangup", "call_id": call.call_id})
    assert (await a.expect("call.ended"))["call"]["outcome"] == "completed"
    # coturn saw both users' credentials (`<expiry>:<user id>`).
    log = coturn.log_text()
    assert alice.id in log and bob.id in log


async def test_an_expired_turn_credential_gets_no_relay_and_the_call_cannot_connect(
    sockets: Sockets, cluster: list[Server], api: Api, coturn: Coturn
) -> None:
    one, two = cluster
    alice, bob = await api.signup(), await api.signup()
    conv = await direct(api, alice, bob)
    a = await sockets.open(one.ws_url, alice.token)
    b = await sockets.open(two.ws_url, bob.token)
    relay = RTCIceTransportPolicy.RELAY
    # Issued the way chatapi issues them, but expired a minute ago.
    username, password = turn_credential(
        TURN_SECRET, user_id=uuid.UUID(alice.id), expires_at=int(time.time()) - 60
    )
    expired = [RTCIceServer(urls=[coturn.url], username=username, credential=password)]
    async with Api(two.base_url) as api_b:
        bob_servers = await ice_servers(api_b, bob)
    call = await place_call(
        conv,
        Peer(alice, a, RTCConfiguration(iceServers=expired, iceTransportPolicy=relay)),
        Peer(bob, b, RTCConfiguration(iceServers=bob_servers, iceTransportPolicy=relay)),
        callee_sockets=[b],
    )
    try:
        # Bob, whose credential works, offered his relay candidate; Alice had none to
        # answer with, so his checks have nothing to pair with: the connection fails.
        assert await wait_state(call.callee.pc, {"connected", "failed"}, 30) == "failed"
        assert call.callee.local_candidates
        assert call.caller.local_candidates == []  # coturn refused Alice's allocation
        assert call.caller.pc.connectionState != "connected"
        refused = [line for line in coturn.log_text().splitlines() if f"<{username}>" in line]
        assert any("401" in line for line in refused), coturn.log_text()[-3000:]
    finally:
        await call.aclose()
    await a.send({"type": "call.hangup", "call_id": call.call_id})
    assert (await b.expect("call.ended"))["call"]["call_id"] == call.call_id
