import { useEffect, useState } from "react";
import { Alert } from "react-bootstrap";
import { useRealtime } from "../realtime/RealtimeProvider";
import type { ConnectionState } from "../realtime/socket";

/** Shown while the socket is not usable; messages written meanwhile wait in the outbox. */
export function ConnectionBanner() {
  const { state, lastError } = useRealtime();
  // A normal (re)connect takes a moment: only say so when it takes longer than that.
  const [shown, setShown] = useState<ConnectionState>(state);
  useEffect(() => {
    if (state === "offline" || state === "ready" || state === "idle" || state === "closed") {
      setShown(state);
      return;
    }
    const t = setTimeout(() => setShown(state), 1000);
    return () => clearTimeout(t);
  }, [state]);

  let text: string | null = null;
  let variant = "warning";
  switch (shown) {
    case "offline":
      text = "You are offline. Messages you write will be sent when the connection is back.";
      variant = "danger";
      break;
    case "reconnecting":
      text = "Connection lost. Reconnecting…";
      break;
    case "connecting":
    case "authenticating":
      text = "Connecting…";
      variant = "info";
      break;
    case "idle":
    case "ready":
    case "closed":
      text = null;
      break;
  }
  return (
    <>
      {text ? (
        <Alert
          variant={variant}
          className="mb-0 rounded-0 py-1 px-3 small text-center"
          role="status"
          data-testid="connection-banner"
        >
          {text}
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
