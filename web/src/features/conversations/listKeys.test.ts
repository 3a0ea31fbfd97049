import { afterEach, describe, expect, it } from "vitest";
import { moveInList } from "./listKeys";

function list() {
  document.body.innerHTML = `<ul id="list">${["One", "Two", "Three", "Four"]
    .map((t) => `<li><a href="#${t}" data-testid="conversation-item">${t}</a></li>`)
    .join("")}</ul>`;
  const ul = document.getElementById("list") as HTMLElement;
  const items = Array.from(ul.querySelectorAll<HTMLElement>("a"));
  const press = (key: string) => moveInList(ul, key, document.activeElement);
  return { items, press };
}

describe("the chat list's keys", () => {
  afterEach(() => {
    document.body.innerHTML = "";
  });

  it("Down and Up move one chat, stopping at the ends", () => {
    const { items, press } = list();
    items[0]!.focus();
    press("ArrowDown");
    expect(document.activeElement).toBe(items[1]);
    press("ArrowUp");
    press("ArrowUp");
    expect(document.activeElement).toBe(items[0]);
    items[3]!.focus();
    press("ArrowDown");
    expect(document.activeElement).toBe(items[3]);
  });

  it("Home and End go to the first and the last chat", () => {
    const { items, press } = list();
    items[1]!.focus();
    press("End");
    expect(document.activeElement).toBe(items[3]);
    press("Home");
    expect(document.activeElement).toBe(items[0]);
  });

  it("leaves other keys alone", () => {
    const { items, press } = list();
    items[1]!.focus();
    expect(press("Enter")).toBe(false);
    expect(press("a")).toBe(false);
    expect(document.activeElement).toBe(items[1]);
  });
});
