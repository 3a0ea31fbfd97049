/**
 * Showing a notification from the page: through the service worker's registration (so a
 * click reaches sw.ts's `notificationclick`, and an installed app, where `new
 * Notification()` is not allowed, works too), else the page's Notification API.
 */
import type { ChatNotification } from "./notify";

export function notificationPermission(): NotificationPermission | "unsupported" {
  return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
}

let sound: HTMLAudioElement | null = null;

function playSound(): void {
  try {
    sound ??= new Audio("/notify.wav");
    sound.currentTime = 0;
    void sound.play().catch(() => undefined); // autoplay rules may refuse: silence, not an error
  } catch {
    // No audio here.
  }
}

export async function showChatNotification(n: ChatNotification, withSound: boolean): Promise<void> {
  const options = {
    body: n.body,
    tag: n.tag,
    renotify: true,
    icon: "/icons/icon-192.png",
    badge: "/icons/maskable-192.png",
    data: { url: n.url, conversation_id: n.conversationId },
  } as NotificationOptions;
  const registration =
    "serviceWorker" in navigator ? await navigator.serviceWorker.getRegistration().catch(() => undefined) : undefined;
  if (registration?.active) {
    await registration.showNotification(n.title, options);
  } else {
    // No worker (development server): the page shows it and handles the click itself.
    const shown = new Notification(n.title, options);
    shown.onclick = () => {
      window.focus();
      window.dispatchEvent(new CustomEvent("chatapi:open", { detail: n.url }));
      shown.close();
    };
  }
  if (withSound) playSound();
}

/** The conversation is read (opened): its notification goes away. */
export async function closeChatNotification(conversationId: string): Promise<void> {
  if (!("serviceWorker" in navigator)) return;
  const registration = await navigator.serviceWorker.getRegistration().catch(() => undefined);
  const open = await registration?.getNotifications({ tag: `conversation:${conversationId}` }).catch(() => []);
  for (const n of open ?? []) n.close();
}
