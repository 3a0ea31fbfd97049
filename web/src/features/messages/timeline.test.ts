import { describe, expect, it } from "vitest";
import type { ChatEvent } from "../../api/types";
import { ALICE, CONV, ME, message, newEvent } from "../../test/factories";
import {
  acknowledge,
  addPending,
  applyEvent,
  applyEvents,
  applyRangeEvents,
  emptyTimeline,
  hasGap,
  loadLatest,
  oldestSeq,
  pageSpan,
  prependHistory,
  setPendingStatus,
  timelineItems,
  type PendingMessage,
} from "./timeline";

const seqs = (tl: { messages: { seq: number }[] }) => tl.messages.map((m) => m.seq);

function pending(clientId: string, body = "hello"): PendingMessage {
  return {
    client_id: clientId,
    conversation_id: CONV,
    sender_id: ME,
    body,
    reply_to_id: null,
    attachment_ids: [],
    attachments: [],
    created_at: "2026-01-01T12:00:00Z",
    status: "queued",
  };
}

describe("merging events", () => {
  it("appends new messages in seq order and advances the watermark", () => {
    const tl = applyEvents(emptyTimeline(CONV), [newEvent(1), newEvent(2), newEvent(3)]);
    expect(seqs(tl)).toEqual([1, 2, 3]);
    expect(tl.lastSeq).toBe(3);
    expect(hasGap(tl)).toBe(false);
  });

  it("replaces an edited message in place", () => {
    let tl = applyEvents(emptyTimeline(CONV), [newEvent(1), newEvent(2)]);
    const edited = message(1, { body: "fixed", edited_at: "2026-01-01T13:00:00Z" });
    tl = applyEvent(tl, {
      conversation_id: CONV,
      seq: 3,
      type: "message.edited",
      created_at: "",
      actor_id: ALICE,
      message: edited,
    });
    expect(tl.messages[0]?.body).toBe("fixed");
    expect(seqs(tl)).toEqual([1, 2]);
    expect(tl.lastSeq).toBe(3);
  });

  it("keeps a deleted message in the timeline, marked deleted", () => {
    let tl = applyEvents(emptyTimeline(CONV), [newEvent(1)]);
    const gone = message(1, { body: "", deleted: true });
    tl = applyEvent(tl, {
      conversation_id: CONV,
      seq: 2,
      type: "message.deleted",
      created_at: "",
      actor_id: ALICE,
      message: gone,
    });
    expect(tl.messages).toHaveLength(1);
    expect(tl.messages[0]?.deleted).toBe(true);
  });

  it("does not resurrect a deleted message with an older copy", () => {
    let tl = applyEvents(emptyTimeline(CONV), [newEvent(1)]);
    tl = applyEvent(tl, {
      conversation_id: CONV,
      seq: 3,
      type: "message.deleted",
      created_at: "",
      actor_id: ALICE,
      message: message(1, { deleted: true, body: "" }),
    });
    // the edit at seq 2 arrives late, carrying a stale copy
    tl = applyEvent(tl, {
      conversation_id: CONV,
      seq: 2,
      type: "message.edited",
      created_at: "",
      actor_id: ALICE,
      message: message(1, { body: "stale", edited_at: "2026-01-01T13:00:00Z" }),
    });
    expect(tl.messages[0]?.deleted).toBe(true);
    expect(tl.lastSeq).toBe(3);
  });

  it("ignores edits of messages older than the loaded window", () => {
    let tl = loadLatest(emptyTimeline(CONV), [message(10), message(11)], 2);
    tl = applyEvent(tl, {
      conversation_id: CONV,
      seq: 12,
      type: "message.edited",
      created_at: "",
      actor_id: ALICE,
      message: message(3, { body: "old" }),
    });
    expect(seqs(tl)).toEqual([10, 11]);
    expect(tl.lastSeq).toBe(12);
  });

  it("advances the watermark on member and conversation events without adding messages", () => {
    const tl = applyEvent(emptyTimeline(CONV), {
      conversation_id: CONV,
      seq: 1,
      type: "member.added",
      created_at: "",
      actor_id: ALICE,
    });
    expect(tl.messages).toEqual([]);
    expect(tl.lastSeq).toBe(1);
  });

  it("ignores events of another conversation", () => {
    const tl = applyEvent(emptyTimeline(CONV), { ...newEvent(1), conversation_id: "other" });
    expect(tl.lastSeq).toBe(0);
  });
});

describe("dedupe by seq", () => {
  it("drops an event it has already applied", () => {
    const once = applyEvents(emptyTimeline(CONV), [newEvent(1), newEvent(2)]);
    const twice = applyEvents(once, [newEvent(1), newEvent(2)]);
    expect(twice).toBe(once);
  });

  it("drops a duplicate that arrives past a gap", () => {
    let tl = applyEvents(emptyTimeline(CONV), [newEvent(1), newEvent(3)]);
    const again = applyEvent(tl, newEvent(3));
    expect(again).toBe(tl);
    tl = applyEvent(tl, newEvent(2));
    expect(seqs(tl)).toEqual([1, 2, 3]);
  });

  it("merges a catch-up page overlapping live events", () => {
    let tl = applyEvents(emptyTimeline(CONV), [newEvent(1), newEvent(2)]);
    tl = applyEvents(tl, [newEvent(2), newEvent(3), newEvent(4)]);
    expect(seqs(tl)).toEqual([1, 2, 3, 4]);
    expect(tl.lastSeq).toBe(4);
  });
});

