/**
 * The message timeline in the query cache: loading, history, catch-up, and the
 * outbox of optimistic sends. Socket frames write to the same cache entries
 * (realtime/handlers.ts), so there is one copy of every conversation's messages.
 */
import { useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { api, ApiError, unwrap } from "../../api/client";
import type { ChatEvent, Conversation, Media, Member, Message } from "../../api/types";
import { newClientId } from "../../lib/ids";
import { getSocket } from "../../realtime/connection";
import { noteNewsBeforeList } from "../conversations/api";
import { keys } from "../conversations/keys";
import { submitChange } from "./changes";
import { unreadAfter } from "./readTracking";
import {
  acknowledge,
  addPending,
  applyEvents,
  applyRangeEvents,
  emptyTimeline,
  hasGap,
  loadLatest,
  oldestSeq,
  pageSpan,
  prependHistory,
  removePending,
  setPendingStatus,
  type PendingMessage,
  type Timeline,
} from "./timeline";

export const PAGE_SIZE = 50;
const EVENTS_PAGE = 200;

export function getTimeline(qc: QueryClient, id: string): Timeline | undefined {
  return qc.getQueryData<Timeline>(keys.timeline(id));
}

/** Change a loaded timeline; does nothing for a conversation that is not loaded. */
export function updateTimeline(qc: QueryClient, id: string, fn: (tl: Timeline) => Timeline): void {
  if (!getTimeline(qc, id)) return;
  qc.setQueryData<Timeline>(keys.timeline(id), (tl) => (tl ? fn(tl) : tl));
}

function fetchEvents(id: string, afterSeq: number, limit: number): Promise<ChatEvent[]> {
  return unwrap(
    api.GET("/api/v1/conversations/{conversation_id}/events", {
      params: { path: { conversation_id: id }, query: { after_seq: afterSeq, limit } },
    }),
  );
}

/** Every event with after < seq <= until (the timeline has one event per seq). */
async function fetchEventRange(id: string, after: number, until: number): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  let from = after;
  while (from < until) {
    const want = Math.min(until - from, EVENTS_PAGE);
    const events = (await fetchEvents(id, from, want)).filter((e) => e.seq <= until);
    out.push(...events);
    const last = events.at(-1)?.seq;
    if (events.length < want || last === undefined) break;
    from = last;
  }
  return out;
}

async function fetchLatest(qc: QueryClient, id: string): Promise<Timeline> {
  const page = await unwrap(
    api.GET("/api/v1/conversations/{conversation_id}/messages", {
      params: { path: { conversation_id: id }, query: { limit: PAGE_SIZE } },
    }),
  );
  // The system lines among these messages; what came after the newest one is the
  // catch-up's (useTimeline), from the watermark.
  const hasOlder = loadLatest(emptyTimeline(id), page, PAGE_SIZE).hasOlder;
  const span = pageSpan(page, hasOlder, page.at(-1)?.seq ?? 0);
  const events = span ? await fetchEventRange(id, span.after, span.until) : [];
  // Live events may have reached the cache meanwhile: merge into what is there now.
  const loaded = applyRangeEvents(loadLatest(getTimeline(qc, id) ?? emptyTimeline(id), page, PAGE_SIZE), events);
  markDelivered(id, loaded.lastSeq);
  return loaded;
}

export function useTimeline(id: string) {
  const qc = useQueryClient();
  const query = useQuery({
    queryKey: keys.timeline(id),
    queryFn: () => fetchLatest(qc, id),
    staleTime: Infinity,
    gcTime: 30 * 60_000,
    // A timeline holding only optimistic or restored messages has not been loaded yet.
    refetchOnMount: (q) => (q.state.data?.loaded ? false : "always"),
  });
  const loaded = query.isSuccess && query.data.loaded;
  useEffect(() => {
    // The newest page says nothing of edits made after its newest message: one
    // catch-up from its watermark closes that window.
    if (loaded) void catchUpTimeline(qc, id).catch(() => undefined);
  }, [loaded, qc, id]);
  return query;
}

const catchingUp = new Map<string, Promise<void>>();

