/**
 * Interim, hand-written: the endpoints of shared/API-CONTRACT.md that the server's
 * /openapi.json does not publish yet, in openapi-typescript's shape. client.ts merges
 * them under the generated `paths`, and any path the server publishes wins, so each
 * entry here is dead weight once generated — delete it then.
 */
import type { ChatEvent, Conversation, Media, Member, Message, Role } from "./types";

interface Json<T> {
  headers: { [name: string]: unknown };
  content: { "application/json": T };
}
interface NoContent {
  headers: { [name: string]: unknown };
  content?: never;
}
interface ErrorResponse {
  headers: { [name: string]: unknown };
  content: { "application/json": { detail: unknown; code?: string } };
}
type Body<T> = { content: { "application/json": T } };
interface Params<P = never, Q = never> {
  query?: [Q] extends [never] ? never : Q;
  header?: never;
  path: [P] extends [never] ? never : P;
  cookie?: never;
}
type Op<P, Q, B, R> = {
  parameters: [P] extends [never]
    ? { query?: [Q] extends [never] ? never : Q; header?: never; path?: never; cookie?: never }
    : Params<P, Q>;
  responses: R & { 400: ErrorResponse; 401: ErrorResponse; 403: ErrorResponse; 404: ErrorResponse; 422: ErrorResponse };
} & ([B] extends [never] ? { requestBody?: never } : { requestBody: Body<B> });
interface PathItem {
  parameters: { query?: never; header?: never; path?: never; cookie?: never };
}

type ConvId = { conversation_id: string };

export interface contractPaths {
  "/api/v1/conversations": PathItem & {
    get: Op<never, never, never, { 200: Json<Conversation[]> }>;
    post: Op<
      never,
      never,
      { kind: "direct" | "group"; title?: string | null; member_ids: string[] },
      { 200: Json<Conversation>; 201: Json<Conversation> }
    >;
  };
  "/api/v1/conversations/{conversation_id}": PathItem & {
    get: Op<ConvId, never, never, { 200: Json<Conversation> }>;
    patch: Op<ConvId, never, { title: string }, { 200: Json<Conversation> }>;
  };
  "/api/v1/conversations/{conversation_id}/members": PathItem & {
    get: Op<ConvId, never, never, { 200: Json<Member[]> }>;
    post: Op<ConvId, never, { user_id: string; role?: Role }, { 201: Json<Member> }>;
  };
  "/api/v1/conversations/{conversation_id}/members/{user_id}": PathItem & {
    patch: Op<ConvId & { user_id: string }, never, { role: Role }, { 200: Json<Member> }>;
    delete: Op<ConvId & { user_id: string }, never, never, { 204: NoContent }>;
  };
  "/api/v1/conversations/{conversation_id}/messages": PathItem & {
    get: Op<ConvId, { before_seq?: number; limit?: number }, never, { 200: Json<Message[]> }>;
    post: Op<
      ConvId,
      never,
      { body: string; client_id?: string | null; attachment_ids?: string[]; reply_to_id?: string | null },
      { 200: Json<Message>; 201: Json<Message> }
    >;
  };
  "/api/v1/conversations/{conversation_id}/events": PathItem & {
    get: Op<ConvId, { after_seq?: number; limit?: number }, never, { 200: Json<ChatEvent[]> }>;
  };
  "/api/v1/conversations/{conversation_id}/read": PathItem & {
    post: Op<ConvId, never, { seq: number }, { 204: NoContent }>;
  };
  "/api/v1/messages/{message_id}": PathItem & {
    patch: Op<{ message_id: string }, never, { body: string }, { 200: Json<Message> }>;
    delete: Op<{ message_id: string }, never, never, { 204: NoContent }>;
  };
  "/api/v1/media/{media_id}": PathItem & {
    get: Op<{ media_id: string }, never, never, { 200: Json<Media> }>;
  };
}
