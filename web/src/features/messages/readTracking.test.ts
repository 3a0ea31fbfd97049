import { describe, expect, it } from "vitest";
import { ME, message } from "../../test/factories";
import { countsAsSeen, newMessagesDivider, SeenTracker, unreadAfter } from "./readTracking";

describe("reading", () => {
  it("a row counts as seen when half of it is on screen, or it fills half the screen", () => {
    expect(countsAsSeen(0.6, 30, 600)).toBe(true);
    expect(countsAsSeen(0.2, 30, 600)).toBe(false);
    expect(countsAsSeen(0.3, 320, 600)).toBe(true);
    expect(countsAsSeen(0, 0, 0)).toBe(false);
  });

  it("nothing is read before the list is in place", () => {
    const t = new SeenTracker();
    t.set(9, true);
    expect(t.take(true)).toBeNull();
  });

  it("marks read the highest row seen while the page is visible, once", () => {
    const t = new SeenTracker();
    t.start(4);
    t.set(5, true);
    t.set(6, true);
    expect(t.take(false)).toBeNull();
    expect(t.take(true)).toBe(6);
    expect(t.take(true)).toBeNull();
    t.set(6, false);
    t.set(7, true);
    expect(t.take(true)).toBe(7);
    expect(t.readUpTo).toBe(7);
  });

  it("never moves back: rows older than the marker change nothing", () => {
    const t = new SeenTracker();
    t.start(10);
    t.set(3, true);
    expect(t.take(true)).toBeNull();
    expect(t.readUpTo).toBe(10);
  });

  it("what was on screen before starting does not count", () => {
    const t = new SeenTracker();
    t.set(50, true);
    t.start(10);
    t.set(11, true);
    expect(t.take(true)).toBe(11);
  });

  it("counts others' unread messages, not mine or deleted ones", () => {
    const messages = [message(1), message(2, { sender_id: ME }), message(3), message(4, { deleted: true }), message(5)];
    expect(unreadAfter(messages, 1, ME).map((m) => m.seq)).toEqual([3, 5]);
    expect(newMessagesDivider(messages, 1, ME)).toEqual({ seq: 3, count: 2 });
    expect(newMessagesDivider(messages, 5, ME)).toBeNull();
  });
});
