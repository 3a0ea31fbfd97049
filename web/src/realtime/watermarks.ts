/**
 * Where the socket's per-conversation watermarks come from: a loaded timeline's
 * `lastSeq`, the seq up to which every event has been applied to the messages on
 * screen. Never the conversation list's `last_seq`: the list is reloaded on every
 * reconnect and counts messages this client has not applied yet, and a watermark
 * raised to it makes the catch-up skip them (a message shown in the list, missing from
 * the open chat).
 */
import type { QueryClient } from "@tanstack/react-query";
import type { Conversation } from "../api/types";
import { keys } from "../features/conversations/keys";
import type { Timeline } from "../features/messages/timeline";

export interface Tracker {
  track: (conversationId: string, seq: number) => void;
}

/**
 * Follow every loaded timeline's watermark, now and as it moves; not a conversation I
 * have left or was removed from (nothing more comes from it). Returns a stop function.
 */
export function trackTimelines(qc: QueryClient, tracker: Tracker): () => void {
  const follow = (tl: Timeline | undefined) => {
    if (!tl?.loaded) return;
    const listed = qc.getQueryData<Conversation[]>(keys.conversations)?.find((c) => c.id === tl.conversationId);
    if (!listed?.former) tracker.track(tl.conversationId, tl.lastSeq);
  };
  for (const [, tl] of qc.getQueriesData<Timeline>({ queryKey: ["timeline"] })) follow(tl);
  return qc.getQueryCache().subscribe((event) => {
    if (event.type !== "updated" || event.query.queryKey[0] !== "timeline") return;
    follow(event.query.state.data as Timeline | undefined);
  });
}
