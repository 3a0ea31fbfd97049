/**
 * The person's notification settings (stored on the server, the same on every device:
 * GET/PATCH /users/me/settings, and `settings.updated` frames from their other tabs and
 * devices) and this browser's Web Push subscription (/push/subscriptions).
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError, unwrap } from "../../api/client";
import { keys } from "../conversations/keys";
import type { NotificationSettings } from "./notify";

export const settingsKey = keys.settings;

export function fetchSettings(): Promise<NotificationSettings> {
  return unwrap(api.GET("/api/v1/users/me/settings"));
}

export function useSettings(enabled = true) {
  return useQuery({ queryKey: settingsKey, queryFn: fetchSettings, enabled, staleTime: Infinity });
}

export function useUpdateSettings() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (patch: Partial<NotificationSettings>) =>
      unwrap(api.PATCH("/api/v1/users/me/settings", { body: patch })),
    // The switch moves at once; a refused change puts it back.
    onMutate: async (patch) => {
      await qc.cancelQueries({ queryKey: settingsKey });
      const before = qc.getQueryData<NotificationSettings>(settingsKey);
      if (before) qc.setQueryData(settingsKey, { ...before, ...patch });
      return { before };
    },
    onError: (_error, _patch, context) => {
      if (context?.before) qc.setQueryData(settingsKey, context.before);
    },
    onSuccess: (settings) => qc.setQueryData(settingsKey, settings),
  });
}

// --- Web Push ---------------------------------------------------------------------------

/** Why this browser gets no push (notifications still work while the app is open). */
export type PushUnavailable = "unsupported" | "server" | "browser";

export type PushOutcome = { ok: true } | { ok: false; reason: PushUnavailable };

function base64UrlToBytes(value: string): Uint8Array<ArrayBuffer> {
  const padded = value.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((value.length + 3) % 4);
  const raw = atob(padded);
  const bytes = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

async function pushManager(): Promise<PushManager | null> {
  if (!("serviceWorker" in navigator) || typeof PushManager === "undefined") return null;
  const registration = await navigator.serviceWorker.getRegistration();
  return registration?.pushManager ?? null;
}

/**
 * Subscribe this browser to Web Push and tell the server. Headless browsers and some
 * others have no push service: that is an answer (`browser`), not an error.
 */
export async function subscribePush(): Promise<PushOutcome> {
  const manager = await pushManager();
  if (!manager) return { ok: false, reason: "unsupported" };
  let key: string;
  try {
    key = (await unwrap(api.GET("/api/v1/push/vapid-public-key"))).public_key;
  } catch (error) {
    if (error instanceof ApiError && error.code === "push_disabled") return { ok: false, reason: "server" };
    throw error;
  }
  let subscription: PushSubscription;
  try {
    subscription =
      (await manager.getSubscription()) ??
      (await manager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(key) }));
  } catch {
    return { ok: false, reason: "browser" };
  }
  const json = subscription.toJSON();
  const p256dh = json.keys?.p256dh;
  const auth = json.keys?.auth;
  if (!p256dh || !auth) return { ok: false, reason: "browser" };
  await unwrap(
    api.POST("/api/v1/push/subscriptions", {
      body: { endpoint: subscription.endpoint, expirationTime: json.expirationTime ?? null, keys: { p256dh, auth } },
    }),
  );
  return { ok: true };
}

/** Stop Web Push for this browser: unsubscribe, and the server forgets the endpoint. */
export async function unsubscribePush(): Promise<void> {
  const manager = await pushManager().catch(() => null);
  const subscription = await manager?.getSubscription().catch(() => null);
  if (!subscription) return;
  const endpoint = subscription.endpoint;
  await subscription.unsubscribe().catch(() => false);
  await unwrap(api.DELETE("/api/v1/push/subscriptions", { body: { endpoint } })).catch(() => undefined);
}
