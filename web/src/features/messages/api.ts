/**
 * The message timeline in the query cache: loading, history, catch-up, and the
 * outbox of optimistic sends. Socket frames write to the same cache entries
 * (realtime/handlers.ts), so there is one copy of every conversation's messages.
 */
import { useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { api, ApiError, unwrap } from "../../api/client";
import type { Conversation, Media, Member, Message } from "../../api/types";
import { newClientId } from "../../lib/ids";
import { getSocket } from "../../realtime/connection";
import { keys } from "../conversations/keys";
import { submitChange } from "./changes";
import {
  acknowledge,
  addPending,
  applyEvents,
  emptyTimeline,
  hasGap,
  loadLatest,
  oldestSeq,
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

async function fetchLatest(qc: QueryClient, id: string): Promise<Timeline> {
  const page = await unwrap(
    api.GET("/api/v1/conversations/{conversation_id}/messages", {
      params: { path: { conversation_id: id }, query: { limit: PAGE_SIZE } },
    }),
  );
  return loadLatest(getTimeline(qc, id) ?? emptyTimeline(id), page, PAGE_SIZE);
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
      const events = await unwrap(
        api.GET("/api/v1/conversations/{conversation_id}/events", {
          params: { path: { conversation_id: id }, query: { after_seq: tl.lastSeq, limit: EVENTS_PAGE } },
        }),
      );
      updateTimeline(qc, id, (t) => applyEvents(t, events));
      // The socket now counts these as seen (its watermark follows this timeline), so a
      // live copy racing this answer is dropped: the list's preview comes from here.
      const newest = events.findLast((e) => e.type === "message.new" && e.message)?.message;
      if (newest) noteLastMessage(qc, newest, false);
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
    updateTimeline(qc, id, (t) => prependHistory(t, page, PAGE_SIZE));
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
      return {
        ...c,
        last_seq: Math.max(c.last_seq, message.seq),
        last_message: newer ? message : c.last_message,
        unread_count: countUnread ? c.unread_count + 1 : c.unread_count,
      };
    }),
  );
  if (!known && qc.getQueryData(keys.conversations)) {
    // A conversation we have never seen (someone started it): fetch the list.
    void qc.invalidateQueries({ queryKey: keys.conversations });
  }
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

/** Move my read marker to `seq` (socket, else REST) and clear the unread badge. */
export function markRead(qc: QueryClient, id: string, seq: number, meId: string): void {
  if (seq <= 0 || (readSent.get(id) ?? 0) >= seq) return;
  readSent.set(id, seq);
  qc.setQueryData<Conversation[]>(keys.conversations, (list) =>
    list?.map((c) => (c.id === id ? { ...c, unread_count: 0 } : c)),
  );
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

const deliveredSent = new Map<string, number>();

/** Tell senders their message reached this device. */
export function markDelivered(id: string, seq: number): void {
  if (seq <= 0 || (deliveredSent.get(id) ?? 0) >= seq) return;
  if (getSocket().send({ type: "delivered", conversation_id: id, seq })) deliveredSent.set(id, seq);
}

export function resetMarkers(): void {
  readSent.clear();
  deliveredSent.clear();
}
