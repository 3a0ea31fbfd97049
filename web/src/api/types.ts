/**
 * Domain types used across the client. Until the server publishes /openapi.json these
 * mirror shared/API-CONTRACT.md by hand; afterwards they are aliases of the generated
 * schema (schema.gen.ts), so the rest of the app never names a schema directly.
 */

import type { components } from "./schema.gen";

type Schemas = components["schemas"];

export type User = Schemas["UserRead"];

export interface Media {
  id: string;
  filename: string;
  content_type: string;
  size: number;
  width?: number | null;
  height?: number | null;
  url: string;
  thumbnail_url?: string | null;
}

export interface Message {
  id: string;
  conversation_id: string;
  seq: number;
  sender_id: string;
  body: string;
  client_id: string | null;
  reply_to_id: string | null;
  attachments: Media[];
  created_at: string;
  edited_at: string | null;
  deleted: boolean;
}

export type Role = "owner" | "admin" | "member";
export type ConversationKind = "direct" | "group";

export interface Conversation {
  id: string;
  kind: ConversationKind;
  title: string | null;
  created_at: string;
  last_seq: number;
  members_count: number;
  my_role: Role;
  unread_count: number;
  last_message: Message | null;
  last_activity_at?: string | null;
  last_read_seq?: number;
  /** direct conversations: the other person */
  other_user?: User | null;
}

export interface Member {
  user: User;
  role: Role;
  last_read_seq: number;
  last_delivered_seq: number;
}

export type EventType =
  | "message.new"
  | "message.edited"
  | "message.deleted"
  | "member.added"
  | "member.removed"
  | "member.role_changed"
  | "conversation.updated";

export interface ChatEvent {
  conversation_id: string;
  seq: number;
  type: EventType;
  created_at: string;
  actor_id: string | null;
  message?: Message | null;
  member?: EventMember | null;
  conversation?: EventConversation | null;
}

export interface EventMember {
  user_id: string;
  role?: Role | null;
  user?: User | null;
}

export interface EventConversation {
  id: string;
  title: string | null;
}

export type TokenPair = Schemas["TokenPair"];

export interface ApiErrorBody {
  detail: string | ValidationIssue[];
  code?: string;
}

export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}
