/**
 * Reactions and pins: toggling a reaction, the conversation's pins, pinning. The answers
 * update the one timeline cache at once; the matching `message.reaction` /
 * `message.pinned` frames (realtime/handlers.ts) bring the same state to every tab.
 */
import { useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import type { Message, Pin } from "../../api/types";
import { keys } from "../conversations/keys";
import { updateTimeline } from "../messages/api";
import { replaceMessage } from "../messages/timeline";

/** Whether I reacted with `emoji` on `message`. */
export function reactedByMe(message: Message, emoji: string, meId: string): boolean {
  return (message.reactions ?? []).some((r) => r.emoji === emoji && r.user_ids.includes(meId));
}

/** Add my reaction, or take it back when I have it already. */
export async function toggleReaction(qc: QueryClient, message: Message, emoji: string, meId: string): Promise<void> {
  const params = { params: { path: { message_id: message.id, emoji } } };
  const path = "/api/v1/messages/{message_id}/reactions/{emoji}" as const;
  const answer = reactedByMe(message, emoji, meId)
    ? await unwrap(api.DELETE(path, params))
    : await unwrap(api.PUT(path, params));
  updateTimeline(qc, message.conversation_id, (tl) => replaceMessage(tl, answer));
}

export function useToggleReaction(meId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ message, emoji }: { message: Message; emoji: string }) => toggleReaction(qc, message, emoji, meId),
  });
}

/** The conversation's pinned messages, newest pin first. */
export function usePins(conversationId: string, enabled = true) {
  return useQuery({
    queryKey: keys.pins(conversationId),
    enabled,
    queryFn: (): Promise<Pin[]> =>
      unwrap(
        api.GET("/api/v1/conversations/{conversation_id}/pins", {
          params: { path: { conversation_id: conversationId } },
        }),
      ),
  });
}

/** Pin a message, or unpin it when it is pinned. */
export function useTogglePin() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (message: Message) => {
      const params = { params: { path: { conversation_id: message.conversation_id, message_id: message.id } } };
      const path = "/api/v1/conversations/{conversation_id}/pins/{message_id}" as const;
      if (message.pinned) {
        await unwrap(api.DELETE(path, params));
        updateTimeline(qc, message.conversation_id, (tl) => replaceMessage(tl, { ...message, pinned: false }));
      } else {
        const pin = await unwrap(api.PUT(path, params));
        updateTimeline(qc, message.conversation_id, (tl) => replaceMessage(tl, pin.message));
      }
      await qc.invalidateQueries({ queryKey: keys.pins(message.conversation_id) });
    },
  });
}
