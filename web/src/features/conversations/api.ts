/** Conversations, members and user search: queries and mutations over the typed client. */
import { replaceEqualDeep, useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import type { Conversation, Member, Role, User } from "../../api/types";
import { keepMarkersForward } from "../messages/receipts";
import { keys } from "./keys";

export { keys };

/** The server's page cap: one request covers all but the busiest accounts (older ones need the `before` cursor). */
const CONVERSATIONS_LIMIT = 500;

export function fetchConversations(): Promise<Conversation[]> {
  return unwrap(api.GET("/api/v1/conversations", { params: { query: { limit: CONVERSATIONS_LIMIT } } }));
}

export function useConversations(enabled = true) {
  return useQuery({ queryKey: keys.conversations, queryFn: fetchConversations, select: sortConversations, enabled });
}

export function sortConversations(list: Conversation[]): Conversation[] {
  const activity = (c: Conversation) => Date.parse(c.last_message?.created_at ?? c.last_activity_at ?? c.created_at);
  return [...list].sort((a, b) => activity(b) - activity(a));
}

export function useConversation(id: string | undefined) {
  const qc = useQueryClient();
  return useQuery({
    queryKey: keys.conversation(id ?? ""),
    enabled: Boolean(id),
    queryFn: () =>
      unwrap(api.GET("/api/v1/conversations/{conversation_id}", { params: { path: { conversation_id: id ?? "" } } })),
    initialData: () => qc.getQueryData<Conversation[]>(keys.conversations)?.find((c) => c.id === id),
    initialDataUpdatedAt: () => qc.getQueryState(keys.conversations)?.dataUpdatedAt,
  });
}

export function fetchMembers(id: string): Promise<Member[]> {
  return unwrap(
    api.GET("/api/v1/conversations/{conversation_id}/members", { params: { path: { conversation_id: id } } }),
  );
}

export function useMembers(id: string | undefined) {
  return useQuery({
    queryKey: keys.members(id ?? ""),
    enabled: Boolean(id),
    queryFn: () => fetchMembers(id ?? ""),
    staleTime: 60_000,
    // Refetched on every reconnect (for presence) while receipt frames arrive.
    structuralSharing: (held: unknown, fetched: unknown) =>
      replaceEqualDeep(held, keepMarkersForward(held as Member[] | undefined, fetched as Member[])),
  });
}

/** The other person of a direct conversation, from the conversation or its members. */
export function directPeer(c: Conversation, members: Member[] | undefined, meId: string | undefined): User | undefined {
  if (c.kind !== "direct") return undefined;
  return c.other_user ?? members?.find((m) => m.user.id !== meId)?.user;
}

export function conversationTitle(c: Conversation, peer: User | undefined): string {
  if (c.kind === "group") return c.title?.trim() || "Untitled group";
  return peer?.display_name || peer?.username || c.title || "Direct chat";
}

export function useUserSearch(q: string) {
  const query = q.trim().toLowerCase();
  return useQuery({
    queryKey: keys.userSearch(query),
    enabled: query.length > 0,
    queryFn: () => unwrap(api.GET("/api/v1/users", { params: { query: { q: query } } })),
    staleTime: 10_000,
  });
}

function upsertConversation(qc: QueryClient, conversation: Conversation): void {
  qc.setQueryData<Conversation[]>(keys.conversations, (list) => {
    if (!list) return [conversation];
    const rest = list.filter((c) => c.id !== conversation.id);
    return [conversation, ...rest];
  });
  qc.setQueryData(keys.conversation(conversation.id), conversation);
}

export function useStartDirect() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (userId: string) =>
      unwrap(api.POST("/api/v1/conversations", { body: { kind: "direct", member_ids: [userId] } })),
    onSuccess: (conversation) => upsertConversation(qc, conversation),
  });
}

export function useCreateGroup() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ title, memberIds }: { title: string; memberIds: string[] }) =>
      unwrap(api.POST("/api/v1/conversations", { body: { kind: "group", title, member_ids: memberIds } })),
    onSuccess: (conversation) => upsertConversation(qc, conversation),
  });
}

export function useRenameConversation(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (title: string) =>
      unwrap(
        api.PATCH("/api/v1/conversations/{conversation_id}", {
          params: { path: { conversation_id: id } },
          body: { title },
        }),
      ),
    onSuccess: (conversation) => {
      qc.setQueryData<Conversation[]>(keys.conversations, (list) =>
        list?.map((c) => (c.id === id ? { ...c, title: conversation.title } : c)),
      );
      qc.setQueryData<Conversation>(keys.conversation(id), (c) =>
        c ? { ...c, title: conversation.title } : conversation,
      );
    },
  });
}

export function useAddMember(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ userId, role = "member" }: { userId: string; role?: "admin" | "member" }) =>
      unwrap(
        api.POST("/api/v1/conversations/{conversation_id}/members", {
          params: { path: { conversation_id: id } },
          body: { user_id: userId, role },
        }),
      ),
    onSettled: () => qc.invalidateQueries({ queryKey: keys.members(id) }),
  });
}

export function useChangeRole(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ userId, role }: { userId: string; role: Role }) =>
      unwrap(
        api.PATCH("/api/v1/conversations/{conversation_id}/members/{user_id}", {
          params: { path: { conversation_id: id, user_id: userId } },
          body: { role },
        }),
      ),
    onSettled: () => qc.invalidateQueries({ queryKey: keys.members(id) }),
  });
}

export function useRemoveMember(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (userId: string) =>
      unwrap(
        api.DELETE("/api/v1/conversations/{conversation_id}/members/{user_id}", {
          params: { path: { conversation_id: id, user_id: userId } },
        }),
      ),
    onSettled: () => qc.invalidateQueries({ queryKey: keys.members(id) }),
  });
}

/** Leaving removes the conversation from this client at once. */
export function forgetConversation(qc: QueryClient, id: string): void {
  qc.setQueryData<Conversation[]>(keys.conversations, (list) => list?.filter((c) => c.id !== id));
  qc.removeQueries({ queryKey: keys.conversation(id) });
  qc.removeQueries({ queryKey: keys.members(id) });
  qc.removeQueries({ queryKey: keys.timeline(id) });
}
