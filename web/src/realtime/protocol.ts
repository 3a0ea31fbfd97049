/**
 * The WebSocket frames of /api/v1/ws, as discriminated unions on `type`. The types and the
 * lists of `type` values are generated from the server's /asyncapi.json into
 * protocol.gen.ts (`make gen-protocol`); this module only adds the runtime checks.
 */
import type { ChatEvent } from "../api/types";
import {
  SERVER_FRAME_TYPES,
  TIMELINE_EVENT_TYPES,
  type EventRead,
  type ServerFrame,
  type Typing,
} from "./protocol.gen";

export type { ClientFrame, ServerFrame, TimelineEventType } from "./protocol.gen";
export type TypingState = Typing["state"];

// The socket's timeline events and the REST events (ChatEvent, from /openapi.json) are the
// same server model (EventRead), generated twice: the type check fails if the two ever
// differ, even by an optional field (an identity check, stricter than assignability).
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
true satisfies Same<EventRead, ChatEvent>;

const serverTypes: ReadonlySet<string> = new Set(SERVER_FRAME_TYPES);
const timelineTypes: ReadonlySet<string> = new Set(TIMELINE_EVENT_TYPES);

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
  if (typeof type !== "string" || !serverTypes.has(type)) return null;
  return value as ServerFrame;
}

export function isEventFrame(frame: ServerFrame): frame is ChatEvent {
  return timelineTypes.has(frame.type);
}
