import { act, renderHook } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { draftPreview, forgetDrafts, getDraft, parseDrafts, setDraft, useDrafts, withDraft } from "./drafts";

describe("drafts", () => {
  it("keep one draft per conversation and per user, in localStorage", () => {
    setDraft("me", "c1", "half a thought");
    setDraft("me", "c2", "another");
    setDraft("someone-else", "c1", "theirs");
    expect(getDraft("me", "c1")).toBe("half a thought");
    expect(getDraft("me", "c2")).toBe("another");
    expect(JSON.parse(localStorage.getItem("chatapi.drafts.me") ?? "{}")).toEqual({
      c1: "half a thought",
      c2: "another",
    });
    expect(getDraft("someone-else", "c1")).toBe("theirs");
    forgetDrafts("me");
    forgetDrafts("someone-else");
  });

  it("an empty or blank text removes the draft, and the last one the stored key", () => {
    setDraft("me2", "c1", "text");
    setDraft("me2", "c1", "   ");
    expect(getDraft("me2", "c1")).toBe("");
    expect(localStorage.getItem("chatapi.drafts.me2")).toBeNull();
  });

  it("read back what was stored before a reload, ignoring anything malformed", () => {
    expect(parseDrafts(JSON.stringify({ c1: "kept", c2: 3, c3: " " }))).toEqual({ c1: "kept" });
    expect(parseDrafts("not json")).toEqual({});
    expect(parseDrafts(JSON.stringify(["a"]))).toEqual({});
    expect(parseDrafts(null)).toEqual({});
  });

  it("withDraft never mutates, and replaces or drops one conversation's text", () => {
    const before = { c1: "a", c2: "b" };
    expect(withDraft(before, "c1", "new")).toEqual({ c1: "new", c2: "b" });
    expect(withDraft(before, "c2", "")).toEqual({ c1: "a" });
    expect(before).toEqual({ c1: "a", c2: "b" });
  });

  it("preview on one line", () => {
    expect(draftPreview("  first line\nsecond   line ")).toBe("first line second line");
  });

  it("the hook follows changes", () => {
    const { result } = renderHook(() => useDrafts("me3"));
    expect(result.current).toEqual({});
    act(() => setDraft("me3", "c1", "typing"));
    expect(result.current).toEqual({ c1: "typing" });
    act(() => forgetDrafts("me3"));
    expect(result.current).toEqual({});
  });
});
