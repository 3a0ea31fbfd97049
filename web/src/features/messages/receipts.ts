/**
 * Delivery and read status from members' markers. Markers are per member, not per
 * message: a message with seq s is read by a member when their last_read_seq >= s.
 */
import type { Member } from "../../api/types";

export type TickStatus = "pending" | "failed" | "sent" | "delivered" | "read";

export interface ReceiptUpdate {
  user_id: string;
  read_seq: number;
  delivered_seq: number;
}

/** Status of the caller's own message: read/delivered once every other member got there. */
export function messageStatus(seq: number, members: readonly Member[], meId: string): TickStatus {
  const others = members.filter((m) => m.user.id !== meId);
  if (!others.length) return "sent";
  if (others.every((m) => m.last_read_seq >= seq)) return "read";
  if (others.every((m) => Math.max(m.last_delivered_seq, m.last_read_seq) >= seq)) return "delivered";
  return "sent";
}

/** Members other than the sender who have read the message with this seq. */
export function seenBy(seq: number, members: readonly Member[], senderId: string): Member[] {
  return members.filter((m) => m.user.id !== senderId && m.last_read_seq >= seq);
}

/**
 * A refetched member list merged with the one held: markers only move forward, so a
 * response read before a receipt frame arrived cannot take that receipt back.
 */
export function keepMarkersForward(held: readonly Member[] | undefined, fetched: Member[]): Member[] {
  if (!held?.length) return fetched;
  const before = new Map(held.map((m) => [m.user.id, m]));
  return fetched.map((m) => {
    const old = before.get(m.user.id);
    if (!old || (old.last_read_seq <= m.last_read_seq && old.last_delivered_seq <= m.last_delivered_seq)) return m;
    return {
      ...m,
      last_read_seq: Math.max(old.last_read_seq, m.last_read_seq),
      last_delivered_seq: Math.max(old.last_delivered_seq, m.last_delivered_seq),
    };
  });
}

/** A `receipt` frame: markers only move forward. */
export function applyReceipt(members: readonly Member[], receipt: ReceiptUpdate): Member[] {
  return members.map((m) =>
    m.user.id === receipt.user_id
      ? {
          ...m,
          last_read_seq: Math.max(m.last_read_seq, receipt.read_seq),
          last_delivered_seq: Math.max(m.last_delivered_seq, receipt.delivered_seq),
        }
      : m,
  );
}
