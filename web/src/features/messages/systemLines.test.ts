import { describe, expect, it } from "vitest";
import type { ChatEvent } from "../../api/types";
import { ALICE, CONV, ME } from "../../test/factories";
import { systemLineText, systemLineUserIds } from "./systemLines";

const BOB = "u0000000-0000-4000-8000-00000000000c";
const names: Record<string, string> = { [ALICE]: "Alice", [BOB]: "Bob", [ME]: "Me" };
const nameOf = (id: string) => names[id] ?? "Unknown";

function event(type: ChatEvent["type"], actor: string | null, over: Partial<ChatEvent> = {}): ChatEvent {
  return { conversation_id: CONV, seq: 7, type, created_at: "2026-01-01T12:00:00Z", actor_id: actor, ...over };
}
const subject = (userId: string, role: "owner" | "admin" | "member" | null = null) => ({
  member: { user_id: userId, role },
});
const say = (e: ChatEvent) => systemLineText(e, nameOf, ME);

describe("system lines", () => {
  it("say who added whom, and who joined", () => {
    expect(say(event("member.added", ALICE, subject(BOB)))).toBe("Alice added Bob");
    expect(say(event("member.added", ALICE, subject(ME)))).toBe("Alice added you");
    expect(say(event("member.added", ME, subject(BOB)))).toBe("You added Bob");
    expect(say(event("member.added", BOB, subject(BOB)))).toBe("Bob joined");
  });

  it("tell leaving from being removed", () => {
    expect(say(event("member.removed", BOB, subject(BOB)))).toBe("Bob left");
    expect(say(event("member.removed", ME, subject(ME)))).toBe("You left");
    expect(say(event("member.removed", ALICE, subject(BOB)))).toBe("Alice removed Bob");
    expect(say(event("member.removed", ALICE, subject(ME)))).toBe("Alice removed you");
    expect(say(event("member.removed", ME, subject(BOB)))).toBe("You removed Bob");
  });

  it("name the new role", () => {
    expect(say(event("member.role_changed", ALICE, subject(BOB, "admin")))).toBe("Alice made Bob an admin");
    expect(say(event("member.role_changed", ALICE, subject(ME, "owner")))).toBe("Alice made you an owner");
    expect(say(event("member.role_changed", ALICE, subject(BOB, "member")))).toBe("Alice changed Bob’s role to member");
    expect(say(event("member.role_changed", ALICE, subject(ME, "member")))).toBe("Alice changed your role to member");
  });

  it("say who took over when the last owner left (no actor)", () => {
    expect(say(event("member.role_changed", null, subject(BOB, "owner")))).toBe("Bob is now an owner");
    expect(say(event("member.role_changed", null, subject(ME, "owner")))).toBe("You are now an owner");
  });

  it("quote the new name of a renamed group", () => {
    const renamed = event("conversation.updated", ALICE, { conversation: { id: CONV, title: "Hiking club" } });
    expect(say(renamed)).toBe("Alice renamed the group to “Hiking club”");
    expect(say({ ...renamed, actor_id: ME })).toBe("You renamed the group to “Hiking club”");
  });

  it("tell a call's kind, length and outcome", () => {
    const call = (over: Partial<NonNullable<ChatEvent["call"]>>) =>
      event("call.ended", ALICE, {
        call: {
          call_id: "c1",
          video: true,
          outcome: "completed",
          duration_seconds: 720,
          started_by: ALICE,
          participant_ids: [ALICE, ME],
          ...over,
        },
      });
    expect(say(call({}))).toBe("Video call · 12 min");
    expect(say(call({ video: false, duration_seconds: 42 }))).toBe("Voice call · 42 s");
    expect(say(call({ video: false, outcome: "missed", duration_seconds: null }))).toBe("Missed voice call");
    expect(say(call({ outcome: "declined", duration_seconds: null }))).toBe("Declined video call");
    expect(say(call({ video: false, duration_seconds: 3900 }))).toBe("Voice call · 1 h 5 min");
    // The caller's own call nobody answered is not "missed" for them.
    expect(say(call({ started_by: ME, outcome: "missed", duration_seconds: null }))).toBe("Video call · no answer");
  });

  it("name people who are no longer members through the caller's lookup", () => {
    const gone = "u0000000-0000-4000-8000-0000000000ff";
    expect(say(event("member.removed", ALICE, subject(gone)))).toBe("Alice removed Unknown");
    expect(systemLineUserIds(event("member.removed", ALICE, subject(gone)))).toEqual([ALICE, gone]);
  });
});
