import type { ChatEvent, Member, Message, User } from "../api/types";

export const CONV = "c0000000-0000-4000-8000-000000000001";
export const ME = "u0000000-0000-4000-8000-00000000000a";
export const ALICE = "u0000000-0000-4000-8000-00000000000b";

export function user(id: string, name = id.slice(-1)): User {
  return {
    id,
    username: name.toLowerCase(),
    display_name: name,
    created_at: "2026-01-01T00:00:00Z",
    online: false,
    last_seen_at: null,
    email: null,
    avatar_url: null,
    avatar_thumb_url: null,
    role: null,
  };
}

export function message(seq: number, over: Partial<Message> = {}): Message {
  return {
    id: `m-${seq}`,
    conversation_id: CONV,
    seq,
    sender_id: ALICE,
    body: `message ${seq}`,
    client_id: null,
    reply_to_id: null,
    attachments: [],
    created_at: new Date(Date.UTC(2026, 0, 1, 12, 0, seq)).toISOString(),
    edited_at: null,
    deleted: false,
    mentions: [],
    mentions_all: false,
    reactions: [],
    pinned: false,
    attachments_withheld: false,
    ...over,
  };
}

export function newEvent(seq: number, over: Partial<Message> = {}): ChatEvent {
  const m = message(seq, over);
  return {
    conversation_id: CONV,
    seq,
    type: "message.new",
    created_at: m.created_at,
    actor_id: m.sender_id,
    message: m,
  };
}

export function member(id: string, read = 0, delivered = 0): Member {
  return {
    user: user(id),
    role: "member",
    last_read_seq: read,
    last_delivered_seq: delivered,
    joined_at: "2026-01-01T00:00:00Z",
  };
}
