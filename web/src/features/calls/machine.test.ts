import { describe, expect, it } from "vitest";
import {
  callsReducer,
  incomingCall,
  initialCalls,
  joinableCall,
  myCall,
  rejoinableCall,
  remoteParticipants,
  type CallsAction,
  type CallsState,
} from "./machine";
import type { CallServerFrame, CallState } from "./types";

const names: Record<string, string> = { alice: "Alice", bob: "Bob", carol: "Carol" };
const nameOf = (id: string) => names[id] ?? "Someone";

function call(over: Partial<CallState> = {}): CallState {
  return {
    id: "call-1",
    conversation_id: "conv-1",
    started_by: "alice",
    video: true,
    state: "ringing",
    created_at: "2026-01-01T10:00:00Z",
    answered_at: null,
    ring_until: "2026-01-01T10:00:45Z",
    participants: [
      {
        user_id: "alice",
        connection_id: "a1",
        joined_at: "2026-01-01T10:00:00Z",
        connected: true,
        audio: true,
        video: true,
        screen: false,
      },
    ],
    ringing_user_ids: ["bob"],
    ...over,
  };
}

const answered = call({
  state: "active",
  answered_at: "2026-01-01T10:00:05Z",
  ringing_user_ids: [],
  participants: [
    ...call().participants,
    {
      user_id: "bob",
      connection_id: "b1",
      joined_at: "2026-01-01T10:00:05Z",
      connected: true,
      audio: true,
      video: true,
      screen: false,
    },
  ],
});

function run(state: CallsState, ...steps: (CallsAction | CallServerFrame)[]): CallsState {
  return steps.reduce<CallsState>(
    (s, step) =>
      callsReducer(
        s,
        step.type.startsWith("call.")
          ? { type: "frame", frame: step as CallServerFrame, nameOf }
          : (step as CallsAction),
      ),
    state,
  );
}

describe("the caller", () => {
  const alice = run(initialCalls("alice"), { type: "ready", connectionId: "a1" });

  it("rings, connects once answered, and is in the call when media flows", () => {
    let s = run(alice, { type: "start", conversationId: "conv-1", video: true });
    expect(s.mine).toMatchObject({ callId: null, phase: "outgoing" });
    s = run(s, { type: "call.ringing", call: call() });
    expect(s.mine).toMatchObject({ callId: "call-1", phase: "outgoing" });
    expect(incomingCall(s)).toBeNull();
    s = run(s, { type: "call.accept", call_id: "call-1", user_id: "bob", connection_id: "b1", call: answered });
    expect(s.mine?.phase).toBe("connecting");
    expect(remoteParticipants(s)).toEqual(["bob"]);
    s = run(s, { type: "peer", userId: "bob", connected: true });
    expect(s.mine?.phase).toBe("in-call");
    s = run(s, { type: "peer", userId: "bob", connected: false });
    expect(s.mine?.phase).toBe("connecting");
  });

  it("hears that the other is busy, or declined", () => {
    let s = run(
      alice,
      { type: "start", conversationId: "conv-1", video: false },
      { type: "call.ringing", call: call() },
    );
    s = run(s, { type: "call.busy", call_id: "call-1", user_id: "bob" });
    expect(s.notice).toEqual({ kind: "busy", text: "Bob is busy" });
    s = run(s, { type: "call.decline", call_id: "call-1", user_id: "bob", call: call({ ringing_user_ids: [] }) });
    expect(s.notice).toEqual({ kind: "declined", text: "Bob declined" });
  });

  it("is out of the call when it ends", () => {
    let s = run(
      alice,
      { type: "start", conversationId: "conv-1", video: true },
      { type: "call.ringing", call: call() },
    );
    s = run(s, {
      type: "ended",
      conversationId: "conv-1",
      call: {
        call_id: "call-1",
        video: true,
        outcome: "missed",
        duration_seconds: null,
        started_by: "alice",
        participant_ids: ["alice"],
      },
    });
    expect(s.mine).toBeNull();
    expect(s.calls).toEqual({});
  });

  it("joins the running call when calling where one is already going", () => {
    let s = run(alice, { type: "start", conversationId: "conv-1", video: false });
    s = run(s, {
      type: "call.accept",
      call_id: "call-1",
      user_id: "alice",
      connection_id: "a1",
      call: { ...answered, started_by: "bob" },
    });
    expect(s.mine).toMatchObject({ callId: "call-1", phase: "connecting" });
  });

  it("gives up a call the server refused", () => {
    const s = run(
      alice,
      { type: "start", conversationId: "conv-1", video: true },
      { type: "error", code: "call_too_large", detail: "" },
    );
    expect(s.mine).toBeNull();
    expect(s.notice?.kind).toBe("error");
    // Errors about something else leave the call alone.
    const t = run(
      alice,
      { type: "start", conversationId: "conv-1", video: true },
      { type: "error", code: "rate_limited", detail: "" },
    );
    expect(t.mine).not.toBeNull();
  });
});

