/** Starts the tab's socket while signed in and feeds its frames into the query cache. */
import { useQueryClient } from "@tanstack/react-query";
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import { onTokenChange } from "../api/session";
import type { Conversation, Member } from "../api/types";
import { useAuth } from "../features/auth/AuthProvider";
import { useConversations } from "../features/conversations/api";
import { keys } from "../features/conversations/keys";
import { markDelivered } from "../features/messages/api";
import { persistOutbox } from "../features/messages/outbox";
import { getSocket, onSocketAuthLost } from "./connection";
import { handleFrame } from "./handlers";
import type { ClientFrame } from "./protocol";
import type { ConnectionState } from "./socket";
import { clearTyping } from "./typingStore";

export interface RealtimeValue {
  state: ConnectionState;
  send: (frame: ClientFrame) => boolean;
  setActiveConversation: (id: string | null) => void;
  lastError: string | null;
}

/** Exported for tests, which provide a fake; the app uses RealtimeProvider. */
export const RealtimeContext = createContext<RealtimeValue | null>(null);

function subscribeState(listener: () => void): () => void {
  return getSocket().onStateChange(listener);
}

export function RealtimeProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const { status, me, logout } = useAuth();
  const state = useSyncExternalStore(
    subscribeState,
    () => getSocket().state,
    () => "idle" as const,
  );
  const active = useRef<string | null>(null);
  const [announcement, setAnnouncement] = useState("");
  const [lastError, setLastError] = useState<string | null>(null);
  const meId = me?.id;

  const logoutRef = useRef(logout);
  logoutRef.current = logout;

  useEffect(() => {
    if (status !== "signed-in") return;
    const socket = getSocket();
    onSocketAuthLost(() => void logoutRef.current());
    const offToken = onTokenChange((token) => token && socket.reauthenticate(token));
    socket.start();
    return () => {
      offToken();
      onSocketAuthLost(null);
      socket.stop();
      clearTyping();
    };
  }, [status]);

  useEffect(() => {
    if (status !== "signed-in") return;
    const visible = () => (document.visibilityState === "visible" ? active.current : null);
    return getSocket().subscribe((frame, source) =>
      handleFrame(
        qc,
        frame,
        {
          meId,
          activeConversation: visible,
          announce: setAnnouncement,
          displayName: (conversationId, userId) =>
            qc.getQueryData<Member[]>(keys.members(conversationId))?.find((m) => m.user.id === userId)?.user
              .display_name,
          onSocketError: (_code, detail) => setLastError(detail),
        },
        source,
      ),
    );
  }, [status, qc, meId]);

  useEffect(() => {
    if (status !== "signed-in" || !meId) return;
    return persistOutbox(qc, meId);
  }, [status, qc, meId]);

  // Seed the socket's per-conversation watermarks from the list, and confirm delivery:
  // what the list shows has reached this device, up to each conversation's newest seq.
  const conversations = useConversations(status === "signed-in");
  useEffect(() => {
    if (!conversations.data) return;
    const socket = getSocket();
    // A former member gets nothing more from a conversation: nothing to follow there.
    for (const c of conversations.data) {
      if (c.former) socket.forget(c.id);
      else socket.track(c.id, c.last_seq);
    }
    if (state === "ready") deliverAll(conversations.data);
  }, [conversations.data, state]);

  const setActiveConversation = useCallback((id: string | null) => {
    active.current = id;
  }, []);
  const send = useCallback((frame: ClientFrame) => getSocket().send(frame), []);

  const value = useMemo(
    () => ({ state, send, setActiveConversation, lastError }),
    [state, send, setActiveConversation, lastError],
  );
  return (
    <RealtimeContext.Provider value={value}>
      {children}
      <div className="visually-hidden" aria-live="polite" aria-atomic="true" data-testid="live-announcer">
        {announcement}
      </div>
    </RealtimeContext.Provider>
  );
}

function deliverAll(list: Conversation[]): void {
  // Read implies delivered: nothing to say where everything is read.
  for (const c of list) {
    if (!c.former && c.last_seq > c.last_read_seq) markDelivered(c.id, c.last_seq);
  }
}

export function useRealtime(): RealtimeValue {
  const value = useContext(RealtimeContext);
  if (!value) throw new Error("useRealtime outside RealtimeProvider");
  return value;
}