/** Fetch events after the timeline's watermark until none are left. One run per conversation. */
export function catchUpTimeline(qc: QueryClient, id: string): Promise<void> {
  const running = catchingUp.get(id);
  if (running) return running;
  const run = (async () => {
    for (let i = 0; i < 100; i += 1) {
      const tl = getTimeline(qc, id);
      // Not loaded yet: loading the newest page comes first, catching up after it.
      if (!tl?.loaded) return;
      const events = await fetchEvents(id, tl.lastSeq, EVENTS_PAGE);
      updateTimeline(qc, id, (t) => applyEvents(t, events));
      const newest = events.at(-1)?.seq;
      if (newest !== undefined) markDelivered(id, newest);
      // The socket now counts these as seen (its watermark follows this timeline), so a
      // live copy racing this answer is dropped: the list's preview comes from here.
      const newestMessage = events.findLast((e) => e.type === "message.new" && e.message)?.message;
      if (newestMessage) noteLastMessage(qc, newestMessage, false);
      if (events.length < EVENTS_PAGE) return;
    }
  })().finally(() => catchingUp.delete(id));
  catchingUp.set(id, run);
  return run;
}

/** After applying a frame: a hole means something was missed; fetch it. */
export function catchUpIfGap(qc: QueryClient, id: string): void {
  const tl = getTimeline(qc, id);
  if (tl && hasGap(tl)) void catchUpTimeline(qc, id).catch(() => undefined);
}

const loadingOlder = new Set<string>();

export async function loadOlder(qc: QueryClient, id: string): Promise<void> {
  const tl = getTimeline(qc, id);
  const before = tl ? oldestSeq(tl) : null;
  if (!tl || !tl.hasOlder || before === null || loadingOlder.has(id)) return;
  loadingOlder.add(id);
  try {
    const page = await unwrap(
      api.GET("/api/v1/conversations/{conversation_id}/messages", {
        params: { path: { conversation_id: id }, query: { before_seq: before, limit: PAGE_SIZE } },
      }),
    );
    // The page's system lines come with it, in one update: never a moment without them.
    const span = pageSpan(page, prependHistory(tl, page, PAGE_SIZE).hasOlder, before - 1);
    const events = span ? await fetchEventRange(id, span.after, span.until) : [];
    updateTimeline(qc, id, (t) => applyRangeEvents(prependHistory(t, page, PAGE_SIZE), events));
  } finally {
    loadingOlder.delete(id);
  }
}

/** A stored message of ours reached us (ack or REST answer): replace the pending copy. */
export function onAcknowledged(qc: QueryClient, clientId: string, message: Message): void {
  const id = message.conversation_id;
  if (getTimeline(qc, id)) {
    qc.setQueryData<Timeline>(keys.timeline(id), (tl) => (tl ? acknowledge(tl, clientId, message) : tl));
    catchUpIfGap(qc, id);
  }
  noteLastMessage(qc, message, false);
}

/** Move a conversation to the top of the list with this message as its preview. */
export function noteLastMessage(qc: QueryClient, message: Message, countUnread: boolean): void {
  let known = false;
  qc.setQueryData<Conversation[]>(keys.conversations, (list) =>
    list?.map((c) => {
      if (c.id !== message.conversation_id) return c;
      known = true;
      const newer = !c.last_message || c.last_message.seq <= message.seq;
      // A list fetched after the message was stored counts it already.
      const counted = c.last_message !== null && c.last_message !== undefined && c.last_message.seq >= message.seq;
      return {
        ...c,
        last_seq: Math.max(c.last_seq, message.seq),
        last_message: newer ? message : c.last_message,
        unread_count: countUnread && !counted ? c.unread_count + 1 : c.unread_count,
      };
    }),
  );
  if (!qc.getQueryData(keys.conversations)) noteNewsBeforeList();
  else if (!known || (countUnread && mentionsSomeone(message))) {
    // Whom a mention is for is the server's to count (unread_mentions): ask for the list.
    // A conversation we have never seen (someone started it): fetch the list.
    void qc.invalidateQueries({ queryKey: keys.conversations });
  }
}

function mentionsSomeone(message: Message): boolean {
  return message.mentions_all || message.mentions.length > 0;
}

