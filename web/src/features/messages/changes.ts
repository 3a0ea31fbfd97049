/**
 * Edits and deletes of sent messages, queued like sends when the server cannot be
 * reached: shown at once (as an overlay on the timeline, marked as waiting), sent once
 * and in the order they were made when the socket is ready again, and kept in
 * localStorage (per user) so a closed tab does not lose them.
 *
 * A change the server refuses (4xx) stays on its message as "not saved" with Retry and
 * Discard; one that meets a network or server error stays queued.
 */
import type { QueryClient } from "@tanstack/react-query";
import { useMemo, useSyncExternalStore } from "react";
import { api, ApiError, unwrap } from "../../api/client";
import type { Message } from "../../api/types";
import { newClientId } from "../../lib/ids";
import { keys } from "../conversations/keys";
import { replaceMessage, type Timeline } from "./timeline";

export type ChangeStatus = "queued" | "sending" | "failed";

export interface QueuedChange {
  id: string;
  kind: "edit" | "delete";
  conversation_id: string;
  message_id: string;
  /** the new text, for an edit */
  body?: string;
  /** when it was made: the edit's time until the server gives its own */
  made_at: string;
  /** the message's edited_at when the change was made (to recognise an edit already saved) */
  base_edited_at: string | null;
  status: ChangeStatus;
  error?: string;
}

export type ChangeRequest = { kind: "edit"; message: Message; body: string } | { kind: "delete"; message: Message };

/** How long to wait before trying again after a server error while the socket stays up. */
export const RETRY_AFTER_ERROR_MS = 5_000;

// --- the queue: a small store (React reads it with useSyncExternalStore) -------------------

let queue: QueuedChange[] = [];
const listeners = new Set<() => void>();
let storageKey: string | null = null;

function setQueue(next: QueuedChange[]): void {
  queue = next;
  save();
  for (const listener of listeners) listener();
}

function update(id: string, patch: Partial<QueuedChange>): void {
  setQueue(queue.map((c) => (c.id === id ? { ...c, ...patch } : c)));
}

export function queuedChanges(): readonly QueuedChange[] {
  return queue;
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The changes waiting (or refused) in one conversation, in the order they were made. */
export function useQueuedChanges(conversationId: string): QueuedChange[] {
  const all = useSyncExternalStore(subscribe, queuedChanges, queuedChanges);
  return useMemo(() => all.filter((c) => c.conversation_id === conversationId), [all, conversationId]);
}

/** The timeline as the user should see it: with their unsaved changes applied (same object when none). */
export function useTimelineWithChanges(tl: Timeline | undefined): Timeline | undefined {
  const changes = useQueuedChanges(tl?.conversationId ?? "");
  return useMemo(() => (tl ? withChanges(tl, changes) : tl), [tl, changes]);
}

/** The latest change of one message still waiting or refused, if any. */
export function useMessageChange(messageId: string): QueuedChange | undefined {
  const all = useSyncExternalStore(subscribe, queuedChanges, queuedChanges);
  return all.findLast((c) => c.message_id === messageId);
}

/** A message as it will be once its queued changes are saved (the list's preview). */
export function useMessageWithChanges(message: Message | null | undefined): Message | null | undefined {
  const all = useSyncExternalStore(subscribe, queuedChanges, queuedChanges);
  return useMemo(() => (message ? all.reduce(applyChange, message) : message), [all, message]);
}

// --- what the user sees: the timeline with the changes applied ------------------------------

/** The timeline as it will be once the queued changes are saved (pure; the cache is untouched). */
export function withChanges(tl: Timeline, changes: readonly QueuedChange[]): Timeline {
  const mine = changes.filter((c) => c.conversation_id === tl.conversationId);
  if (!mine.length) return tl;
  return { ...tl, messages: tl.messages.map((m) => mine.reduce(applyChange, m)) };
}

export function applyChange(m: Message, c: QueuedChange): Message {
  if (c.message_id !== m.id || m.deleted) return m;
  if (c.kind === "delete") return { ...m, body: "", attachments: [], deleted: true };
  return { ...m, body: c.body ?? m.body, edited_at: m.edited_at && m.edited_at > c.made_at ? m.edited_at : c.made_at };
}

// --- sending ---------------------------------------------------------------------------------

/** Whether an error means "try again later" rather than "the server said no". */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof ApiError)) return true;
  return error.status === 0 || error.status === 401 || error.status === 429 || error.status >= 500;
}

async function send(qc: QueryClient, change: QueuedChange): Promise<void> {
  if (change.kind === "edit") {
    const message = await unwrap(
      api.PATCH("/api/v1/messages/{message_id}", {
        params: { path: { message_id: change.message_id } },
        body: { body: change.body ?? "" },
      }),
    );
    updateTimeline(qc, change.conversation_id, (tl) => replaceMessage(tl, message));
    return;
  }
  // Deleting is idempotent on the server: a repeat after a lost answer changes nothing.
  await unwrap(api.DELETE("/api/v1/messages/{message_id}", { params: { path: { message_id: change.message_id } } }));
  updateTimeline(qc, change.conversation_id, (tl) => {
    const m = tl.messages.find((x) => x.id === change.message_id);
    return m ? replaceMessage(tl, { ...m, body: "", attachments: [], deleted: true }) : tl;
  });
}

