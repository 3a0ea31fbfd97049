import { useSyncExternalStore } from "react";
import { Button, Toast, ToastContainer } from "react-bootstrap";
import { getUpdateWatcher, type UpdateState } from "./updates";

function subscribe(listener: () => void): () => void {
  return getUpdateWatcher()?.subscribe(listener) ?? (() => undefined);
}

function current(): UpdateState {
  return getUpdateWatcher()?.state ?? "none";
}

/** "New version available — reload": shown when a new build's service worker is waiting. */
export function UpdatePrompt() {
  const state = useSyncExternalStore(subscribe, current, () => "none" as const);
  const watcher = getUpdateWatcher();
  return (
    <ToastContainer position="bottom-center" className="p-3 position-fixed" style={{ zIndex: 1090 }}>
      <Toast
        show={state !== "none"}
        onClose={() => watcher?.dismiss()}
        role="status"
        aria-live="polite"
        data-testid="update-prompt"
      >
        <Toast.Body className="d-flex align-items-center gap-3">
          <span className="flex-grow-1">New version available</span>
          <Button size="sm" variant="primary" onClick={() => watcher?.applyUpdate()} disabled={state === "applying"}>
            {state === "applying" ? "Reloading…" : "Reload"}
          </Button>
          <Button size="sm" variant="link" className="text-body-secondary p-0" onClick={() => watcher?.dismiss()}>
            Later
          </Button>
        </Toast.Body>
      </Toast>
    </ToastContainer>
  );
}
