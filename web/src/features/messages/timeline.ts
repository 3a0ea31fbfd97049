/**
 * The timeline of one conversation, as a pure value: confirmed messages ordered by
 * seq, the caller's optimistic (not yet acknowledged) messages, and the bookkeeping
 * that makes "nothing lost, nothing twice" hold:
 *
 * - `lastSeq` is the contiguous watermark: every event with `seq <= lastSeq` has been
 *   applied. It is what the client sends as `after_seq` when it catches up.
 * - `aheadSeqs` are seqs applied beyond a hole (an event arrived while an earlier one
 *   is missing). While it is non-empty the timeline has a gap and must catch up.
 * - an event whose seq is already covered is a duplicate and changes nothing.
 *
 * Events are applied as soon as they arrive, even past a gap: the server's events
 * reference the message's current state, so applying them early is safe, and
 * `pickNewer` stops an older copy from overwriting a newer one.
 *
 * Membership and settings events (member.*, conversation.updated) and ended calls are kept too, as
 * `system` lines shown among the messages in seq order. The messages endpoint returns
 * only messages, so every page loaded is paired with the events of the seqs it spans
 * (`applyRangeEvents`): loaded pages and their system lines cover one gapless range.
 *
 * No React, no I/O: every function returns a new Timeline and never mutates.
 */
import type { ChatEvent, Media, Message } from "../../api/types";

export type SendStatus = "queued" | "sending" | "failed";

export interface PendingMessage {
  client_id: string;
  conversation_id: string;
  sender_id: string;
  body: string;
  reply_to_id: string | null;
  attachment_ids: string[];
  /** the uploaded media, so the optimistic bubble can already show them */
  attachments: Media[];
  created_at: string;
  status: SendStatus;
  error?: string;
}

export interface Timeline {
  conversationId: string;
  /** ascending by seq, at most one per seq */
  messages: Message[];
  /** membership and settings events, ascending by seq, at most one per seq */
  system: ChatEvent[];
  /** the caller's own messages not yet acknowledged, in the order they were written */
  pending: PendingMessage[];
  lastSeq: number;
  aheadSeqs: number[];
  /** whether older history may exist before the first loaded message */
  hasOlder: boolean;
  /** whether the newest page has been loaded from the server (a timeline may hold only restored pending messages) */
  loaded: boolean;
}

export function emptyTimeline(conversationId: string): Timeline {
  return {
    conversationId,
    messages: [],
    system: [],
    pending: [],
    lastSeq: 0,
    aheadSeqs: [],
    hasOlder: true,
    loaded: false,
  };
}

/** The newest page (GET …/messages without before_seq) for a fresh or reloaded timeline. */
export function loadLatest(tl: Timeline, page: Message[], limit: number): Timeline {
  const merged = mergeMessages(tl.messages, page);
  const newest = page.length ? maxSeq(page) : 0;
  const lastSeq = Math.max(tl.lastSeq, newest);
  const first = merged[0];
  return normalise({
    ...tl,
    messages: merged,
    lastSeq,
    aheadSeqs: tl.aheadSeqs.filter((s) => s > lastSeq),
    pending: dropAcknowledged(tl.pending, page),
    hasOlder: page.length >= limit && first !== undefined && first.seq > 1,
    loaded: true,
  });
}

/** An older page (GET …/messages?before_seq=) prepended when the user scrolls up. */
export function prependHistory(tl: Timeline, page: Message[], limit: number): Timeline {
  const merged = mergeMessages(tl.messages, page);
  const first = merged[0];
  return {
    ...tl,
    messages: merged,
    hasOlder: page.length >= limit && first !== undefined && first.seq > 1,
  };
}

/**
 * The seqs whose events must be fetched to go with a page of messages: after `after`,
 * up to and including `until`. A page that reaches the start of the conversation spans
 * everything before it as well (events before the first message).
 */
export function pageSpan(
  page: readonly Message[],
  hasOlder: boolean,
  until: number,
): { after: number; until: number } | null {
  const first = page[0]?.seq;
  const after = hasOlder && first !== undefined ? first - 1 : 0;
  return until > after ? { after, until } : null;
}

/**
 * The events of seqs a loaded page spans (any order, duplicates allowed): system events
 * join the timeline, message states refresh the copies already loaded, and anything
 * past the watermark is applied as a new event.
 */