function updateTimeline(qc: QueryClient, id: string, fn: (tl: Timeline) => Timeline): void {
  qc.setQueryData<Timeline>(keys.timeline(id), (tl) => (tl ? fn(tl) : tl));
}

/**
 * Edit or delete a message. Sent at once when nothing is waiting ahead of it; queued
 * (and resolved) when the server cannot be reached, or behind earlier queued changes so
 * the order holds. Rejects with the server's words when it refuses the change.
 */
export async function submitChange(qc: QueryClient, request: ChangeRequest): Promise<void> {
  const change: QueuedChange = {
    id: newClientId(),
    kind: request.kind,
    conversation_id: request.message.conversation_id,
    message_id: request.message.id,
    ...(request.kind === "edit" ? { body: request.body } : {}),
    made_at: new Date().toISOString(),
    base_edited_at: request.message.edited_at ?? null,
    status: "queued",
  };
  if (queue.some((c) => c.status !== "failed")) {
    setQueue([...queue, change]);
    void flushChanges(qc);
    return;
  }
  try {
    await send(qc, change);
  } catch (error) {
    if (!isTransient(error)) throw error;
    setQueue([...queue, change]);
    retryLater(qc);
  }
}

let flushing: Promise<void> | null = null;
let flushAgain = false;
let retryTimer: ReturnType<typeof setTimeout> | null = null;

function retryLater(qc: QueryClient): void {
  if (retryTimer) return;
  retryTimer = setTimeout(() => {
    retryTimer = null;
    void flushChanges(qc);
  }, RETRY_AFTER_ERROR_MS);
}

/**
 * Send the queued changes one at a time, oldest first (the socket is ready again, or a
 * retry is due). One run at a time: asked again meanwhile (the connection came back
 * while a doomed attempt was still out), the run goes round once more when it ends.
 */
export function flushChanges(qc: QueryClient): Promise<void> {
  if (flushing) {
    flushAgain = true;
    return flushing;
  }
  flushing = (async () => {
    do {
      flushAgain = false;
      await sendQueued(qc);
    } while (flushAgain);
  })().finally(() => {
    flushing = null;
  });
  return flushing;
}

/** A network or server error stops the run and leaves the rest queued, in order. */
async function sendQueued(qc: QueryClient): Promise<void> {
  for (;;) {
    const next = queue.find((c) => c.status === "queued");
    if (!next) return;
    update(next.id, { status: "sending" });
    try {
      if (!alreadySaved(qc, next)) await send(qc, next);
      setQueue(queue.filter((c) => c.id !== next.id));
    } catch (error) {
      if (isTransient(error)) {
        update(next.id, { status: "queued" });
        retryLater(qc);
        return;
      }
      update(next.id, { status: "failed", error: error instanceof Error ? error.message : "Not saved." });
    }
  }
}

/** An edit whose answer was lost may have been saved: the timeline (server state) shows it. */
function alreadySaved(qc: QueryClient, change: QueuedChange): boolean {
  if (change.kind !== "edit") return false;
  const tl = qc.getQueryData<Timeline>(keys.timeline(change.conversation_id));
  const m = tl?.messages.find((x) => x.id === change.message_id);
  return Boolean(m && m.body === change.body && (m.edited_at ?? null) !== change.base_edited_at);
}

export function retryChange(qc: QueryClient, id: string): void {
  setQueue(queue.map((c) => (c.id === id ? { ...withoutError(c), status: "queued" } : c)));
  void flushChanges(qc);
}

function withoutError(c: QueuedChange): QueuedChange {
  const { error: _error, ...rest } = c;
  return rest;
}

export function discardChange(id: string): void {
  setQueue(queue.filter((c) => c.id !== id));
}

// --- persistence (per user), like the outbox of sends --------------------------------------

const PREFIX = "chatapi.changes.";

function save(): void {
  if (!storageKey) return;
  try {
    const waiting = queue.map((c) => (c.status === "sending" ? { ...c, status: "queued" as const } : c));
    if (waiting.length) localStorage.setItem(storageKey, JSON.stringify(waiting));
    else localStorage.removeItem(storageKey);
  } catch {
    // Storage full or unavailable: the queue still lives in memory.
  }
}

function isChange(c: unknown): c is QueuedChange {
  if (typeof c !== "object" || c === null) return false;
  const o = c as Record<string, unknown>;
  return (
    typeof o.id === "string" &&
    (o.kind === "edit" || o.kind === "delete") &&
    typeof o.conversation_id === "string" &&
    typeof o.message_id === "string" &&
    typeof o.made_at === "string" &&
    (o.status === "queued" || o.status === "failed")
  );
}

/** Load this user's saved changes and keep saving them. Returns a stop function. */
export function persistChanges(meId: string): () => void {
  storageKey = PREFIX + meId;
  let restored: QueuedChange[] = [];
  try {
    const value: unknown = JSON.parse(localStorage.getItem(storageKey) ?? "[]");
    restored = Array.isArray(value) ? value.filter(isChange) : [];
  } catch {
    restored = [];
  }
  const known = new Set(queue.map((c) => c.id));
  setQueue([...queue, ...restored.filter((c) => !known.has(c.id))]);
  return () => {
    storageKey = null;
    queue = [];
    for (const listener of listeners) listener();
  };
}

export function forgetChanges(meId: string): void {
  try {
    localStorage.removeItem(PREFIX + meId);
  } catch {
    // nothing to forget
  }
}