export interface SendInput {
  conversationId: string;
  senderId: string;
  body: string;
  replyToId: string | null;
  attachments: Media[];
}

/** Show the message at once, then send it over the socket (or REST when the socket is down). */
export function sendMessage(qc: QueryClient, input: SendInput): PendingMessage {
  const pending: PendingMessage = {
    client_id: newClientId(),
    conversation_id: input.conversationId,
    sender_id: input.senderId,
    body: input.body,
    reply_to_id: input.replyToId,
    attachment_ids: input.attachments.map((a) => a.id),
    attachments: input.attachments,
    created_at: new Date().toISOString(),
    status: "queued",
  };
  qc.setQueryData<Timeline>(keys.timeline(input.conversationId), (tl) =>
    addPending(tl ?? emptyTimeline(input.conversationId), pending),
  );
  dispatch(qc, pending);
  return pending;
}

function frameFor(p: PendingMessage) {
  return {
    type: "message.send" as const,
    conversation_id: p.conversation_id,
    client_id: p.client_id,
    body: p.body,
    ...(p.attachment_ids.length ? { attachment_ids: p.attachment_ids } : {}),
    ...(p.reply_to_id ? { reply_to_id: p.reply_to_id } : {}),
  };
}

const restInFlight = new Set<string>();

function dispatch(qc: QueryClient, p: PendingMessage): void {
  const setStatus = (status: PendingMessage["status"], error?: string) =>
    updateTimeline(qc, p.conversation_id, (tl) => setPendingStatus(tl, p.client_id, status, error));
  if (getSocket().send(frameFor(p))) {
    setStatus("sending");
    return;
  }
  if (restInFlight.has(p.client_id)) return;
  // The socket is not ready: REST is idempotent by client_id too, so trying both never duplicates.
  restInFlight.add(p.client_id);
  setStatus("sending");
  unwrap(
    api.POST("/api/v1/conversations/{conversation_id}/messages", {
      params: { path: { conversation_id: p.conversation_id } },
      body: {
        body: p.body,
        client_id: p.client_id,
        ...(p.attachment_ids.length ? { attachment_ids: p.attachment_ids } : {}),
        ...(p.reply_to_id ? { reply_to_id: p.reply_to_id } : {}),
      },
    }),
  )
    .then((message) => onAcknowledged(qc, p.client_id, message))
    .catch((error: unknown) => {
      if (
        error instanceof ApiError &&
        error.status >= 400 &&
        error.status < 500 &&
        error.status !== 401 &&
        error.status !== 429
      ) {
        setStatus("failed", error.message);
      } else {
        // Offline or server trouble: stays queued and goes out when the socket is back.
        setStatus("queued");
      }
    })
    .finally(() => restInFlight.delete(p.client_id));
}

/** The socket is ready again: send every unacknowledged message once more (same client_id). */
export function flushOutbox(qc: QueryClient): void {
  for (const [, tl] of qc.getQueriesData<Timeline>({ queryKey: ["timeline"] })) {
    for (const p of tl?.pending ?? []) {
      if (p.status !== "failed") dispatch(qc, p);
    }
  }
}

export function retryPending(qc: QueryClient, p: PendingMessage): void {
  updateTimeline(qc, p.conversation_id, (tl) => setPendingStatus(tl, p.client_id, "queued"));
  dispatch(qc, { ...p, status: "queued" });
}

export function discardPending(qc: QueryClient, p: PendingMessage): void {
  updateTimeline(qc, p.conversation_id, (tl) => removePending(tl, p.client_id));
}

export function markFailed(qc: QueryClient, clientId: string, detail: string): void {
  for (const [key, tl] of qc.getQueriesData<Timeline>({ queryKey: ["timeline"] })) {
    if (tl?.pending.some((p) => p.client_id === clientId)) {
      qc.setQueryData<Timeline>(key, setPendingStatus(tl, clientId, "failed", detail));
    }
  }
}

/** Edit a sent message; queued (see changes.ts) while the server cannot be reached. */
export function useEditMessage() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ message, body }: { message: Message; body: string }) =>
      submitChange(qc, { kind: "edit", message, body }),
  });
}

