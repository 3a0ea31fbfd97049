/**
 * Reading: a message counts as read once it has been on screen while the page was
 * visible — not when it merely arrived. Markers are per member and only move forward,
 * so the highest seq seen is what gets marked read.
 */
import type { Message } from "../../api/types";

/**
 * Whether an observed row counts as seen: at least half of it is on screen, or it is so
 * tall (a big image) that what is on screen fills half the list.
 */
export function countsAsSeen(ratio: number, visibleHeight: number, rootHeight: number): boolean {
  return ratio >= 0.5 || (rootHeight > 0 && visibleHeight >= rootHeight * 0.5);
}

/** Messages of others after `seq`, not deleted: what is still unread once `seq` is read. */
export function unreadAfter(messages: readonly Message[], seq: number, meId: string): Message[] {
  return messages.filter((m) => m.seq > seq && m.sender_id !== meId && !m.deleted);
}

/**
 * Where the "N new messages" divider goes when a conversation opens with read marker
 * `readSeq`: before the first unread message, counting every unread one.
 */
export function newMessagesDivider(
  messages: readonly Message[],
  readSeq: number,
  meId: string,
): { seq: number; count: number } | null {
  const unread = unreadAfter(messages, readSeq, meId);
  const first = unread[0];
  return first ? { seq: first.seq, count: unread.length } : null;
}

/**
 * The rows on screen, and the read marker they move. Nothing is taken before `start`:
 * until the list has been placed where it opens, what is on screen says nothing.
 */
export class SeenTracker {
  private readonly onScreen = new Set<number>();
  private marked: number | null = null;

  /**
   * The list is in place and `readSeq` was already read. What was on screen before does
   * not count: the caller measures again (the rows come back through `set`).
   */
  start(readSeq: number): void {
    this.marked = Math.max(this.marked ?? 0, readSeq);
    this.onScreen.clear();
  }

  /** A row (message or system line) came into view, or left it. */
  set(seq: number, seen: boolean): void {
    if (seen) this.onScreen.add(seq);
    else this.onScreen.delete(seq);
  }

  /**
   * The seq to mark read now: the highest one on screen, when the page is visible and
   * it is past what was marked already. Null otherwise.
   */
  take(pageVisible: boolean): number | null {
    if (!pageVisible || this.marked === null) return null;
    let highest = 0;
    for (const seq of this.onScreen) highest = Math.max(highest, seq);
    if (highest <= this.marked) return null;
    this.marked = highest;
    return highest;
  }

  /** Everything up to here has been read (seen here, or before the conversation opened). */
  get readUpTo(): number {
    return this.marked ?? 0;
  }
}

// Which open conversation shows its newest messages right now, so a message arriving
// there is read at once rather than counted as unread first.
let newestOnScreen: string | null = null;

export function setNewestOnScreen(conversationId: string, onScreen: boolean): void {
  if (onScreen) newestOnScreen = conversationId;
  else if (newestOnScreen === conversationId) newestOnScreen = null;
}

export function isNewestOnScreen(conversationId: string): boolean {
  return newestOnScreen === conversationId;
}
