/** Conversations, members and user search: queries and mutations over the typed client. */
import { replaceEqualDeep, useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../../api/client";
import type { ChatEvent, Conversation, Member, Role, User } from "../../api/types";
import { keepMarkersForward } from "../messages/receipts";
import { isUnreachable, offlineConversations, offlineMe, setShowingOfflineCopy } from "../pwa/offline";
import { rememberUsers } from "../users/api";
import { keys } from "./keys";

export { keys };

/** The server's page cap: one request covers all but the busiest accounts (older ones need the `before` cursor). */
const CONVERSATIONS_LIMIT = 500;

/** Groups I left or was removed from are listed too (`former`): their history stays readable. */
export function fetchConversations(): Promise<Conversation[]> {
  return unwrap(
    api.GET("/api/v1/conversations", { params: { query: { limit: CONVERSATIONS_LIMIT, include_former: true } } }),
  );
}

export function useConversations(enabled = true) {
  const qc = useQueryClient();
  return useQuery({
    queryKey: keys.conversations,
    queryFn: () =>
      loadConversationList(qc).then(
        (list) => {
          setShowingOfflineCopy(false);
          return list;
        },
        (error: unknown) => offlineFallback(qc, error),
      ),
    select: sortConversations,
    enabled,
  });
}

/**
 * The server cannot be reached (a start without network): the list last seen on this
 * device (IndexedDB), refetched when the socket is ready again. Any other failure stands.
 */
async function offlineFallback(qc: QueryClient, error: unknown): Promise<Conversation[]> {
  const meId = qc.getQueryData<User>(keys.me)?.id ?? (await offlineMe())?.id;
  const saved = isUnreachable(error) && meId ? await offlineConversations(meId) : undefined;
  if (!saved) throw error;
  setShowingOfflineCopy(true);
  return saved;
}

/** The list for the cache: fetched, then merged with what the cache learnt meanwhile. */
export async function loadConversationList(
  qc: QueryClient,
  fetchList: () => Promise<Conversation[]> = fetchConversations,
): Promise<Conversation[]> {
  for (let attempt = 0; ; attempt += 1) {
    const news = missedNews;
    const fetched = await fetchList();
    // What the cache holds now, when the answer is in: not what it held when asking.
    const current = qc.getQueryData<Conversation[]>(keys.conversations);
    // The first list has nothing to merge with: if news came meanwhile, ask again.
    if (current || news === missedNews || attempt >= 2) return mergeFetchedConversations(current, fetched);
  }
}

let missedNews = 0;

/**
 * A message or a read reached this client before its first conversation list did: the
 * list on its way may predate it, so it is fetched again.
 */
export function noteNewsBeforeList(): void {
  missedNews += 1;
}

/**
 * A fetched list against what the cache learnt while it was in flight: a message that
 * arrived on the socket, or a read, after the server took its snapshot must not be
 * undone by it (the unread count of a second tab would stick). Per conversation, the
 * copy that knows the later seq and read marker wins those fields.
 */
export function mergeFetchedConversations(
  current: readonly Conversation[] | undefined,
  fetched: Conversation[],
): Conversation[] {
  if (!current?.length) return fetched;
  const known = new Map(current.map((c) => [c.id, c]));
  return fetched.map((f) => {
    const c = known.get(f.id);
    if (!c || f.former) return f;
    const liveMessage = (c.last_message?.seq ?? 0) > (f.last_message?.seq ?? 0);
    const fetchedNewer = (f.last_message?.seq ?? 0) > (c.last_message?.seq ?? 0);
    const liveRead = c.last_read_seq > f.last_read_seq;
    if (!liveMessage && !liveRead && c.last_seq <= f.last_seq) return f;
    return {
      ...f,
      last_seq: Math.max(c.last_seq, f.last_seq),
      last_read_seq: Math.max(c.last_read_seq, f.last_read_seq),
      last_message: liveMessage ? c.last_message : f.last_message,
      unread_count: liveMessage || (liveRead && !fetchedNewer) ? c.unread_count : f.unread_count,
      unread_mentions: liveRead && !fetchedNewer ? c.unread_mentions : f.unread_mentions,
    };
  });
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

export function useMembers(id: string | undefined, enabled = true) {
  const qc = useQueryClient();
  return useQuery({
    queryKey: keys.members(id ?? ""),
    enabled: Boolean(id) && enabled,
    queryFn: async () => {
      const members = await fetchMembers(id ?? "");
      // Their names outlive their membership: old messages keep them after they leave.
      rememberUsers(
        qc,
        members.map((m) => m.user),
      );
      return members;
    },
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

export type MuteChoice = "off" | "1h" | "8h" | "1w" | "always";

/** Mute or unmute a conversation for me (kept on the server: every device follows it). */
export function useMuteConversation(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (mute: MuteChoice) =>
      unwrap(
        api.PATCH("/api/v1/conversations/{conversation_id}/settings", {
          params: { path: { conversation_id: id } },
          body: { mute },
        }),
      ),
    onSuccess: (settings) => applyConversationSettings(qc, id, settings),
  });
}

/** My settings for a conversation changed (this tab's answer, or a frame from another device). */
export function applyConversationSettings(
  qc: QueryClient,
  id: string,
  settings: Pick<Conversation, "muted" | "muted_until">,
): void {
  const patch = { muted: settings.muted, muted_until: settings.muted_until };
  qc.setQueryData<Conversation[]>(keys.conversations, (list) =>
    list?.map((c) => (c.id === id ? { ...c, ...patch } : c)),
  );
  qc.setQueryData<Conversation>(keys.conversation(id), (c) => (c ? { ...c, ...patch } : c));
}

/** Muted now (a mute with an end that has passed is over). */
export function isMuted(c: Pick<Conversation, "muted" | "muted_until">, now = Date.now()): boolean {
  return c.muted && (c.muted_until === null || Date.parse(c.muted_until) > now);
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

/**
 * I left or was removed (the `member.removed` event about me): the conversation stays,
 * read-only, up to that event. The server's copy (GET /conversations/{id}) has the rest.
 */
export function becomeFormer(qc: QueryClient, event: ChatEvent, meId: string): void {
  const id = event.conversation_id;
  const actorId = event.actor_id;
  const removedBy =
    actorId && actorId !== meId
      ? (qc.getQueryData<Member[]>(keys.members(id))?.find((m) => m.user.id === actorId)?.user ??
        qc.getQueryData<User>(keys.user(actorId)) ??
        null)
      : null;
  const former = { left_seq: event.seq, left_at: event.created_at, removed_by: removedBy };
  const patch = (c: Conversation): Conversation => (c.former ? c : { ...c, former });
  qc.setQueryData<Conversation[]>(keys.conversations, (list) => list?.map((c) => (c.id === id ? patch(c) : c)));
  qc.setQueryData<Conversation>(keys.conversation(id), (c) => (c ? patch(c) : c));
  // The member list is for members only now.
  qc.removeQueries({ queryKey: keys.members(id) });
  void qc.invalidateQueries({ queryKey: keys.conversation(id) });
}

/** Delete a conversation I left or was removed from: it goes from my list, and its history with it. */
export function useForgetFormer(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () =>
      unwrap(
        api.DELETE("/api/v1/conversations/{conversation_id}/former", { params: { path: { conversation_id: id } } }),
      ),
    onSuccess: () => forgetConversation(qc, id),
  });
}

/** Takes a conversation off this client at once (deleting a former one). */
export function forgetConversation(qc: QueryClient, id: string): void {
  qc.setQueryData<Conversation[]>(keys.conversations, (list) => list?.filter((c) => c.id !== id));
  qc.removeQueries({ queryKey: keys.conversation(id) });
  qc.removeQueries({ queryKey: keys.members(id) });
  qc.removeQueries({ queryKey: keys.timeline(id) });
}
