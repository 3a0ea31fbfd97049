/**
 * The open chat ends with every message exactly once, whatever the order of the
 * conversation list's reload, live socket frames and the catch-up after a reconnect.
 * The real socket, seq tracker, frame handlers and timeline run together here.
 */
import { QueryClient } from "@tanstack/react-query";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ChatEvent, Conversation } from "../api/types";
import { keys } from "../features/conversations/keys";
import { emptyTimeline, loadLatest, type Timeline } from "../features/messages/timeline";
import { CONV, ME, message, newEvent, user } from "../test/factories";
import { handleFrame, type FrameContext } from "./handlers";
import { ChatSocket } from "./socket";
import { trackTimelines } from "./watermarks";

const holder: { socket: ChatSocket | null } = { socket: null };
vi.mock("./connection", () => ({ getSocket: () => holder.socket }));
vi.mock("../features/messages/changes", () => ({ flushChanges: async () => undefined }));

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor() {
    FakeSocket.all.push(this);
  }
  send() {}
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
  drop() {
    this.readyState = 3;
    this.onclose?.({ code: 1012 });
  }
}

function listWith(lastSeq: number): Conversation[] {
  return [
    {
      id: CONV,
      kind: "direct",
      title: null,
      created_at: "2026-01-01T00:00:00Z",
      last_activity_at: "2026-01-01T00:00:00Z",
      other_user: null,
      last_seq: lastSeq,
      members_count: 2,
      my_role: "member",
      unread_count: 1,
      unread_mentions: 0,
      last_read_seq: 2,
      last_message: message(lastSeq),
      former: null,
      muted: false,
      muted_until: null,
      request: false,
    },
  ];
}

type Step = "list reload" | "live frame" | "catch-up answer";

async function run(order: Step[], liveSeqs: number[] = [3]) {
  FakeSocket.all = [];
  const qc = new QueryClient();
  qc.setQueryData(keys.conversations, listWith(2));
  qc.setQueryData(keys.timeline(CONV), loadLatest(emptyTimeline(CONV), [message(1), message(2)], 50));
  let answer: (events: ChatEvent[]) => void = () => undefined;
  const fetchEvents = vi.fn(
    (_c: string, after: number) =>
      new Promise<ChatEvent[]>((resolve) => {
        answer = (events) => resolve(events.filter((e) => e.seq > after));
      }),
  );
  const socket = new ChatSocket({
    url: "ws://x",
    getToken: async () => "tok",
    fetchEvents,
    createSocket: () => new FakeSocket() as unknown as WebSocket,
    random: () => 0,
  });
  holder.socket = socket;
  const ctx: FrameContext = {
    meId: ME,
    activeConversation: () => CONV,
    announce: () => undefined,
    displayName: () => "Alice",
    onSocketError: () => undefined,
  };
  socket.subscribe((frame, source) => handleFrame(qc, frame, ctx, source));
  const stopTracking = trackTimelines(qc, socket);

  // Connected, then the server restarts; message 3 is stored while this client is away.
  socket.start();
  FakeSocket.all[0]!.open();
  await vi.advanceTimersByTimeAsync(0);
  FakeSocket.all[0]!.receive({ type: "ready", user: user(ME), session_id: "s1" });
  FakeSocket.all[0]!.drop();
  await vi.advanceTimersByTimeAsync(1_000);
  const ws = FakeSocket.all.at(-1)!;
  ws.open();
  await vi.advanceTimersByTimeAsync(0);
  ws.receive({ type: "ready", user: user(ME), session_id: "s2" });
  await vi.advanceTimersByTimeAsync(0);
  expect(fetchEvents).toHaveBeenCalledWith(CONV, 2, 200);

  const newest = Math.max(3, ...liveSeqs);
  for (const step of order) {
    if (step === "list reload") qc.setQueryData(keys.conversations, listWith(newest));
    if (step === "live frame") for (const seq of liveSeqs) ws.receive(newEvent(seq));
    if (step === "catch-up answer") answer([newEvent(3), ...liveSeqs.filter((s) => s !== 3).map((s) => newEvent(s))]);
    await vi.advanceTimersByTimeAsync(0);
  }
  stopTracking();
  socket.stop();
  return qc.getQueryData<Timeline>(keys.timeline(CONV))?.messages.map((m) => m.seq);
}

const STEPS: Step[] = ["list reload", "live frame", "catch-up answer"];
const ORDERS: Step[][] = STEPS.flatMap((a) =>
  STEPS.filter((b) => b !== a).flatMap((b) => STEPS.filter((c) => c !== a && c !== b).map((c) => [a, b, c])),
);

describe("the open chat after a reconnect", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("shows a message sent while away when the list reloads before the catch-up answers", async () => {
    expect(await run(["list reload", "catch-up answer"])).toEqual([1, 2, 3]);
  });

  it.each(ORDERS.map((o) => [o.join(", then "), o] as const))(
    "shows every message exactly once: %s",
    async (_name, order) => {
      expect(await run(order, [4])).toEqual([1, 2, 3, 4]);
    },
  );

  it("a list reload never moves the socket's watermark", () => {
    const qc = new QueryClient();
    const tracked: [string, number][] = [];
    const stop = trackTimelines(qc, { track: (id, seq) => tracked.push([id, seq]) });
    qc.setQueryData(keys.conversations, listWith(9));
    expect(tracked).toEqual([]);
    qc.setQueryData(keys.timeline(CONV), loadLatest(emptyTimeline(CONV), [message(1), message(2)], 50));
    expect(tracked).toEqual([[CONV, 2]]);
    stop();
  });

  it("a timeline holding only unsent messages (not loaded) is not followed", () => {
    const qc = new QueryClient();
    const tracked: [string, number][] = [];
    const stop = trackTimelines(qc, { track: (id, seq) => tracked.push([id, seq]) });
    qc.setQueryData(keys.timeline(CONV), emptyTimeline(CONV));
    expect(tracked).toEqual([]);
    stop();
  });
});