describe("the person called", () => {
  const bobTab1 = run(initialCalls("bob"), { type: "ready", connectionId: "b1" });
  const bobTab2 = run(initialCalls("bob"), { type: "ready", connectionId: "b2" });

  it("rings on every tab until one answers", () => {
    let one = run(bobTab1, { type: "call.invite", call: call() });
    let two = run(bobTab2, { type: "call.invite", call: call() });
    expect(incomingCall(one)?.id).toBe("call-1");
    expect(incomingCall(two)?.id).toBe("call-1");
    one = run(one, { type: "accept", callId: "call-1", video: true });
    expect(incomingCall(one)).toBeNull();
    expect(myCall(one)?.id).toBe("call-1");
    const accepted: CallServerFrame = {
      type: "call.accept",
      call_id: "call-1",
      user_id: "bob",
      connection_id: "b1",
      call: answered,
    };
    one = run(one, accepted);
    two = run(two, accepted);
    expect(one.mine?.callId).toBe("call-1");
    expect(incomingCall(two)).toBeNull();
    expect(two.mine).toBeNull();
  });

  it("stops ringing when declined here, and when the call ends", () => {
    let s = run(bobTab1, { type: "call.invite", call: call() });
    s = run(s, { type: "decline", callId: "call-1" });
    expect(incomingCall(s)).toBeNull();
    let t = run(bobTab2, { type: "call.invite", call: call() });
    t = run(t, {
      type: "ended",
      conversationId: "conv-1",
      call: {
        call_id: "call-1",
        video: true,
        outcome: "missed",
        duration_seconds: null,
        started_by: "alice",
        participant_ids: ["alice"],
      },
    });
    expect(incomingCall(t)).toBeNull();
  });

  it("learns of calls from the snapshot after a reload, and may rejoin a running one", () => {
    let s = run(bobTab2, { type: "snapshot", calls: [call()] });
    expect(incomingCall(s)?.id).toBe("call-1");
    s = run(s, { type: "snapshot", calls: [answered] });
    expect(incomingCall(s)).toBeNull();
    // Bob is in it from b1 (another tab): this tab may join instead.
    expect(joinableCall(s, "conv-1")?.id).toBe("call-1");
    expect(joinableCall(bobTab1 && run(bobTab1, { type: "snapshot", calls: [answered] }), "conv-1")).toBeNull();
  });

  it("offers to take up a call left by a reload", () => {
    const dropped = {
      ...answered,
      participants: answered.participants.map((p) => (p.user_id === "bob" ? { ...p, connected: false } : p)),
    };
    const s = run(bobTab2, { type: "snapshot", calls: [dropped] });
    expect(rejoinableCall(s)?.id).toBe("call-1");
    // Still connected from another tab: that tab has it, nothing to take up here.
    expect(rejoinableCall(run(bobTab2, { type: "snapshot", calls: [answered] }))).toBeNull();
  });

  it("gives up an answer another device made first", () => {
    let s = run(bobTab1, { type: "call.invite", call: call() }, { type: "accept", callId: "call-1", video: true });
    s = run(s, { type: "error", code: "call_answered_elsewhere", detail: "" });
    expect(s.mine).toBeNull();
    expect(s.notice?.text).toBe("You are in this call on another device.");
  });

  it("follows the others' media", () => {
    let s = run(bobTab1, { type: "call.invite", call: call() }, { type: "accept", callId: "call-1", video: true });
    s = run(s, { type: "call.media", call_id: "call-1", user_id: "alice", audio: false, video: false, screen: true });
    expect(myCall(s)?.participants.find((p) => p.user_id === "alice")).toMatchObject({
      audio: false,
      video: false,
      screen: true,
    });
  });

  it("leaves the call when another device takes it over", () => {
    let s = run(bobTab1, { type: "call.invite", call: call() }, { type: "accept", callId: "call-1", video: true });
    s = run(s, { type: "call.accept", call_id: "call-1", user_id: "bob", connection_id: "b2", call: answered });
    expect(s.mine).toBeNull();
  });
});
