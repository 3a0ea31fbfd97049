/**
 * What this tab knows of calls, as a pure reducer (no WebRTC, no I/O).
 *
 * Per call the tab goes idle → outgoing (ringing the others) → connecting (answered, media
 * not flowing yet) → in-call → ended; a call ringing me is `incoming` until I answer or
 * decline here, another of my devices answers, the caller hangs up or it times out. The
 * tab takes part in at most one call (`mine`), from its own socket (`connectionId`, the
 * `ready` frame's session id): a call accepted on another device stops ringing here and is
 * not mine.
 */
import type { CallServerFrame, CallState, EndedCall, MediaState } from "./types";

export type Phase = "outgoing" | "connecting" | "in-call";

export interface Notice {
  kind: "busy" | "declined" | "error" | "ended";
  text: string;
}

export interface CallsState {
  meId: string;
  /** This tab's socket, once ready. */
  connectionId: string | null;
  /** Every call the tab heard of that has not ended, by id. */
  calls: Record<string, CallState>;
  /** The call this tab is in (or starting), and how far it got. */
  mine: { callId: string | null; conversationId: string; video: boolean; phase: Phase } | null;
  /** Calls ringing me that I dismissed here without answering (another device may still take them). */
  dismissed: string[];
  /** Peers whose media is flowing. */
  connectedPeers: string[];
  notice: Notice | null;
}

export type CallsAction =
  | { type: "ready"; connectionId: string }
  | { type: "snapshot"; calls: CallState[] }
  | { type: "frame"; frame: CallServerFrame; nameOf: (userId: string) => string }
  | { type: "ended"; conversationId: string; call: EndedCall }
  | { type: "start"; conversationId: string; video: boolean }
  | { type: "accept"; callId: string; video: boolean }
  | { type: "decline"; callId: string }
  | { type: "leave" }
  | { type: "peer"; userId: string; connected: boolean }
  | { type: "media"; callId: string; userId: string; media: MediaState }
  | { type: "error"; code: string; detail: string }
  | { type: "notice"; notice: Notice }
  | { type: "dismiss-notice" };

export function initialCalls(meId: string): CallsState {
  return { meId, connectionId: null, calls: {}, mine: null, dismissed: [], connectedPeers: [], notice: null };
}

/** Error codes of the socket's `error` frame about calls (docs/protocol.md), in words. */
const CALL_ERRORS: Record<string, string> = {
  call_busy: "You are already in a call.",
  call_too_large: "Calls are for direct chats and groups of up to 6 people.",
  call_empty: "There is nobody else here to call.",
  call_not_found: "That call has ended.",
  call_answered_elsewhere: "You are in this call on another device.",
  call_not_participant: "You are not in that call.",
};

/** Of those, the ones that mean a call being started or joined here did not happen. */
const REFUSED = new Set(["call_busy", "call_too_large", "call_empty", "call_not_found", "call_answered_elsewhere"]);

export function callsReducer(state: CallsState, action: CallsAction): CallsState {
  switch (action.type) {
    case "ready":
      return { ...state, connectionId: action.connectionId };
    case "snapshot": {
      const calls: Record<string, CallState> = {};
      for (const call of action.calls) calls[call.id] = call;
      return { ...state, calls };
    }
    case "frame":
      return onFrame(state, action.frame, action.nameOf);
    case "ended": {
      const { [action.call.call_id]: _gone, ...calls } = state.calls;
      const mine = state.mine?.callId === action.call.call_id ? null : state.mine;
      return {
        ...state,
        calls,
        mine,
        connectedPeers: mine ? state.connectedPeers : [],
        dismissed: state.dismissed.filter((id) => id !== action.call.call_id),
      };
    }
    case "start":
      if (state.mine) return state;
      return {
        ...state,
        mine: { callId: null, conversationId: action.conversationId, video: action.video, phase: "outgoing" },
        connectedPeers: [],
        notice: null,
      };
    case "accept": {
      const call = state.calls[action.callId];
      if (!call) return state;
      return {
        ...state,
        mine: { callId: call.id, conversationId: call.conversation_id, video: action.video, phase: "connecting" },
        connectedPeers: [],
        notice: null,
      };
    }
    case "decline":
      return { ...state, dismissed: [...new Set([...state.dismissed, action.callId])] };
    case "leave":
      return { ...state, mine: null, connectedPeers: [] };
    case "peer": {
      const others = state.connectedPeers.filter((id) => id !== action.userId);
      const connectedPeers = action.connected ? [...others, action.userId] : others;
      const mine =
        state.mine && state.mine.phase !== "outgoing"
          ? { ...state.mine, phase: connectedPeers.length ? ("in-call" as const) : ("connecting" as const) }
          : state.mine;
      return { ...state, connectedPeers, mine };
    }
    case "media": {
      const call = state.calls[action.callId];
      if (!call) return state;
      return { ...state, calls: { ...state.calls, [call.id]: withMedia(call, action.userId, action.media) } };
    }
    case "error": {
      const text = CALL_ERRORS[action.code];
      if (!text) return state;
      // A call that never got going here (refused, or gone) is over for this tab.
      const refused = REFUSED.has(action.code) && state.mine !== null && state.mine.phase !== "in-call";
      return { ...state, mine: refused ? null : state.mine, notice: { kind: "error", text } };
    }
    case "notice":
      return { ...state, notice: action.notice };
    case "dismiss-notice":
      return { ...state, notice: null };
  }
}

