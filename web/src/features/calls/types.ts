/**
 * The call signalling frames and states of docs/protocol.md ("Voice and video calls"),
 * as the web client uses them. The server's generated types (realtime/protocol.gen.ts,
 * api/schema.gen.ts) are the source; these names keep the rest of the feature off them.
 */
export interface CallParticipant {
  user_id: string;
  connection_id: string;
  joined_at: string;
  /** false while their socket is gone (they may come back). */
  connected?: boolean;
  audio: boolean;
  video: boolean;
  screen: boolean;
}

export interface CallState {
  id: string;
  conversation_id: string;
  started_by: string;
  video: boolean;
  state: "ringing" | "active";
  created_at: string;
  answered_at: string | null;
  ring_until?: string;
  participants: CallParticipant[];
  ringing_user_ids: string[];
}

export type CallOutcome = "completed" | "missed" | "declined" | "busy";

/** What a `call.ended` timeline event records. */
export interface EndedCall {
  call_id: string;
  video: boolean;
  outcome: CallOutcome;
  duration_seconds: number | null;
  started_by: string;
  participant_ids: string[];
}

export interface MediaState {
  audio: boolean;
  video: boolean;
  screen: boolean;
}

export type SignalData =
  | { kind: "offer" | "answer"; sdp: string }
  | {
      kind: "candidate";
      candidate: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null } | null;
    };

export type CallServerFrame =
  | { type: "call.invite"; call: CallState }
  | { type: "call.ringing"; call: CallState }
  | { type: "call.accept"; call_id: string; user_id: string; connection_id: string; call: CallState }
  | { type: "call.decline"; call_id: string; user_id: string; call: CallState }
  | { type: "call.hangup"; call_id: string; user_id: string; call: CallState }
  | { type: "call.busy"; call_id: string; user_id: string }
  | { type: "call.signal"; call_id: string; from_user_id: string; from_connection_id: string; data: SignalData }
  | ({ type: "call.media"; call_id: string; user_id: string } & MediaState);

export type CallClientFrame =
  | { type: "call.invite"; conversation_id: string; video: boolean }
  | { type: "call.accept"; call_id: string; video: boolean }
  | { type: "call.decline"; call_id: string }
  | { type: "call.hangup"; call_id: string }
  | { type: "call.signal"; call_id: string; to_user_id: string; data: SignalData }
  | ({ type: "call.media"; call_id: string } & MediaState);

export const CALL_FRAME_TYPES: ReadonlySet<string> = new Set([
  "call.invite",
  "call.ringing",
  "call.accept",
  "call.decline",
  "call.hangup",
  "call.busy",
  "call.signal",
  "call.media",
]);

export function isCallFrame(frame: { type: string }): frame is CallServerFrame {
  return CALL_FRAME_TYPES.has(frame.type);
}

/** Groups of up to this many members may call (the server refuses more: `call_too_large`). */
export const MAX_CALL_MEMBERS = 6;
