/**
 * chatapi's service worker (built to /sw.js by the plugin in vite.config.ts, which fills in
 * the build's file list). Three jobs:
 *
 * 1. The app shell for offline use: install keeps this build's own files in a cache named
 *    for the build; activate drops other builds' caches. Page loads go to the network first
 *    and fall back to this build's index.html only when the network fails, so a reachable
 *    server is never hidden behind a stale page. API answers and media are never cached
 *    (the offline conversation list is IndexedDB's, written by the app).
 * 2. Updates: a new build installs beside the old one and waits; the page offers
 *    "New version available — reload", which sends SKIP_WAITING. Never skipping on its own
 *    keeps an open tab's old scripts working until it reloads.
 * 3. Notifications: Web Push (`push`) shows the server's payload; a click
 *    (`notificationclick`) opens the conversation in an open window, or a new one.
 */
import {
  cacheKey,
  clickTarget,
  parsePushPayload,
  routeRequest,
  type NotificationData,
  type OpenMessage,
  type PrecacheEntry,
} from "./shell";

declare const self: ServiceWorkerGlobalScope;
declare const __PRECACHE__: PrecacheEntry[];
declare const __SHELL_CACHE__: string;

const PRECACHE: PrecacheEntry[] = __PRECACHE__;
const CACHE = __SHELL_CACHE__;
const CACHE_PREFIX = "chatapi-shell-";
const byPath = new Map(PRECACHE.map((e) => [e.url, e]));
const shellUrls = new Set(byPath.keys());
/** How long a page load waits for the network before the offline shell answers. */
const NAVIGATION_TIMEOUT_MS = 5_000;

self.addEventListener("install", (event) => {
  event.waitUntil(precache());
});

async function precache(): Promise<void> {
  const cache = await caches.open(CACHE);
  await Promise.all(
    PRECACHE.map(async (entry) => {
      const key = cacheKey(entry);
      if (await cache.match(key)) return;
      // The same file (same name and revision) from an earlier build: no download.
      const earlier = await caches.match(key);
      const response = earlier ?? (await fetch(entry.url, { cache: "no-cache", credentials: "same-origin" }));
      if (!response.ok) throw new Error(`precache ${entry.url}: ${response.status}`);
      await cache.put(key, response);
    }),
  );
}

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  const data = event.data as { type?: unknown } | null;
  if (data?.type === "SKIP_WAITING") void self.skipWaiting();
});

self.addEventListener("fetch", (event) => {
  const route = routeRequest(event.request, self.location.origin, shellUrls);
  if (route === "shell-file") event.respondWith(shellFile(event.request));
  else if (route === "navigation") event.respondWith(navigation(event.request));
  // Everything else (the API, media, the socket): no respondWith, the browser fetches it.
});

async function fromShell(path: string): Promise<Response | undefined> {
  const entry = byPath.get(path);
  if (!entry) return undefined;
  const cache = await caches.open(CACHE);
  return cache.match(cacheKey(entry));
}

async function shellFile(request: Request): Promise<Response> {
  return (await fromShell(new URL(request.url).pathname)) ?? fetch(request);
}

async function navigation(request: Request): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), NAVIGATION_TIMEOUT_MS);
  try {
    return await fetch(request, { signal: controller.signal });
  } catch (error) {
    // Offline (or a server that does not answer): this build's own page, whose files we hold.
    const shell = await fromShell("/index.html");
    if (shell) return shell;
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

self.addEventListener("push", (event) => {
  let data: unknown = null;
  try {
    data = event.data?.json();
  } catch {
    data = null;
  }
  event.waitUntil(showPush(data));
});

async function showPush(data: unknown): Promise<void> {
  const payload = parsePushPayload(data);
  // A visible window hears the same message on its socket and notifies itself (or not,
  // when the conversation is open): showing it here too would double it.
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  if (payload && windows.some((w) => w.visibilityState === "visible")) return;
  const notification: NotificationData = payload
    ? { url: payload.url, conversation_id: payload.conversation_id }
    : { url: "/" };
  await self.registration.showNotification(payload?.title ?? "chatapi", {
    body: payload?.body ?? "New message",
    tag: payload?.tag ?? "chatapi",
    renotify: true,
    icon: "/icons/icon-192.png",
    badge: "/icons/maskable-192.png",
    data: notification,
  } as NotificationOptions);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const opening = openFromNotification(clickTarget(event.notification.data));
  try {
    event.waitUntil(opening);
  } catch {
    // An event dispatched by a script (the e2e suite) cannot be extended: it still runs.
  }
});

/** Open `url` in this app: an open window goes there in place (and comes forward), else a new window. */
async function openFromNotification(url: string): Promise<void> {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const target = windows.find((w) => w.focused) ?? windows.find((w) => w.visibilityState === "visible") ?? windows[0];
  if (!target) {
    await self.clients.openWindow(url);
    return;
  }
  const message: OpenMessage = { type: "chatapi:open", url };
  target.postMessage(message);
  try {
    await target.focus();
  } catch {
    // Focusing needs the click's user activation; without it the window still navigates.
  }
}
