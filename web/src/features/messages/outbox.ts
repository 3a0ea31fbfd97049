/**
 * Unsent messages survive a reload or a closed tab: the pending messages of every
 * timeline are mirrored to localStorage (per user) and put back at start-up, then
 * sent with their original client_id — the server stores a client_id once, so a
 * message that did get through before the reload is not duplicated.
 */
import type { QueryClient } from "@tanstack/react-query";
import { keys } from "../conversations/keys";
import { flushOutbox } from "./api";
import { addPending, emptyTimeline, type PendingMessage, type Timeline } from "./timeline";

const PREFIX = "chatapi.outbox.";

function collect(qc: QueryClient): PendingMessage[] {
  return qc
    .getQueriesData<Timeline>({ queryKey: ["timeline"] })
    .flatMap(([, tl]) => tl?.pending ?? [])
    .filter((p) => p.status !== "failed");
}

function save(meId: string, pending: PendingMessage[]): void {
  try {
    if (pending.length) localStorage.setItem(PREFIX + meId, JSON.stringify(pending));
    else localStorage.removeItem(PREFIX + meId);
  } catch {
    // Storage full or unavailable: the outbox still lives in memory.
  }
}

function load(meId: string): PendingMessage[] {
  try {
    const raw = localStorage.getItem(PREFIX + meId);
    const value: unknown = raw ? JSON.parse(raw) : [];
    return Array.isArray(value) ? (value as PendingMessage[]).filter(isPending) : [];
  } catch {
    return [];
  }
}

function isPending(p: unknown): p is PendingMessage {
  if (typeof p !== "object" || p === null) return false;
  const o = p as Record<string, unknown>;
  return typeof o.client_id === "string" && typeof o.conversation_id === "string" && typeof o.body === "string";
}

/** Put saved messages back and keep the saved copy in step with the cache. Returns a stop function. */
export function persistOutbox(qc: QueryClient, meId: string): () => void {
  const restored = load(meId);
  for (const p of restored) {
    qc.setQueryData<Timeline>(keys.timeline(p.conversation_id), (tl) =>
      addPending(tl ?? emptyTimeline(p.conversation_id), { ...p, sender_id: meId, status: "queued" }),
    );
  }
  // A timeline made here holds only pending messages (loaded: false); useTimeline
  // loads its newest page when it is shown.
  if (restored.length) flushOutbox(qc);

  let last = JSON.stringify(collect(qc));
  const unsubscribe = qc.getQueryCache().subscribe((event) => {
    if (event.query.queryKey[0] !== "timeline") return;
    const pending = collect(qc);
    const text = JSON.stringify(pending);
    if (text === last) return;
    last = text;
    save(meId, pending);
  });
  return unsubscribe;
}

export function forgetOutbox(meId: string): void {
  try {
    localStorage.removeItem(PREFIX + meId);
  } catch {
    // nothing to forget
  }
}