function onFrame(state: CallsState, frame: CallServerFrame, nameOf: (userId: string) => string): CallsState {
  switch (frame.type) {
    case "call.invite":
      return { ...state, calls: { ...state.calls, [frame.call.id]: frame.call } };
    case "call.ringing": {
      const calls = { ...state.calls, [frame.call.id]: frame.call };
      const here = frame.call.participants.some(
        (p) => p.user_id === state.meId && p.connection_id === state.connectionId,
      );
      const mine =
        here && state.mine && (state.mine.callId === null || state.mine.callId === frame.call.id)
          ? { ...state.mine, callId: frame.call.id, phase: state.mine.phase }
          : state.mine;
      return { ...state, calls, mine };
    }
    case "call.accept": {
      const calls = { ...state.calls, [frame.call.id]: frame.call };
      let mine = state.mine;
      const here = frame.user_id === state.meId && frame.connection_id === state.connectionId;
      // My call.invite where a call was already running joined that call.
      if (here && mine && mine.callId === null && mine.conversationId === frame.call.conversation_id)
        mine = { ...mine, callId: frame.call.id, phase: "connecting" };
      if (mine?.callId === frame.call.id && mine.phase === "outgoing") mine = { ...mine, phase: "connecting" };
      // Answered from another device (or another tab) of mine: that one takes the call.
      if (frame.user_id === state.meId && frame.connection_id !== state.connectionId && mine?.callId === frame.call.id)
        mine = null;
      return { ...state, calls, mine };
    }
    case "call.decline": {
      const calls = { ...state.calls, [frame.call.id]: frame.call };
      const mine = state.mine?.callId === frame.call.id;
      const notice =
        mine && frame.user_id !== state.meId
          ? { kind: "declined" as const, text: `${nameOf(frame.user_id)} declined` }
          : state.notice;
      return { ...state, calls, notice };
    }
    case "call.hangup": {
      const calls = { ...state.calls, [frame.call.id]: frame.call };
      const connectedPeers = state.connectedPeers.filter((id) => id !== frame.user_id);
      // My own hangup from this socket, heard back; or the server took me out.
      const gone = frame.user_id === state.meId && state.mine?.callId === frame.call.id;
      return {
        ...state,
        calls,
        connectedPeers: gone ? [] : connectedPeers,
        mine: gone ? null : state.mine,
      };
    }
    case "call.busy":
      return { ...state, notice: { kind: "busy", text: `${nameOf(frame.user_id)} is busy` } };
    case "call.media": {
      const call = state.calls[frame.call_id];
      if (!call) return state;
      const media = { audio: frame.audio, video: frame.video, screen: frame.screen };
      return { ...state, calls: { ...state.calls, [call.id]: withMedia(call, frame.user_id, media) } };
    }
    case "call.signal":
      return state;
  }
}

function withMedia(call: CallState, userId: string, media: MediaState): CallState {
  return { ...call, participants: call.participants.map((p) => (p.user_id === userId ? { ...p, ...media } : p)) };
}

// --- what the UI asks of the state ----------------------------------------------------------

/** The call ringing me here, if any: the oldest I neither answered nor dismissed, and not mine. */
export function incomingCall(state: CallsState): CallState | null {
  if (state.mine) return null;
  const ringing = Object.values(state.calls).filter(
    (c) => c.ringing_user_ids.includes(state.meId) && !state.dismissed.includes(c.id),
  );
  ringing.sort((a, b) => a.created_at.localeCompare(b.created_at));
  return ringing[0] ?? null;
}

/** The call this tab is in, as the server last described it. */
export function myCall(state: CallsState): CallState | null {
  const id = state.mine?.callId;
  return id ? (state.calls[id] ?? null) : null;
}

/** A running call in a conversation that I could join (a group call, or mine after a reload). */
export function joinableCall(state: CallsState, conversationId: string): CallState | null {
  if (state.mine) return null;
  const call = Object.values(state.calls).find((c) => c.conversation_id === conversationId);
  if (!call || call.state !== "active") return null;
  const here = call.participants.some((p) => p.user_id === state.meId && p.connection_id === state.connectionId);
  return here ? null : call;
}

/** The others in my call: whom this tab connects to (a full mesh). */
export function remoteParticipants(state: CallsState): string[] {
  const call = myCall(state);
  if (!call) return [];
  return call.participants.filter((p) => p.user_id !== state.meId).map((p) => p.user_id);
}

/** A call I am still in from a socket that is gone (this tab before a reload): it can be taken up here. */
export function rejoinableCall(state: CallsState): CallState | null {
  if (state.mine) return null;
  return (
    Object.values(state.calls).find((c) =>
      c.participants.some(
        (p) => p.user_id === state.meId && p.connection_id !== state.connectionId && p.connected === false,
      ),
    ) ?? null
  );
}
