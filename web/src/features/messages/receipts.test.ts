import { describe, expect, it } from "vitest";
import { ALICE, ME, member } from "../../test/factories";
import { applyReceipt, keepMarkersForward, messageStatus, seenBy } from "./receipts";

const BOB = "u0000000-0000-4000-8000-00000000000c";

describe("receipts", () => {
  it("is sent until the other member's device has it", () => {
    expect(messageStatus(5, [member(ME, 5, 5), member(ALICE, 4, 4)], ME)).toBe("sent");
  });
  it("is delivered once delivered to every other member", () => {
    expect(messageStatus(5, [member(ME), member(ALICE, 0, 5), member(BOB, 0, 6)], ME)).toBe("delivered");
  });
  it("is read once every other member read it", () => {
    expect(messageStatus(5, [member(ME), member(ALICE, 5, 5), member(BOB, 7, 7)], ME)).toBe("read");
    expect(messageStatus(5, [member(ME), member(ALICE, 5, 5), member(BOB, 0, 7)], ME)).toBe("delivered");
  });
  it("lists who has seen a message in a group, never the sender", () => {
    const seen = seenBy(5, [member(ME, 9), member(ALICE, 5), member(BOB, 4)], ME);
    expect(seen.map((m) => m.user.id)).toEqual([ALICE]);
  });
  it("moves markers forward only", () => {
    const members = applyReceipt([member(ALICE, 5, 6)], { user_id: ALICE, read_seq: 3, delivered_seq: 8 });
    expect(members[0]).toMatchObject({ last_read_seq: 5, last_delivered_seq: 8 });
  });
});

describe("a refetched member list", () => {
  it("cannot take back a receipt that arrived while it was on its way", () => {
    const held = [member(ME, 5, 5), member(ALICE, 7, 7)];
    const fetched = [member(ME, 5, 5), member(ALICE, 6, 6)];
    expect(keepMarkersForward(held, fetched)[1]).toMatchObject({ last_read_seq: 7, last_delivered_seq: 7 });
  });

  it("brings everything else that is newer", () => {
    const held = [member(ME, 5, 5), member(ALICE, 3, 3)];
    const fresh = { ...member(ALICE, 4, 6), user: { ...member(ALICE).user, online: true } };
    const merged = keepMarkersForward(held, [member(ME, 5, 5), fresh]);
    expect(merged[1]).toBe(fresh);
    expect(keepMarkersForward(undefined, [fresh])).toEqual([fresh]);
  });
});
