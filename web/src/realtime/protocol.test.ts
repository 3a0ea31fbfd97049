import { describe, expect, it } from "vitest";
import { newEvent } from "../test/factories";
import { isEventFrame, parseServerFrame, type ServerFrame } from "./protocol";
import { CLIENT_FRAME_TYPES, SERVER_FRAME_TYPES, TIMELINE_EVENT_TYPES } from "./protocol.gen";

describe("protocol", () => {
  it("knows every server frame type, timeline events included", () => {
    expect(SERVER_FRAME_TYPES).toContain("auth.renewed");
    expect(SERVER_FRAME_TYPES).toContain("conversation.created");
    for (const type of TIMELINE_EVENT_TYPES) expect(SERVER_FRAME_TYPES).toContain(type);
    expect(CLIENT_FRAME_TYPES).toEqual([
      "auth",
      "message.send",
      "typing",
      "read",
      "delivered",
      "ping",
      "call.invite",
      "call.accept",
      "call.decline",
      "call.hangup",
      "call.signal",
      "call.media",
    ]);
    for (const type of ["call.invite", "call.ringing", "call.accept", "call.signal", "call.busy"]) {
      expect(SERVER_FRAME_TYPES).toContain(type);
    }
  });

  it("parses known frames and drops unknown or malformed ones", () => {
    for (const type of SERVER_FRAME_TYPES) {
      expect(parseServerFrame(JSON.stringify({ type }))?.type).toBe(type);
    }
    expect(parseServerFrame(JSON.stringify({ type: "bogus" }))).toBeNull();
    expect(parseServerFrame(JSON.stringify({ type: "message.send" }))).toBeNull(); // a client frame
    expect(parseServerFrame("not json")).toBeNull();
    expect(parseServerFrame(JSON.stringify([1]))).toBeNull();
    expect(parseServerFrame(new ArrayBuffer(2))).toBeNull();
  });

  it("tells timeline events from the other frames", () => {
    for (const type of TIMELINE_EVENT_TYPES) expect(isEventFrame({ ...newEvent(1), type })).toBe(true);
    const others: ServerFrame[] = [
      { type: "pong" },
      { type: "typing", conversation_id: "c", user_id: "u", state: "start" },
      { type: "auth.renewed", expires_at: "2026-01-01T00:00:00Z" },
      { type: "conversation.created", conversation_id: "c", kind: "group", title: null },
    ];
    for (const frame of others) expect(isEventFrame(frame)).toBe(false);
  });
});
