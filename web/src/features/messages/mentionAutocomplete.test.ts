import type { Member } from "../../api/types";
import { user } from "../../test/factories";
import { activeMention, applyMention, suggestions } from "./mentionAutocomplete";

const member = (id: string, username: string, display: string, role: Member["role"] = "member"): Member => ({
  user: { ...user(id, display), username },
  role,
  last_read_seq: 0,
  last_delivered_seq: 0,
  joined_at: null,
});

const team = [member("1", "alice", "Alice", "owner"), member("2", "bob", "Bob"), member("3", "carol", "Carla")];

describe("mention autocomplete", () => {
  it("finds the @name being typed at the caret, not inside words or addresses", () => {
    expect(activeMention("hi @bo", 6)).toEqual({ start: 3, query: "bo" });
    expect(activeMention("@", 1)).toEqual({ start: 0, query: "" });
    expect(activeMention("(@Ca", 4)).toEqual({ start: 1, query: "ca" });
    expect(activeMention("mail me@bo", 10)).toBeNull();
    expect(activeMention("hi @bob there", 13)).toBeNull();
  });

  it("suggests the other members by username or display name, and @all where I may", () => {
    expect(suggestions(team, "", "2", true).map((s) => s.username)).toEqual(["alice", "carol", "all"]);
    expect(suggestions(team, "carl", "1", true).map((s) => s.username)).toEqual(["carol"]);
    expect(suggestions(team, "", "1", false).map((s) => s.username)).toEqual(["bob", "carol"]);
  });

  it("offers @all in a big group to its owners and admins only", () => {
    const big = [...team, ...Array.from({ length: 8 }, (_, i) => member(`x${i}`, `user${i}`, `User ${i}`))];
    expect(suggestions(big, "al", "2", true).map((s) => s.username)).toEqual(["alice"]);
    expect(suggestions(big, "al", "1", true).map((s) => s.username)).toEqual(["all"]);
  });

  it("replaces what was typed with the name and a space, keeping the rest", () => {
    expect(applyMention("hi @bo and more", { start: 3, query: "bo" }, 6, "bob")).toEqual({
      text: "hi @bob and more",
      caret: 8,
    });
    expect(applyMention("@c", { start: 0, query: "c" }, 2, "carol")).toEqual({ text: "@carol ", caret: 7 });
  });
});
