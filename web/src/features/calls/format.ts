/** The words and shapes of calls: durations, the timeline line, the timer, the video layout. */
import type { EndedCall } from "./types";

/** A call's length for the timeline: "45 s", "12 min", "1 h 5 min", "2 h". */
export function formatCallDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${hours} h ${rest} min` : `${hours} h`;
}

/** The running timer in a call: "0:07", "12:03", "1:05:09". */
export function formatTimer(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

/**
 * The timeline's line for an ended call, as the reader sees it: "Video call · 12 min",
 * "Missed voice call" (rung, not answered), "Voice call · no answer" (my call nobody took),
 * "Declined video call", "Voice call · busy".
 */
export function callLineText(call: EndedCall, meId: string): string {
  const kind = call.video ? "video call" : "voice call";
  const Kind = call.video ? "Video call" : "Voice call";
  const mine = call.started_by === meId;
  switch (call.outcome) {
    case "completed":
      return call.duration_seconds === null ? Kind : `${Kind} · ${formatCallDuration(call.duration_seconds)}`;
    case "missed":
      return mine ? `${Kind} · no answer` : `Missed ${kind}`;
    case "declined":
      return `Declined ${kind}`;
    case "busy":
      return mine ? `${Kind} · busy` : `Missed ${kind} (you were busy)`;
  }
}

/** How the videos are laid out: one large and one small for two people, else a grid. */
export type CallLayout =
  { kind: "solo" } | { kind: "pair"; large: string } | { kind: "grid"; tiles: string[]; columns: number };

/** `remote` are the other participants' ids; my own video is the small one in a pair, a tile in a grid. */
export function callLayout(remote: readonly string[], meId: string): CallLayout {
  if (remote.length === 0) return { kind: "solo" };
  if (remote.length === 1) return { kind: "pair", large: remote[0] as string };
  const tiles = [...remote, meId];
  const columns = tiles.length <= 4 ? 2 : 3;
  return { kind: "grid", tiles, columns };
}
