import { describe, expect, it } from "vitest";
import { callLayout, callLineText, formatCallDuration, formatTimer } from "./format";
import type { EndedCall } from "./types";

const ended = (over: Partial<EndedCall>): EndedCall => ({
  call_id: "c1",
  video: true,
  outcome: "completed",
  duration_seconds: 720,
  started_by: "alice",
  participant_ids: ["alice", "bob"],
  ...over,
});

describe("call durations", () => {
  it("reads like people say it", () => {
    expect(formatCallDuration(0)).toBe("0 s");
    expect(formatCallDuration(45)).toBe("45 s");
    expect(formatCallDuration(60)).toBe("1 min");
    expect(formatCallDuration(12 * 60 + 59)).toBe("12 min");
    expect(formatCallDuration(3600)).toBe("1 h");
    expect(formatCallDuration(3600 + 5 * 60 + 30)).toBe("1 h 5 min");
    expect(formatCallDuration(-3)).toBe("0 s");
  });

  it("runs a clock during the call", () => {
    expect(formatTimer(7_400)).toBe("0:07");
    expect(formatTimer((12 * 60 + 3) * 1000)).toBe("12:03");
    expect(formatTimer((3600 + 5 * 60 + 9) * 1000)).toBe("1:05:09");
  });
});

describe("the timeline line of a call", () => {
  it("says how it went, from the reader's side", () => {
    expect(callLineText(ended({}), "bob")).toBe("Video call · 12 min");
    expect(callLineText(ended({ video: false, duration_seconds: 3900 }), "bob")).toBe("Voice call · 1 h 5 min");
    expect(callLineText(ended({ video: false, outcome: "missed", duration_seconds: null }), "bob")).toBe(
      "Missed voice call",
    );
    expect(callLineText(ended({ outcome: "missed", duration_seconds: null }), "alice")).toBe("Video call · no answer");
    expect(callLineText(ended({ outcome: "declined", duration_seconds: null }), "alice")).toBe("Declined video call");
    expect(callLineText(ended({ video: false, outcome: "busy", duration_seconds: null }), "alice")).toBe(
      "Voice call · busy",
    );
  });
});

describe("the video layout", () => {
  it("is one large and one small for two people, a grid for more", () => {
    expect(callLayout([], "me")).toEqual({ kind: "solo" });
    expect(callLayout(["bob"], "me")).toEqual({ kind: "pair", large: "bob" });
    expect(callLayout(["bob", "carol"], "me")).toEqual({ kind: "grid", tiles: ["bob", "carol", "me"], columns: 2 });
    const six = callLayout(["a", "b", "c", "d", "e"], "me");
    expect(six).toEqual({ kind: "grid", tiles: ["a", "b", "c", "d", "e", "me"], columns: 3 });
  });
});
