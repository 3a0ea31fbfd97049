import { useEffect, useState, useSyncExternalStore } from "react";
import { onOfflineCopyChange, showingOfflineCopy } from "../features/pwa/offline";
import { Alert, Button } from "react-bootstrap";
import { useRealtime } from "../realtime/RealtimeProvider";
import type { ConnectionState } from "../realtime/socket";

/** How long a (re)connect may take before the banner says so: a normal one takes a moment. */
export const BANNER_DELAY_MS = 1000;

const DOWN: readonly ConnectionState[] = ["connecting", "authenticating", "reconnecting"];

/** Shown while the socket is not usable; messages written meanwhile wait in the outbox. */
export function ConnectionBanner() {
  const { state, lastError, retryNow } = useRealtime();
  // The attempts of one outage flip between connecting and reconnecting; the delay runs
  // from the first of them, not from each.
  const down = DOWN.includes(state);
  const [late, setLate] = useState(false);
  const [everReady, setEverReady] = useState(false);
  useEffect(() => {
    if (state === "ready") setEverReady(true);
  }, [state]);
  useEffect(() => {
    setLate(false);
    if (!down) return;
    const t = setTimeout(() => setLate(true), BANNER_DELAY_MS);
    return () => clearTimeout(t);
  }, [down]);

  // Opened without a network: the chats on screen are the copy saved on this device.
  const savedCopy = useSyncExternalStore(onOfflineCopyChange, showingOfflineCopy, () => false);

  let text: string | null = null;
  let variant = "warning";
  if ((state === "offline" || down) && savedCopy && !everReady) {
    text = "You are offline. Showing your chats as they were when you were last online.";
    variant = "danger";
  } else if (state === "offline") {
    text = "You are offline. Messages you write will be sent when the connection is back.";
    variant = "danger";
  } else if (down && late) {
    text = everReady ? "Connection lost. Reconnecting…" : "Connecting…";
    variant = everReady ? "warning" : "info";
  }
  return (
    <>
      {text ? (
        <Alert
          variant={variant}
          className="mb-0 rounded-0 py-1 px-3 small d-flex flex-wrap align-items-center justify-content-center gap-2"
          role="status"
          data-testid="connection-banner"
        >
          <span>{text}</span>
          <Button variant="link" size="sm" className="connection-retry p-0 align-baseline" onClick={retryNow}>
            Retry now
          </Button>
        </Alert>
      ) : null}
      {lastError ? <ErrorNotice key={lastError} text={lastError} /> : null}
    </>
  );
}

function ErrorNotice({ text }: { text: string }) {
  const [open, setOpen] = useState(true);
  if (!open) return null;
  return (
    <Alert variant="danger" className="mb-0 rounded-0 py-1 px-3 small" dismissible onClose={() => setOpen(false)}>
      {text}
    </Alert>
  );
}
