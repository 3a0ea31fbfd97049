/** What the realtime provider offers components, without importing the provider itself. */
import { createContext, useContext } from "react";
import type { ClientFrame } from "./protocol";
import type { ConnectionState } from "./socket";

export interface RealtimeValue {
  state: ConnectionState;
  send: (frame: ClientFrame) => boolean;
  /** Connect now rather than after the backoff ("Retry now"). */
  retryNow: () => void;
  setActiveConversation: (id: string | null) => void;
  lastError: string | null;
}

/** Exported for tests, which provide a fake; the app uses RealtimeProvider. */
export const RealtimeContext = createContext<RealtimeValue | null>(null);

/**
 * Whether presence (online, last seen) is current: only while the socket is ready.
 * Disconnected, the client hears no presence frames, so whoever was online may not be.
 */
export function usePresenceKnown(): boolean {
  const value = useContext(RealtimeContext);
  return value ? value.state === "ready" : true;
}