export function applyRangeEvents(tl: Timeline, events: readonly ChatEvent[]): Timeline {
  let next = tl;
  for (const event of [...events].sort((a, b) => a.seq - b.seq)) {
    if (event.conversation_id !== tl.conversationId) continue;
    if (!isDuplicate(next, event.seq)) {
      next = applyEvent(next, event);
    } else if (isSystemEvent(event)) {
      next = { ...next, system: upsertSystem(next.system, event) };
    } else if (event.message && next.messages.some((m) => m.id === event.message?.id)) {
      next = { ...next, messages: upsertMessage(next.messages, event.message) };
    }
  }
  return next;
}

const SYSTEM_TYPES: ReadonlySet<ChatEvent["type"]> = new Set([
  "member.added",
  "member.removed",
  "member.role_changed",
  "conversation.updated",
  "call.ended",
]);

/** Whether an event is shown as a system line (not a message). */
export function isSystemEvent(event: ChatEvent): boolean {
  return SYSTEM_TYPES.has(event.type);
}

/** The seq to ask for older history with, or null when nothing is loaded. */
export function oldestSeq(tl: Timeline): number | null {
  return tl.messages[0]?.seq ?? null;
}

export function isDuplicate(tl: Timeline, seq: number): boolean {
  return seq <= tl.lastSeq || tl.aheadSeqs.includes(seq);
}

/** True while an event is missing between `lastSeq` and a later applied one. */
export function hasGap(tl: Timeline): boolean {
  return tl.aheadSeqs.length > 0;
}

/** Apply one timeline event (live or from catch-up). Duplicates by seq are dropped. */
export function applyEvent(tl: Timeline, event: ChatEvent): Timeline {
  if (event.conversation_id !== tl.conversationId) return tl;
  if (isDuplicate(tl, event.seq)) return tl;
  let next: Timeline = tl;
  const message = event.message ?? null;
  switch (event.type) {
    case "message.new":
      if (message) {
        next = {
          ...next,
          messages: upsertMessage(next.messages, message),
          pending: dropAcknowledged(next.pending, [message]),
        };
      }
      break;
    case "message.edited":
    case "message.deleted":
    case "message.reaction":
    case "message.pinned":
    case "message.unpinned":
      // The message as it now stands (its reactions, whether it is pinned).
      if (message && next.messages.some((m) => m.id === message.id || m.seq === message.seq)) {
        next = { ...next, messages: upsertMessage(next.messages, message) };
      }
      break;
    case "member.added":
    case "member.removed":
    case "member.role_changed":
    case "conversation.updated":
    case "call.ended":
      next = { ...next, system: upsertSystem(next.system, event) };
      break;
    default:
      assertNever(event.type);
  }
  return advance(next, event.seq);
}

export function applyEvents(tl: Timeline, events: readonly ChatEvent[]): Timeline {
  return [...events].sort((a, b) => a.seq - b.seq).reduce(applyEvent, tl);
}

/** An optimistic message written by the caller; shown at once, sent when the socket is ready. */
export function addPending(tl: Timeline, pending: PendingMessage): Timeline {
  if (tl.pending.some((p) => p.client_id === pending.client_id)) return tl;
  return { ...tl, pending: [...tl.pending, pending] };
}

export function setPendingStatus(tl: Timeline, clientId: string, status: SendStatus, error?: string): Timeline {
  if (!tl.pending.some((p) => p.client_id === clientId)) return tl;
  return {
    ...tl,
    pending: tl.pending.map((p) =>
      p.client_id === clientId ? { ...p, status, ...(error === undefined ? {} : { error }) } : p,
    ),
  };
}

export function removePending(tl: Timeline, clientId: string): Timeline {
  return { ...tl, pending: tl.pending.filter((p) => p.client_id !== clientId) };
}

/**
 * The server stored a message sent by this client (`message.ack`, or the REST answer).
 * It replaces the optimistic copy and counts as the message.new event of its seq,
 * since the socket that sent it may not also receive that event.
 */
export function acknowledge(tl: Timeline, clientId: string, message: Message): Timeline {
  const without = removePending(tl, clientId);
  return applyEvent(without, {
    conversation_id: message.conversation_id,
    seq: message.seq,
    type: "message.new",
    created_at: message.created_at,
    actor_id: message.sender_id,
    message,
  });
}

/**
 * A message state from a REST answer (edit, delete): shown at once, without touching
 * the seq bookkeeping — the matching event arrives on the socket or in a catch-up.
 */
export function replaceMessage(tl: Timeline, message: Message): Timeline {
  if (!tl.messages.some((m) => m.id === message.id)) return tl;
  return { ...tl, messages: upsertMessage(tl.messages, message) };
}

