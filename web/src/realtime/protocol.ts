/** The WebSocket frames of /api/v1/ws, as discriminated unions on `type`. */
import type { ChatEvent, ConversationKind, Message, User } from "../api/types";

export type TypingState = "start" | "stop";

export type ServerFrame =
  | { type: "ready"; user: User; session_id: string }
  | { type: "message.ack"; client_id: string; message: Message }
  | ChatEvent
  | { type: "typing"; conversation_id: string; user_id: string; state: TypingState }
  | { type: "receipt"; conversation_id: string; user_id: string; read_seq: number; delivered_seq: number }
  | { type: "presence"; user_id: string; online: boolean; last_seen_at: string | null }
  | { type: "error"; code: string; detail: string; client_id?: string | null }
  | { type: "pong" }
  // Server extensions beyond the contract's table (docs/protocol.md): the expiry of a
  // renewed token, and a new conversation you belong to (its first event is seq 1).
  | { type: "auth.renewed"; expires_at: string }
  | { type: "conversation.created"; conversation_id: string; kind: ConversationKind; title: string | null };

export type ClientFrame =
  | { type: "auth"; token: string }
  | {
      type: "message.send";
      conversation_id: string;
      client_id: string;
      body: string;
      attachment_ids?: string[];
      reply_to_id?: string | null;
    }
  | { type: "typing"; conversation_id: string; state: TypingState }
  | { type: "read"; conversation_id: string; seq: number }
  | { type: "delivered"; conversation_id: string; seq: number }
  | { type: "ping" };

const SERVER_TYPES: ReadonlySet<string> = new Set([
  "ready",
  "message.ack",
  "message.new",
  "message.edited",
  "message.deleted",
  "member.added",
  "member.removed",
  "member.role_changed",
  "conversation.updated",
  "typing",
  "receipt",
  "presence",
  "error",
  "pong",
  "conversation.created",
  "auth.renewed",
]);

/** Parse a text frame; unknown or malformed frames give null (the server may add types). */
export function parseServerFrame(data: unknown): ServerFrame | null {
  if (typeof data !== "string") return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const type = (value as { type?: unknown }).type;
  if (typeof type !== "string" || !SERVER_TYPES.has(type)) return null;
  return value as ServerFrame;
}

export function isEventFrame(frame: ServerFrame): frame is ChatEvent {
  switch (frame.type) {
    case "message.new":
    case "message.edited":
    case "message.deleted":
    case "member.added":
    case "member.removed":
    case "member.role_changed":
    case "conversation.updated":
      return true;
    default:
      return false;
  }
}
