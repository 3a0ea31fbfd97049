import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ChatEvent } from "../api/types";
import { CONV, newEvent, user } from "../test/factories";
import type { ServerFrame } from "./protocol";
import { backoffDelay, ChatSocket } from "./socket";

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(public url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(frame: object) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

const flush = () => new Promise((r) => setTimeout(r, 0));

function setup(fetchEvents = vi.fn(async (_c: string, _after: number): Promise<ChatEvent[]> => [])) {
  const frames: ServerFrame[] = [];
  const socket = new ChatSocket({
    url: "ws://test/api/v1/ws",
    getToken: async () => "tok",
    fetchEvents,
    createSocket: (url) => new FakeSocket(url) as unknown as WebSocket,
    random: () => 0,
    baseDelayMs: 10,
  });
  socket.subscribe((f) => frames.push(f));
  return { socket, frames, fetchEvents };
}

describe("ChatSocket", () => {
  beforeEach(() => {
    FakeSocket.all = [];
  });
  afterEach(() => vi.useRealTimers());

  it("authenticates first and is ready only after the ready frame", async () => {
    const { socket } = setup();
    socket.start();
    const ws = FakeSocket.all[0]!;
    ws.open();
    await flush();
    expect(ws.sent).toEqual([{ type: "auth", token: "tok" }]);
    expect(socket.state).toBe("authenticating");
    expect(socket.send({ type: "ping" })).toBe(false);
    ws.receive({ type: "ready", user: user("me"), session_id: "s" });
    expect(socket.state).toBe("ready");
    expect(socket.send({ type: "ping" })).toBe(true);
    socket.stop();
  });

  it("drops live events it has already delivered", async () => {
    const { socket, frames } = setup();
    socket.start();
    const ws = FakeSocket.all[0]!;
    ws.open();
    await flush();
    ws.receive({ type: "ready", user: user("me"), session_id: "s" });
    ws.receive(newEvent(1));
    ws.receive(newEvent(1));
    ws.receive(newEvent(2));
    expect(frames.filter((f) => f.type === "message.new").map((f) => (f as ChatEvent).seq)).toEqual([1, 2]);
    socket.stop();
  });

  it("catches up tracked conversations after reconnecting, without duplicates", async () => {
    vi.useFakeTimers();
    const fetchEvents = vi.fn(async (_c: string, after: number) =>
      [newEvent(4), newEvent(5), newEvent(6)].filter((e) => e.seq > after),
    );
    const { socket, frames } = setup(fetchEvents);
    socket.track(CONV, 3);
    socket.start();
    FakeSocket.all[0]!.open();
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.all[0]!.drop();
    expect(socket.state).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(20);
    const ws = FakeSocket.all[1]!;
    ws.open();
    await vi.advanceTimersByTimeAsync(0);
    ws.receive(newEvent(6)); // live event racing the catch-up
    ws.receive({ type: "ready", user: user("me"), session_id: "s2" });
    await vi.advanceTimersByTimeAsync(0);
    expect(fetchEvents).toHaveBeenCalledWith(CONV, 3, 200);
    const seqs = frames.filter((f) => f.type === "message.new").map((f) => (f as ChatEvent).seq);
    expect([...seqs].sort()).toEqual([4, 5, 6]);
    socket.stop();
  });

  it("fetches a fresh token after a 4401 close", async () => {
    vi.useFakeTimers();
    const getToken = vi.fn(async (force: boolean) => (force ? "fresh" : "stale"));
    const socket = new ChatSocket({
      url: "ws://x",
      getToken,
      fetchEvents: async () => [],
      createSocket: (url) => new FakeSocket(url) as unknown as WebSocket,
      random: () => 0,
      baseDelayMs: 10,
    });
    socket.start();
    FakeSocket.all[0]!.open();
    await vi.advanceTimersByTimeAsync(0);
    FakeSocket.all[0]!.drop(4401);
    await vi.advanceTimersByTimeAsync(0);
    expect(getToken).toHaveBeenCalledWith(true);
    await vi.advanceTimersByTimeAsync(20);
    expect(FakeSocket.all).toHaveLength(2);
    socket.stop();
  });

  it("backs off exponentially with jitter, capped", () => {
    expect(backoffDelay(0, 500, 30_000, () => 0)).toBe(250);
    expect(backoffDelay(3, 500, 30_000, () => 1)).toBe(4000);
    expect(backoffDelay(20, 500, 30_000, () => 1)).toBe(30_000);
  });
});

describe("ChatSocket reconnecting after an outage", () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  function outageSocket(now: () => number = Date.now, random = () => 1) {
    return new ChatSocket({
      url: "ws://x",
      getToken: async () => "tok",
      fetchEvents: async () => [],
      createSocket: (url) => new FakeSocket(url) as unknown as WebSocket,
      random,
      now,
    });
  }

  async function connectReady(socket: ChatSocket) {
    socket.start();
    const ws = FakeSocket.all.at(-1)!;
    ws.open();
    await vi.advanceTimersByTimeAsync(0);
    ws.receive({ type: "ready", user: user("me"), session_id: "s" });
    expect(socket.state).toBe("ready");
  }

  /** Refuse every connection attempt for `ms`, as a stopped server does. */
  async function refuseFor(ms: number) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const ws = FakeSocket.all.at(-1)!;
      if (ws.readyState === 0) ws.drop(1006);
      await vi.advanceTimersByTimeAsync(50);
    }
  }

  it.each([10_000, 30_000])("tries again within a second of the server's return after a %i ms outage", async (ms) => {
    const socket = outageSocket();
    await connectReady(socket);
    FakeSocket.all.at(-1)!.drop(1012);
    await refuseFor(ms);
    const attemptsSoFar = FakeSocket.all.length;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(FakeSocket.all.length).toBeGreaterThan(attemptsSoFar);
    socket.stop();
  });

  it("caps the backoff low, with jitter, and higher only after a long outage", () => {
    for (let attempt = 0; attempt < 30; attempt += 1) {
      expect(backoffDelay(attempt, 250, 1_000, () => 1)).toBeLessThanOrEqual(1_000);
      expect(backoffDelay(attempt, 250, 1_000, () => 0)).toBeGreaterThanOrEqual(125);
    }
    // Jitter: the same attempt spreads over [d/2, d].
    expect(backoffDelay(5, 250, 1_000, () => 0)).toBe(500);
    expect(backoffDelay(5, 250, 1_000, () => 0.5)).toBe(750);
    expect(backoffDelay(5, 250, 1_000, () => 1)).toBe(1_000);
  });

  it("waits longer between attempts once the outage passes two minutes", async () => {
    const socket = outageSocket();
    await connectReady(socket);
    FakeSocket.all.at(-1)!.drop(1006);
    await refuseFor(121_000);
    const before = FakeSocket.all.length;
    await refuseFor(5_000);
    // With the 10 s cap (and random() = 1), five seconds see no more than one attempt.
    expect(FakeSocket.all.length - before).toBeLessThanOrEqual(1);
    socket.stop();
  });

  it("retryNow connects at once instead of waiting out the backoff", async () => {
    const socket = outageSocket();
    await connectReady(socket);
    FakeSocket.all.at(-1)!.drop(1006);
    await refuseFor(3_000);
    const before = FakeSocket.all.length;
    socket.retryNow();
    expect(FakeSocket.all.length).toBe(before + 1);
    expect(socket.state).toBe("connecting");
    socket.stop();
  });

  it("tries at once when the tab becomes visible or the network comes back", async () => {
    const socket = outageSocket();
    await connectReady(socket);
    FakeSocket.all.at(-1)!.drop(1006);
    await refuseFor(2_000);
    let before = FakeSocket.all.length;
    if (FakeSocket.all.at(-1)!.readyState === 0) FakeSocket.all.at(-1)!.drop(1006);
    document.dispatchEvent(new Event("visibilitychange"));
    expect(FakeSocket.all.length).toBe(before + 1);
    FakeSocket.all.at(-1)!.drop(1006);
    before = FakeSocket.all.length;
    window.dispatchEvent(new Event("online"));
    expect(FakeSocket.all.length).toBe(before + 1);
    socket.stop();
  });

  it("abandons an attempt that hangs and tries again", async () => {
    const socket = outageSocket();
    socket.start();
    expect(FakeSocket.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(8_000 + 1_000);
    expect(FakeSocket.all.length).toBeGreaterThan(1);
    socket.stop();
  });
});