/** Confirmed messages and system lines in seq order, then the caller's pending messages: what the list renders. */
export type TimelineItem =
  | { kind: "message"; message: Message }
  | { kind: "system"; event: ChatEvent }
  | { kind: "pending"; pending: PendingMessage };

export function timelineItems(tl: Timeline): TimelineItem[] {
  const out: TimelineItem[] = [];
  // Lines older than the oldest loaded message belong to a page not loaded yet.
  const from = tl.hasOlder ? (tl.messages[0]?.seq ?? Infinity) : 0;
  let s = 0;
  for (const message of tl.messages) {
    for (; s < tl.system.length && (tl.system[s] as ChatEvent).seq < message.seq; s += 1) {
      const event = tl.system[s] as ChatEvent;
      if (event.seq > from) out.push({ kind: "system", event });
    }
    out.push({ kind: "message", message });
  }
  for (; s < tl.system.length; s += 1) {
    const event = tl.system[s] as ChatEvent;
    if (event.seq > from) out.push({ kind: "system", event });
  }
  for (const pending of tl.pending) out.push({ kind: "pending", pending });
  return out;
}

export function findMessage(tl: Timeline, id: string): Message | undefined {
  return tl.messages.find((m) => m.id === id);
}

/** Of two copies of the same message, the one reflecting the later state (on a tie, the
 * incoming one: a reaction or pin changes neither `deleted` nor `edited_at`). */
export function pickNewer(a: Message, b: Message): Message {
  if (a.deleted !== b.deleted) return a.deleted ? a : b;
  const ae = a.edited_at ? Date.parse(a.edited_at) : 0;
  const be = b.edited_at ? Date.parse(b.edited_at) : 0;
  return be >= ae ? b : a;
}

function advance(tl: Timeline, seq: number): Timeline {
  if (seq !== tl.lastSeq + 1) {
    return { ...tl, aheadSeqs: [...tl.aheadSeqs, seq].sort((a, b) => a - b) };
  }
  let lastSeq = seq;
  const ahead = new Set(tl.aheadSeqs);
  while (ahead.has(lastSeq + 1)) lastSeq += 1;
  return { ...tl, lastSeq, aheadSeqs: tl.aheadSeqs.filter((s) => s > lastSeq) };
}

function normalise(tl: Timeline): Timeline {
  // After a page load moved lastSeq forward, ahead seqs just above it become contiguous.
  let lastSeq = tl.lastSeq;
  const ahead = new Set(tl.aheadSeqs);
  while (ahead.has(lastSeq + 1)) lastSeq += 1;
  return { ...tl, lastSeq, aheadSeqs: tl.aheadSeqs.filter((s) => s > lastSeq) };
}

function upsertMessage(messages: Message[], incoming: Message): Message[] {
  const index = messages.findIndex((m) => m.seq === incoming.seq || m.id === incoming.id);
  if (index >= 0) {
    const current = messages[index] as Message;
    const chosen = pickNewer(current, incoming);
    if (chosen === current) return messages;
    const copy = messages.slice();
    copy[index] = chosen;
    return copy;
  }
  // Insert keeping seq order; new messages nearly always go last.
  let at = messages.length;
  while (at > 0 && (messages[at - 1] as Message).seq > incoming.seq) at -= 1;
  return [...messages.slice(0, at), incoming, ...messages.slice(at)];
}

function upsertSystem(system: ChatEvent[], event: ChatEvent): ChatEvent[] {
  if (system.some((e) => e.seq === event.seq)) return system;
  let at = system.length;
  while (at > 0 && (system[at - 1] as ChatEvent).seq > event.seq) at -= 1;
  return [...system.slice(0, at), event, ...system.slice(at)];
}

function mergeMessages(existing: Message[], page: readonly Message[]): Message[] {
  return page.reduce(upsertMessage, existing);
}

function dropAcknowledged(pending: PendingMessage[], messages: readonly Message[]): PendingMessage[] {
  if (!pending.length) return pending;
  const acked = new Set(
    messages.filter((m) => m.client_id !== null).map((m) => `${m.sender_id}\u0000${m.client_id ?? ""}`),
  );
  const kept = pending.filter((p) => !acked.has(`${p.sender_id}\u0000${p.client_id}`));
  return kept.length === pending.length ? pending : kept;
}

function maxSeq(messages: readonly Message[]): number {
  return messages.reduce((max, m) => Math.max(max, m.seq), 0);
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${String(value)}`);
}
