/**
 * What the app shows when it starts without a network: the signed-in user and the last
 * conversation list seen, kept in IndexedDB (idb-keyval) by the app itself. The service
 * worker never caches API answers; this copy is written from the query cache as the list
 * changes, read only when the server cannot be reached, and deleted at sign-out.
 */
import type { QueryClient } from "@tanstack/react-query";
import { createStore, del, get, set, type UseStore } from "idb-keyval";
import type { Conversation, User } from "../../api/types";
import { keys } from "../conversations/keys";

const ME = "me";
const LIST = "conversations";
/** Writes are batched: a busy list changes with every message. */
export const SAVE_DELAY_MS = 1_000;

let store: UseStore | null = null;
function db(): UseStore | null {
  if (typeof indexedDB === "undefined") return null;
  store ??= createStore("chatapi-offline", "snapshot");
  return store;
}

interface Saved<T> {
  userId: string;
  value: T;
}

async function read<T>(key: string, userId?: string): Promise<Saved<T> | undefined> {
  const s = db();
  if (!s) return undefined;
  try {
    const saved = await get<Saved<T>>(key, s);
    return saved && (userId === undefined || saved.userId === userId) ? saved : undefined;
  } catch {
    return undefined;
  }
}

async function write<T>(key: string, userId: string, value: T): Promise<void> {
  const s = db();
  if (!s) return;
  try {
    await set(key, { userId, value } satisfies Saved<T>, s);
  } catch {
    // Storage full or refused (private mode): offline start shows less, nothing breaks.
  }
}

/** The user last signed in on this device, for a start without network. */
export async function offlineMe(): Promise<User | undefined> {
  return (await read<User>(ME))?.value;
}

/** That user's last conversation list, or undefined (another user's is never returned). */
export async function offlineConversations(userId: string): Promise<Conversation[] | undefined> {
  return (await read<Conversation[]>(LIST, userId))?.value;
}

export function saveOfflineMe(user: User): Promise<void> {
  return write(ME, user.id, user);
}

export function saveOfflineConversations(userId: string, list: Conversation[]): Promise<void> {
  return write(LIST, userId, list);
}

/** Sign-out: nothing of this person stays on the device. */
export async function forgetOffline(): Promise<void> {
  const s = db();
  if (!s) return;
  try {
    await Promise.all([del(ME, s), del(LIST, s)]);
  } catch {
    // Nothing stored, or storage unavailable.
  }
}

/** A request that failed because the server could not be reached (not an answer from it). */
export function isUnreachable(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "network";
}

/** Keep the saved copy in step with the cache's list (batched). Returns a stop function. */
export function persistForOffline(qc: QueryClient, me: User): () => void {
  void saveOfflineMe(me);
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last: Conversation[] | undefined;
  const flush = () => {
    timer = null;
    const list = qc.getQueryData<Conversation[]>(keys.conversations);
    if (list && list !== last) {
      last = list;
      void saveOfflineConversations(me.id, list);
    }
  };
  flush();
  const unsubscribe = qc.getQueryCache().subscribe((event) => {
    const key = event.query.queryKey;
    if (event.type !== "updated" || key.length !== 1 || key[0] !== keys.conversations[0]) return;
    timer ??= setTimeout(flush, SAVE_DELAY_MS);
  });
  return () => {
    unsubscribe();
    if (timer) clearTimeout(timer);
    flush();
  };
}

// --- Whether the screen shows the saved copy (the connection banner says so) -----------

let showingCopy = false;
const copyListeners = new Set<() => void>();

/** The list on screen is the saved copy (true) or the server's (false). */
export function setShowingOfflineCopy(value: boolean): void {
  if (showingCopy === value) return;
  showingCopy = value;
  for (const l of copyListeners) l();
}

export function showingOfflineCopy(): boolean {
  return showingCopy;
}

export function onOfflineCopyChange(listener: () => void): () => void {
  copyListeners.add(listener);
  return () => copyListeners.delete(listener);
}