describe("gap detection", () => {
  it("reports a gap when an event skips seqs, and applies it anyway", () => {
    const tl = applyEvents(emptyTimeline(CONV), [newEvent(1), newEvent(4)]);
    expect(hasGap(tl)).toBe(true);
    expect(tl.lastSeq).toBe(1);
    expect(seqs(tl)).toEqual([1, 4]);
  });

  it("closes the gap once the missing events arrive", () => {
    let tl = applyEvents(emptyTimeline(CONV), [newEvent(1), newEvent(4), newEvent(5)]);
    tl = applyEvents(tl, [newEvent(2), newEvent(3)]);
    expect(hasGap(tl)).toBe(false);
    expect(tl.lastSeq).toBe(5);
    expect(seqs(tl)).toEqual([1, 2, 3, 4, 5]);
  });

  it("starts the watermark at the newest loaded message", () => {
    let tl = loadLatest(emptyTimeline(CONV), [message(7), message(8)], 50);
    expect(tl.lastSeq).toBe(8);
    expect(tl.hasOlder).toBe(false);
    tl = applyEvent(tl, newEvent(10));
    expect(hasGap(tl)).toBe(true);
  });
});

describe("history", () => {
  it("prepends older pages and knows when the beginning is reached", () => {
    let tl = loadLatest(emptyTimeline(CONV), [message(3), message(4)], 2);
    expect(tl.hasOlder).toBe(true);
    expect(oldestSeq(tl)).toBe(3);
    tl = prependHistory(tl, [message(1), message(2)], 2);
    expect(seqs(tl)).toEqual([1, 2, 3, 4]);
    expect(tl.hasOlder).toBe(false);
  });

  it("keeps the watermark when history is prepended", () => {
    let tl = loadLatest(emptyTimeline(CONV), [message(5)], 1);
    tl = prependHistory(tl, [message(4)], 1);
    expect(tl.lastSeq).toBe(5);
  });
});

describe("optimistic send and ack by client_id", () => {
  it("shows a pending message after the confirmed ones", () => {
    let tl = applyEvents(emptyTimeline(CONV), [newEvent(1)]);
    tl = addPending(tl, pending("c1"));
    expect(timelineItems(tl).map((i) => i.kind)).toEqual(["message", "pending"]);
  });

  it("does not add the same client_id twice", () => {
    const tl = addPending(emptyTimeline(CONV), pending("c1"));
    expect(addPending(tl, pending("c1"))).toBe(tl);
  });

  it("replaces the pending message with the acknowledged one", () => {
    let tl = addPending(applyEvents(emptyTimeline(CONV), [newEvent(1)]), pending("c1"));
    tl = acknowledge(tl, "c1", message(2, { sender_id: ME, client_id: "c1", body: "hello" }));
    expect(tl.pending).toEqual([]);
    expect(seqs(tl)).toEqual([1, 2]);
    expect(tl.lastSeq).toBe(2);
  });

  it("treats the message.new echo after the ack as a duplicate", () => {
    let tl = addPending(emptyTimeline(CONV), pending("c1"));
    const stored = message(1, { sender_id: ME, client_id: "c1" });
    tl = acknowledge(tl, "c1", stored);
    const echoed = applyEvent(tl, newEvent(1, { sender_id: ME, client_id: "c1" }));
    expect(echoed).toBe(tl);
    expect(tl.messages).toHaveLength(1);
  });

  it("drops the pending copy when message.new arrives before the ack", () => {
    let tl = addPending(emptyTimeline(CONV), pending("c1"));
    tl = applyEvent(tl, newEvent(1, { sender_id: ME, client_id: "c1" }));
    expect(tl.pending).toEqual([]);
    tl = acknowledge(tl, "c1", message(1, { sender_id: ME, client_id: "c1" }));
    expect(tl.messages).toHaveLength(1);
    expect(tl.lastSeq).toBe(1);
  });

  it("keeps another sender's message with the same client_id apart from mine", () => {
    let tl = addPending(emptyTimeline(CONV), pending("c1"));
    tl = applyEvent(tl, newEvent(1, { sender_id: ALICE, client_id: "c1" }));
    expect(tl.pending).toHaveLength(1);
  });

  it("marks a pending message failed and back to queued for a retry", () => {
    let tl = addPending(emptyTimeline(CONV), pending("c1"));
    tl = setPendingStatus(tl, "c1", "failed", "too long");
    expect(tl.pending[0]).toMatchObject({ status: "failed", error: "too long" });
    tl = setPendingStatus(tl, "c1", "queued");
    expect(tl.pending[0]?.status).toBe("queued");
  });

  it("an ack past a gap shows the message and leaves the gap to catch up", () => {
    let tl = addPending(applyEvents(emptyTimeline(CONV), [newEvent(1)]), pending("c1"));
    tl = acknowledge(tl, "c1", message(3, { sender_id: ME, client_id: "c1" }));
    expect(seqs(tl)).toEqual([1, 3]);
    expect(hasGap(tl)).toBe(true);
    const caughtUp: ChatEvent[] = [newEvent(2), newEvent(3, { sender_id: ME, client_id: "c1" })];
    tl = applyEvents(tl, caughtUp);
    expect(tl.lastSeq).toBe(3);
    expect(hasGap(tl)).toBe(false);
  });

  it("a reloaded page containing the acknowledged message drops the pending copy", () => {
    let tl = addPending(emptyTimeline(CONV), pending("c1"));
    tl = loadLatest(tl, [message(1, { sender_id: ME, client_id: "c1" })], 50);
    expect(tl.pending).toEqual([]);
  });
});

