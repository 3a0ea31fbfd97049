/**
 * Drafts: what was typed and not sent, one per conversation, kept in localStorage per
 * user so it survives switching conversations, reloads and closing the tab, and shown
 * in the conversation list. Other tabs follow through the `storage` event. Signing
 * out drops them, like the outbox (a shared device).
 */
import { useSyncExternalStore } from "react";

const PREFIX = "chatapi.drafts.";
/** A draft longer than a message can be is cut: storage is not unlimited. */
const MAX_DRAFT = 8_000;

export type Drafts = Readonly<Record<string, string>>;

const EMPTY: Drafts = Object.freeze({});

/** Parse stored drafts; anything malformed is dropped, never thrown. */
export function parseDrafts(raw: string | null): Drafts {
  if (!raw) return EMPTY;
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== "object" || value === null || Array.isArray(value)) return EMPTY;
    const out: Record<string, string> = {};
    for (const [id, text] of Object.entries(value)) {
      if (typeof text === "string" && text.trim()) out[id] = text;
    }
    return out;
  } catch {
    return EMPTY;
  }
}

/** The drafts with `conversationId`'s set to `text` (an empty or blank text removes it). */
export function withDraft(drafts: Drafts, conversationId: string, text: string): Drafts {
  const rest = Object.fromEntries(Object.entries(drafts).filter(([id]) => id !== conversationId));
  return text.trim() ? { ...rest, [conversationId]: text.slice(0, MAX_DRAFT) } : rest;
}

/** One line for the conversation list. */
export function draftPreview(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

const listeners = new Set<() => void>();
// One parsed copy per user: useSyncExternalStore needs the same object until it changes.
let cache: { meId: string; drafts: Drafts } | null = null;

function read(meId: string): Drafts {
  if (cache?.meId === meId) return cache.drafts;
  let raw: string | null = null;
  try {
    raw = localStorage.getItem(PREFIX + meId);
  } catch {
    // storage unavailable: no drafts
  }
  cache = { meId, drafts: parseDrafts(raw) };
  return cache.drafts;
}

function notify(): void {
  for (const listener of listeners) listener();
}

export function getDraft(meId: string, conversationId: string): string {
  return read(meId)[conversationId] ?? "";
}

export function setDraft(meId: string, conversationId: string, text: string): void {
  const current = read(meId);
  if ((current[conversationId] ?? "") === (text.trim() ? text.slice(0, MAX_DRAFT) : "")) return;
  const next = withDraft(current, conversationId, text);
  cache = { meId, drafts: next };
  try {
    if (Object.keys(next).length) localStorage.setItem(PREFIX + meId, JSON.stringify(next));
    else localStorage.removeItem(PREFIX + meId);
  } catch {
    // Storage full or unavailable: the draft still lives in memory for this tab.
  }
  notify();
}

export function forgetDrafts(meId: string): void {
  cache = null;
  try {
    localStorage.removeItem(PREFIX + meId);
  } catch {
    // nothing to forget
  }
  notify();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  const onStorage = (e: StorageEvent) => {
    // Another tab wrote: read again.
    if (e.key === null || e.key.startsWith(PREFIX)) {
      cache = null;
      listener();
    }
  };
  window.addEventListener("storage", onStorage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("storage", onStorage);
  };
}

/** Every draft of the signed-in user, kept current. */
export function useDrafts(meId: string | undefined): Drafts {
  return useSyncExternalStore(
    subscribe,
    () => (meId ? read(meId) : EMPTY),
    () => EMPTY,
  );
}
