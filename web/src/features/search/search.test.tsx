import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { SearchHit } from "../../api/types";
import { message } from "../../test/factories";
import { searchable } from "./api";
import { groupHits, hitPath } from "./groupHits";
import { Snippet } from "./SearchDialog";
import { isSearchShortcut } from "./useSearchShortcut";

function hit(conversation: string, seq: number, id = `${conversation}-${seq}`): SearchHit {
  const m = { ...message(seq), id, conversation_id: conversation };
  return { conversation_id: conversation, seq, message: m, snippet: [{ text: m.body, match: false }] };
}

function key(init: KeyboardEventInit, target?: HTMLElement): KeyboardEvent {
  const e = new KeyboardEvent("keydown", { ...init, bubbles: true });
  if (target) {
    document.body.append(target);
    target.dispatchEvent(e);
    target.remove();
  }
  return e;
}

describe("search results", () => {
  it("groups hits by conversation in the order of each one's newest hit", () => {
    const groups = groupHits([hit("a", 9), hit("b", 8), hit("a", 5), hit("c", 4), hit("b", 2)]);
    expect(groups.map((g) => g.conversationId)).toEqual(["a", "b", "c"]);
    expect(groups[0]?.hits.map((h) => h.seq)).toEqual([9, 5]);
    expect(groups[1]?.hits.map((h) => h.seq)).toEqual([8, 2]);
  });

  it("keeps a hit that two pages both hold once", () => {
    const groups = groupHits([hit("a", 9, "x"), hit("a", 9, "x"), hit("a", 3)]);
    expect(groups[0]?.hits.map((h) => h.seq)).toEqual([9, 3]);
  });

  it("opens a hit in its conversation at its seq", () => {
    expect(hitPath(hit("abc", 42))).toBe("/c/abc?at=42");
  });

  it("marks the matched words as text, never as markup", () => {
    render(
      <p data-testid="s">
        <Snippet
          parts={[
            { text: "say <b>", match: false },
            { text: "hello", match: true },
            { text: "</b>", match: false },
          ]}
        />
      </p>,
    );
    expect(screen.getByTestId("s").textContent).toBe("say <b>hello</b>");
    expect(screen.getByTestId("s").querySelector("b")).toBeNull();
    expect(screen.getByText("hello").tagName).toBe("MARK");
  });

  it("searches only for queries with a letter or a digit", () => {
    expect(searchable("  ")).toBe(false);
    expect(searchable('"*()-:')).toBe(false);
    expect(searchable("café")).toBe(true);
    expect(searchable("42")).toBe(true);
  });
});

describe("the search shortcut", () => {
  it("is Ctrl+K or ⌘K anywhere, typing or not", () => {
    expect(isSearchShortcut(key({ key: "k", ctrlKey: true }))).toBe(true);
    expect(isSearchShortcut(key({ key: "K", metaKey: true }))).toBe(true);
    expect(isSearchShortcut(key({ key: "k", ctrlKey: true }, document.createElement("textarea")))).toBe(true);
    expect(isSearchShortcut(key({ key: "k" }))).toBe(false);
  });

  it("is / only when not typing", () => {
    const seen: boolean[] = [];
    const listen = (e: KeyboardEvent) => seen.push(isSearchShortcut(e));
    document.addEventListener("keydown", listen);
    key({ key: "/" }, document.createElement("div"));
    key({ key: "/" }, document.createElement("textarea"));
    key({ key: "/" }, document.createElement("input"));
    const box = document.createElement("input");
    box.type = "checkbox";
    key({ key: "/" }, box);
    document.removeEventListener("keydown", listen);
    expect(seen).toEqual([true, false, false, true]);
  });
});