function systemEvent(seq: number, type: ChatEvent["type"] = "member.added"): ChatEvent {
  return {
    conversation_id: CONV,
    seq,
    type,
    created_at: "2026-01-01T12:00:00Z",
    actor_id: ALICE,
    member: { user_id: ME, role: "member" },
  };
}

const kinds = (tl: ReturnType<typeof emptyTimeline>) =>
  timelineItems(tl).map((i) => (i.kind === "message" ? i.message.seq : i.kind === "system" ? `s${i.event.seq}` : "p"));

describe("system lines in the timeline", () => {
  it("keeps membership and settings events and shows them in seq order among the messages", () => {
    const tl = applyEvents(emptyTimeline(CONV), [
      newEvent(1),
      systemEvent(2),
      newEvent(3),
      systemEvent(4, "conversation.updated"),
    ]);
    expect(tl.lastSeq).toBe(4);
    expect(tl.system.map((e) => e.seq)).toEqual([2, 4]);
    expect(kinds(addPending(tl, pending("c1")))).toEqual([1, "s2", 3, "s4", "p"]);
  });

  it("a page spans from its first message (or the start) to its newest", () => {
    expect(pageSpan([message(51), message(60)], true, 60)).toEqual({ after: 50, until: 60 });
    expect(pageSpan([message(3), message(9)], false, 9)).toEqual({ after: 0, until: 9 });
    expect(pageSpan([], false, 12)).toEqual({ after: 0, until: 12 });
    expect(pageSpan([], false, 0)).toBeNull();
  });

  it("the events of a page's span add its system lines without moving the watermark back", () => {
    let tl = loadLatest(emptyTimeline(CONV), [message(3), message(5)], 2);
    expect(tl.hasOlder).toBe(true);
    const edited = { ...newEvent(5, { body: "edited later", edited_at: "2026-01-02T00:00:00Z" }), seq: 5 };
    tl = applyRangeEvents(tl, [newEvent(3), systemEvent(4, "member.removed"), edited]);
    expect(kinds(tl)).toEqual([3, "s4", 5]);
    expect(tl.messages.at(-1)?.body).toBe("edited later");
    expect(tl.lastSeq).toBe(5);
    // An older page and the events of its span: the lines before the first message too.
    tl = prependHistory(tl, [message(1)], 2);
    tl = applyRangeEvents(tl, [newEvent(1), systemEvent(2, "member.role_changed")]);
    expect(kinds(tl)).toEqual([1, "s2", 3, "s4", 5]);
  });

  it("does not show lines older than the oldest loaded message while older history is missing", () => {
    const tl = { ...loadLatest(emptyTimeline(CONV), [message(10)], 1), system: [systemEvent(4)] };
    expect(kinds(tl)).toEqual([10]);
  });

  it("a call's line from history sits among the messages of the page it belongs to", () => {
    const call: ChatEvent = {
      ...systemEvent(4),
      type: "call.ended",
      member: null,
      call: {
        call_id: "call-1",
        video: true,
        outcome: "completed",
        duration_seconds: 720,
        started_by: ALICE,
        participant_ids: [ALICE, ME],
      },
    };
    // The newest page is loaded first (its watermark covers the call), then its span's events.
    let tl = loadLatest(emptyTimeline(CONV), [message(3), message(5)], 2);
    tl = applyRangeEvents(tl, [newEvent(3), call, newEvent(5)]);
    expect(kinds(tl)).toEqual([3, "s4", 5]);
    // Live, too.
    expect(kinds(applyEvents(emptyTimeline(CONV), [newEvent(1), { ...call, seq: 2 }]))).toEqual([1, "s2"]);
  });

  it("events past the watermark in a span are applied as new", () => {
    const tl = applyRangeEvents(loadLatest(emptyTimeline(CONV), [message(1)], 50), [systemEvent(2), newEvent(3)]);
    expect(tl.lastSeq).toBe(3);
    expect(kinds(tl)).toEqual([1, "s2", 3]);
  });
});
