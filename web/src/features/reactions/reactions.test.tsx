import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { ChatEvent, Pin } from "../../api/types";
import { ALICE, CONV, ME, message, newEvent } from "../../test/factories";
import { applyEvent, applyEvents, emptyTimeline } from "../messages/timeline";
import { PinnedBar } from "./PinnedBar";
import { ReactionBar, reactorNames } from "./ReactionBar";

const BOB = "u0000000-0000-4000-8000-00000000000c";
const names: Record<string, string> = { [ALICE]: "Alice Liddell", [BOB]: "Bob Marley" };
const nameOf = (id: string) => names[id] ?? "Someone";

describe("reactions", () => {
  it("names who reacted by first name, me last", () => {
    const r = { emoji: "👍", count: 3, user_ids: [ME, ALICE, BOB], me: true };
    expect(reactorNames(r, ME, nameOf)).toBe("Alice, Bob and you");
    expect(reactorNames({ ...r, count: 1, user_ids: [ME] }, ME, nameOf)).toBe("You");
    expect(reactorNames({ ...r, count: 1, user_ids: [BOB] }, ME, nameOf)).toBe("Bob");
  });

  it("shows a chip per emoji, pressed when mine, and toggles on click", async () => {
    const onToggle = vi.fn();
    const m = message(1, {
      reactions: [
        { emoji: "👍", count: 2, user_ids: [ALICE, ME], me: true },
        { emoji: "🎉", count: 1, user_ids: [BOB], me: false },
      ],
    });
    render(<ReactionBar message={m} meId={ME} nameOf={nameOf} readOnly={false} onToggle={onToggle} />);
    const thumbs = screen.getByRole("button", { name: "👍 2: Alice and you" });
    expect(thumbs).toHaveAttribute("aria-pressed", "true");
    expect(screen.getByRole("button", { name: "🎉 1: Bob" })).toHaveAttribute("aria-pressed", "false");
    await userEvent.click(screen.getByRole("button", { name: "🎉 1: Bob" }));
    expect(onToggle).toHaveBeenCalledWith("🎉");
  });

  it("applies a reaction event to the loaded message, once", () => {
    const tl = applyEvents(emptyTimeline(CONV), [newEvent(1)]);
    const reacted = message(1, { reactions: [{ emoji: "👍", count: 1, user_ids: [BOB], me: false }] });
    const event: ChatEvent = {
      conversation_id: CONV,
      seq: 2,
      type: "message.reaction",
      created_at: reacted.created_at,
      actor_id: BOB,
      message: reacted,
      reaction: { message_id: reacted.id, emoji: "👍", user_id: BOB, added: true },
    };
    const next = applyEvent(tl, event);
    expect(next.messages[0]?.reactions).toEqual(reacted.reactions);
    expect(next.lastSeq).toBe(2);
    expect(applyEvent(next, { ...event, message: message(1) })).toBe(next);
  });
});

describe("pinned bar", () => {
  it("cycles through the pins, jumping to each", async () => {
    const pins: Pin[] = [2, 1].map((seq) => ({
      message: message(seq, { body: `pinned ${seq}`, pinned: true }),
      pinned_by: ALICE,
      pinned_at: "2026-01-01T12:00:00Z",
    }));
    const onJump = vi.fn();
    render(<PinnedBar pins={pins} onJump={onJump} />);
    expect(screen.getByTestId("pinned-text")).toHaveTextContent("pinned 2");
    await userEvent.click(screen.getByRole("button", { name: /Pinned message 1 of 2.*pinned 2/ }));
    expect(onJump).toHaveBeenLastCalledWith(pins[0]);
    expect(screen.getByTestId("pinned-text")).toHaveTextContent("pinned 1");
    await userEvent.click(screen.getByTestId("pinned-jump"));
    expect(onJump).toHaveBeenLastCalledWith(pins[1]);
    expect(screen.getByTestId("pinned-text")).toHaveTextContent("pinned 2");
  });
});
