/**
 * The call frames and states of docs/protocol.md ("Calls"), named for this feature: aliases
 * of the types generated from the server (realtime/protocol.gen.ts).
 */
import type { ChatEvent } from "../../api/types";
import type {
  CallAccept,
  CallAcceptFrame,
  CallBusyFrame,
  CallDecline,
  CallDeclineFrame,
  CallHangup,
  CallHangupFrame,
  CallInvite,
  CallInviteFrame,
  CallMedia,
  CallMediaFrame,
  CallRingingFrame,
  CallSignal,
  CallSignalFrame,
  components,
} from "../../realtime/protocol.gen";

export type CallState = components["schemas"]["CallState"];
export type CallParticipant = components["schemas"]["CallParticipantRead"];
/** What a `call.ended` timeline event records. */
export type EndedCall = NonNullable<ChatEvent["call"]>;
export type CallOutcome = EndedCall["outcome"];
export type SignalData = CallSignal["data"];

export interface MediaState {
  audio: boolean;
  video: boolean;
  screen: boolean;
}

export type CallServerFrame =
  | CallInviteFrame
  | CallRingingFrame
  | CallAcceptFrame
  | CallDeclineFrame
  | CallHangupFrame
  | CallBusyFrame
  | CallSignalFrame
  | CallMediaFrame;

export type CallClientFrame = CallInvite | CallAccept | CallDecline | CallHangup | CallSignal | CallMedia;

export const CALL_FRAME_TYPES: ReadonlySet<string> = new Set<CallServerFrame["type"]>([
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