/** Delete a sent message; queued (see changes.ts) while the server cannot be reached. */
export function useDeleteMessage() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (message: Message) => submitChange(qc, { kind: "delete", message }),
  });
}

const readSent = new Map<string, number>();

/** Move my read marker to `seq` (socket, else REST); the unread badge follows. */
export function markRead(qc: QueryClient, id: string, seq: number, meId: string): void {
  if (seq <= 0 || (readSent.get(id) ?? 0) >= seq) return;
  readSent.set(id, seq);
  noteOwnRead(qc, id, seq, meId);
  qc.setQueryData<Member[]>(keys.members(id), (members) =>
    members?.map((m) =>
      m.user.id === meId
        ? {
            ...m,
            last_read_seq: Math.max(m.last_read_seq, seq),
            last_delivered_seq: Math.max(m.last_delivered_seq, seq),
          }
        : m,
    ),
  );
  if (getSocket().send({ type: "read", conversation_id: id, seq })) return;
  void unwrap(
    api.POST("/api/v1/conversations/{conversation_id}/read", {
      params: { path: { conversation_id: id } },
      body: { seq },
    }),
  ).catch(() => readSent.delete(id));
}

/**
 * My read marker is at `seq` now (moved here, or in another tab or device: a `receipt`
 * about me): the conversation's unread count follows, counted from the loaded timeline
 * when it covers what is after `seq`, else asked of the server.
 */
export function noteOwnRead(qc: QueryClient, id: string, seq: number, meId: string): void {
  readSent.set(id, Math.max(readSent.get(id) ?? 0, seq));
  const tl = getTimeline(qc, id);
  let unknown = false;
  qc.setQueryData<Conversation[]>(keys.conversations, (list) =>
    list?.map((c) => {
      if (c.id !== id) return c;
      const unread = unreadCountAfter(c, tl, seq, meId);
      if (unread === null) unknown = true;
      return {
        ...c,
        last_read_seq: Math.max(c.last_read_seq, seq),
        unread_count: unread ?? c.unread_count,
        unread_mentions: unread === 0 ? 0 : (unreadMentionsAfter(tl, seq, meId, unread) ?? c.unread_mentions),
      };
    }),
  );
  // The open conversation's own entry too: its marker places the "new messages" divider next time.
  qc.setQueryData<Conversation>(keys.conversation(id), (c) =>
    c
      ? { ...c, last_read_seq: Math.max(c.last_read_seq, seq), unread_count: unreadCountAfter(c, tl, seq, meId) ?? 0 }
      : c,
  );
  if (unknown) void qc.invalidateQueries({ queryKey: keys.conversations });
}

/** Unread messages that mention me or @all, counted from the timeline when it covers them. */
function unreadMentionsAfter(
  tl: Timeline | undefined,
  seq: number,
  meId: string,
  unread: number | null,
): number | null {
  if (unread === null || !tl) return null;
  return unreadAfter(tl.messages, seq, meId).filter((m) => m.mentions_all || m.mentions.includes(meId)).length;
}

function unreadCountAfter(c: Conversation, tl: Timeline | undefined, seq: number, meId: string): number | null {
  if (seq >= Math.max(c.last_message?.seq ?? 0, tl?.lastSeq ?? 0)) return 0;
  const oldest = tl?.messages[0]?.seq;
  if (tl?.loaded && (!tl.hasOlder || (oldest !== undefined && oldest <= seq + 1))) {
    return unreadAfter(tl.messages, seq, meId).length;
  }
  return null;
}

const deliveredSent = new Map<string, number>();

/**
 * Tell senders their messages up to `seq` reached this device: whatever a client has
 * fetched (history, catch-up, the conversation list) or received counts, whoever sent
 * the newest of it. Sent once per seq; when the socket is not ready, the next `ready`
 * (which refetches the list) tries again.
 */
export function markDelivered(id: string, seq: number): void {
  if (seq <= 0 || (deliveredSent.get(id) ?? 0) >= seq) return;
  if (getSocket().send({ type: "delivered", conversation_id: id, seq })) deliveredSent.set(id, seq);
}

export function resetMarkers(): void {
  readSent.clear();
  deliveredSent.clear();
}
