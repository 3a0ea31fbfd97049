import { useId, useState } from "react";
import { Alert, Form, Spinner } from "react-bootstrap";
import { subscribePush, unsubscribePush, useSettings, useUpdateSettings, type PushUnavailable } from "./api";
import { notificationPermission } from "./show";

const PUSH_NOTES: Record<PushUnavailable, string> = {
  unsupported: "Push isn't available in this browser: you are notified while chatapi is open.",
  browser: "Push isn't available in this browser: you are notified while chatapi is open.",
  server: "This server doesn't send push notifications: you are notified while chatapi is open.",
};

/**
 * The notification switches. Turning notifications on asks this browser for permission
 * (only here, never on page load) and subscribes it to Web Push; turning them off
 * unsubscribes it. The choices are stored on the server, so every device follows them.
 */
export function NotificationSettings({ enabled }: { enabled: boolean }) {
  const ids = useId();
  const settings = useSettings(enabled);
  const update = useUpdateSettings();
  const [permission, setPermission] = useState(notificationPermission);
  const [pushNote, setPushNote] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function allowHere(): Promise<boolean> {
    if (permission === "unsupported") return false;
    const answer = permission === "granted" ? "granted" : await Notification.requestPermission();
    setPermission(answer);
    if (answer !== "granted") return false;
    const push = await subscribePush().catch(() => ({ ok: false as const, reason: "browser" as const }));
    setPushNote(push.ok ? null : PUSH_NOTES[push.reason]);
    return true;
  }

  async function toggle(on: boolean) {
    setBusy(true);
    try {
      if (on) {
        if ((await allowHere()) && !settings.data?.notifications) await update.mutateAsync({ notifications: true });
      } else {
        await update.mutateAsync({ notifications: false });
        setPushNote(null);
        await unsubscribePush();
      }
    } catch {
      // The mutation's error is shown below.
    } finally {
      setBusy(false);
    }
  }

  if (settings.isPending) return <Spinner animation="border" size="sm" role="status" aria-label="Loading settings" />;
  if (settings.error) return <Alert variant="danger">{settings.error.message}</Alert>;
  const s = settings.data;
  // On for this device: the person wants notifications (a choice every device follows)
  // and this browser may show them.
  const on = s.notifications && permission === "granted";
  return (
    <section aria-labelledby={`${ids}-title`} className="d-flex flex-column gap-2" data-testid="notification-settings">
      <h3 id={`${ids}-title`} className="h6 mb-1">
        Notifications
      </h3>
      <Form.Check
        type="switch"
        role="switch"
        id={`${ids}-on`}
        label="Desktop notifications for new messages"
        checked={on}
        disabled={busy || permission === "unsupported"}
        onChange={(e) => void toggle(e.currentTarget.checked)}
      />
      {permission === "unsupported" ? (
        <p className="small text-body-secondary mb-0">This browser cannot show notifications.</p>
      ) : permission === "denied" ? (
        <p className="small text-danger-emphasis mb-0" data-testid="permission-note">
          Notifications are blocked for this site: allow them in the browser's site settings.
        </p>
      ) : null}
      {pushNote ? (
        <p className="small text-body-secondary mb-0" data-testid="push-note">
          {pushNote}
        </p>
      ) : null}
      <div className="ms-4 d-flex flex-column gap-1">
        <Form.Check
          type="switch"
          role="switch"
          id={`${ids}-previews`}
          label="Show message text"
          checked={s.notification_previews}
          disabled={!on}
          onChange={(e) => update.mutate({ notification_previews: e.currentTarget.checked })}
        />
        <Form.Check
          type="switch"
          role="switch"
          id={`${ids}-sound`}
          label="Play a sound"
          checked={s.notification_sound}
          disabled={!on}
          onChange={(e) => update.mutate({ notification_sound: e.currentTarget.checked })}
        />
      </div>
      <p className="small text-body-secondary mb-0">
        Muted chats stay quiet unless someone mentions you. These choices follow you to every device.
      </p>
      {update.error ? (
        <Alert variant="danger" className="py-1 small mb-0">
          {update.error.message}
        </Alert>
      ) : null}
    </section>
  );
}
