import { describe, expect, it } from "vitest";
import { initials } from "./format";

describe("initials", () => {
  it.each([
    ["Alice", "AL"],
    ["Alice Smith", "AS"],
    ["Mary Jane Watson", "MW"],
    ["carol.smith", "CS"],
    ["jean-luc", "JL"],
    ["🎉 Party people", "PP"],
    ["🎉Party", "PA"],
    ["Weekend plans 🏔️", "WP"],
    ["Team 42", "T4"],
    ["Émile Zola", "ÉZ"],
    ["E\u0301mile", "ÉM"],
    ["Łukasz Żuk", "ŁŻ"],
    ["山田 太郎", "山太"],
    ["Ólafur", "ÓL"],
    ["42", "42"],
    ["  spaced   out  ", "SO"],
  ])("%s → %s", (name, expected) => {
    expect(initials(name).normalize("NFC")).toBe(expected.normalize("NFC"));
  });

  it.each(["🎉", "🎉🎈 🥳", "👍🏽", "🇫🇷", "!!!", "   ", ""])("%j has no letters: no initials", (name) => {
    expect(initials(name)).toBe("");
  });

  it("never splits a grapheme", () => {
    // "e" + combining acute is one letter; its accent stays on it.
    expect(initials("e\u0301").normalize("NFC")).toBe("É");
  });
});
