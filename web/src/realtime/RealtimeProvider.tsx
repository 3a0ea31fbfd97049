/** Starts the tab's socket while signed in and feeds its frames into the query cache. */
import { useQueryClient } from "@tanstack/react-query";
import {
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
import { persistChanges } from "../features/messages/changes";
import { persistOutbox } from "../features/messages/outbox";
import { notifyOfMessage } from "../features/notifications/inApp";
import { persistForOffline } from "../features/pwa/offline";
import { getSocket, onSocketAuthLost } from "./connection";
import { handleFrame } from "./handlers";
import type { ClientFrame } from "./protocol";
import { RealtimeContext, type RealtimeValue } from "./context";
import { clearTyping } from "./typingStore";
import { trackTimelines } from "./watermarks";

export { RealtimeContext, type RealtimeValue };

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
          notify: (message, onScreen) => notifyOfMessage(qc, message, meId, onScreen),
        },
        source,
      ),
    );
  }, [status, qc, meId]);

  useEffect(() => {
    if (status !== "signed-in" || !meId) return;
    const stopOutbox = persistOutbox(qc, meId);
    const stopChanges = persistChanges(meId);
    return () => {
      stopOutbox();
      stopChanges();
    };
  }, [status, qc, meId]);

  // The last list seen, for a start without network (IndexedDB).
  useEffect(() => {
    if (status !== "signed-in" || !me) return;
    return persistForOffline(qc, me);
  }, [status, qc, me]);

  // The socket catches up what the timelines have applied, never what the list counts
  // (a watermark raised to the list's last_seq skipped messages not yet applied).
  useEffect(() => {
    if (status !== "signed-in") return;
    return trackTimelines(qc, getSocket());
  }, [status, qc]);

  // Confirm delivery: what the list shows has reached this device, up to each
  // conversation's newest seq. A former member gets nothing more from a conversation:
  // nothing to follow there.
  const conversations = useConversations(status === "signed-in");
  useEffect(() => {
    if (!conversations.data) return;
    const socket = getSocket();
    for (const c of conversations.data) if (c.former) socket.forget(c.id);
    if (state === "ready") deliverAll(conversations.data);
  }, [conversations.data, state]);

  const setActiveConversation = useCallback((id: string | null) => {
    active.current = id;
  }, []);
  const send = useCallback((frame: ClientFrame) => getSocket().send(frame), []);
  const retryNow = useCallback(() => getSocket().retryNow(), []);

  const value = useMemo(
    () => ({ state, send, retryNow, setActiveConversation, lastError }),
    [state, send, retryNow, setActiveConversation, lastError],
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
