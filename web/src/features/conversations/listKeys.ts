/**
 * Keyboard help for the conversation list: Up/Down/Home/End move between the chats,
 * and after signing in focus starts in the list (not on the page body).
 */
import { useEffect, useRef, type KeyboardEvent, type RefObject } from "react";

const ITEM = "[data-testid='conversation-item']";

/** Move focus among the list's items for Up, Down, Home and End; true when handled. */
export function moveInList(list: HTMLElement, key: string, from: Element | null): boolean {
  const items = Array.from(list.querySelectorAll<HTMLElement>(ITEM));
  if (!items.length) return false;
  const at = items.findIndex((item) => item === from || item.contains(from));
  let next: number;
  switch (key) {
    case "ArrowDown":
      next = at < 0 ? 0 : Math.min(at + 1, items.length - 1);
      break;
    case "ArrowUp":
      next = at < 0 ? items.length - 1 : Math.max(at - 1, 0);
      break;
    case "Home":
      next = 0;
      break;
    case "End":
      next = items.length - 1;
      break;
    default:
      return false;
  }
  items[next]?.focus();
  return true;
}

export function onListKeyDown(event: KeyboardEvent<HTMLElement>): void {
  if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  if (moveInList(event.currentTarget, event.key, document.activeElement)) event.preventDefault();
}

/**
 * Once the list has loaded, if nothing has focus (just signed in, or the app opened on
 * the list): focus the first chat, or with no chats the people search — on a touch
 * screen the "Chats" heading instead, so no keyboard pops up unasked.
 */
export function useStartFocus(
  ready: boolean,
  list: RefObject<HTMLElement | null>,
  search: RefObject<HTMLElement | null>,
  heading: RefObject<HTMLElement | null>,
): void {
  const done = useRef(false);
  useEffect(() => {
    if (!ready || done.current) return;
    done.current = true;
    const active = document.activeElement;
    if (active && active !== document.body) return;
    const first = list.current?.querySelector<HTMLElement>(ITEM);
    const coarse = window.matchMedia?.("(pointer: coarse)").matches ?? false;
    (first ?? (coarse ? heading.current : search.current))?.focus({ preventScroll: true });
  }, [ready, list, search, heading]);
}
