import { Alert } from "react-bootstrap";
import { useRealtime } from "../realtime/RealtimeProvider";

/** Shown while the socket is not usable; messages written meanwhile wait in the outbox. */
export function ConnectionBanner() {
  const { state } = useRealtime();
  let text: string | null = null;
  let variant = "warning";
  switch (state) {
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
  if (!text) return null;
  return (
    <Alert variant={variant} className="mb-0 rounded-0 py-1 px-3 small text-center" role="status" data-testid="connection-banner">
      {text}
    </Alert>
  );
}
