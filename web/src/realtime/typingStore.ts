/** Who is typing where: ephemeral, so it lives here and not in the server-state cache. */
import { useSyncExternalStore } from "react";

const EXPIRE_MS = 6_500;
const typing = new Map<string, Map<string, number>>(); // conversation -> user -> expires at
const listeners = new Set<() => void>();
let version = 0;
let timer: ReturnType<typeof setTimeout> | null = null;

function changed(): void {
  version += 1;
  for (const l of listeners) l();
}

function schedule(): void {
  if (timer) clearTimeout(timer);
  let next = Infinity;
  for (const users of typing.values()) for (const t of users.values()) next = Math.min(next, t);
  if (next === Infinity) return;
  timer = setTimeout(expire, Math.max(50, next - Date.now()));
}

function expire(): void {
  const now = Date.now();
  let expired = false;
  for (const [conv, users] of typing) {
    for (const [user, t] of users) {
      if (t <= now) {
        users.delete(user);
        expired = true;
      }
    }
    if (!users.size) typing.delete(conv);
  }
  if (expired) changed();
  schedule();
}

export function setTyping(conversationId: string, userId: string, on: boolean): void {
  const users = typing.get(conversationId) ?? new Map<string, number>();
  if (on) users.set(userId, Date.now() + EXPIRE_MS);
  else users.delete(userId);
  if (users.size) typing.set(conversationId, users);
  else typing.delete(conversationId);
  changed();
  schedule();
}

export function clearTyping(): void {
  typing.clear();
  changed();
}

function subscribe(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

let cacheVersion = -1;
const cache = new Map<string, string[]>();

export function typingUsers(conversationId: string): string[] {
  if (cacheVersion !== version) {
    cache.clear();
    cacheVersion = version;
  }
  let list = cache.get(conversationId);
  if (!list) {
    list = [...(typing.get(conversationId)?.keys() ?? [])];
    cache.set(conversationId, list);
  }
  return list;
}

export function useTypingUsers(conversationId: string): string[] {
  return useSyncExternalStore(
    subscribe,
    () => typingUsers(conversationId),
    () => [],
  );
}
