/**
 * What the service worker does with a request, and the notification it shows for a push:
 * pure functions, shared by sw.ts and its tests. No DOM and no worker globals here.
 *
 * The rules: the SW keeps only the app shell (the build's own files, listed at build time
 * with a content hash). It never touches the API, media, the WebSocket, or anything else
 * the server answers: those go to the network as if there were no worker. A page load
 * (navigation) goes to the network first, so a reachable server always gives the current
 * index.html; only when the network fails does the worker answer with the index.html of
 * its own build, whose scripts and styles it holds, so the app opens offline.
 */

/** One file of the build: its URL and, for unhashed names, a hash of its content. */
export interface PrecacheEntry {
  url: string;
  /** null for `assets/` files, whose names already change with their content */
  revision: string | null;
}

/** Paths the server answers itself; a navigation to one of them is never the app. */
const SERVER_PATHS = ["/api/", "/docs", "/redoc", "/openapi.json", "/asyncapi.json", "/healthz", "/readyz", "/metrics"];

export type Route = "shell-file" | "navigation" | "network";

export interface RequestLike {
  url: string;
  method: string;
  mode: string;
}

/** How the worker answers a request from a page of `origin`. */
export function routeRequest(request: RequestLike, origin: string, shellUrls: ReadonlySet<string>): Route {
  if (request.method !== "GET") return "network";
  const url = new URL(request.url);
  if (url.origin !== origin) return "network";
  if (SERVER_PATHS.some((p) => url.pathname === p || url.pathname.startsWith(p.endsWith("/") ? p : `${p}/`))) {
    return "network";
  }
  if (request.mode === "navigate") return "navigation";
  // Query strings are not part of the shell (cache busters, API-like calls): network.
  if (!url.search && shellUrls.has(url.pathname)) return "shell-file";
  return "network";
}

/** The URL a cache entry is stored under: the path, plus its revision so a changed file is fetched anew. */
export function cacheKey(entry: PrecacheEntry): string {
  return entry.revision ? `${entry.url}?__rev=${entry.revision}` : entry.url;
}

/** A web push payload from the server (see docs/protocol.md, "Web Push"). */
export interface PushPayload {
  type: "message";
  conversation_id: string;
  message_id?: string;
  seq?: number;
  title: string;
  body: string;
  tag: string;
  url: string;
  mention?: boolean;
}

/** The payload as sent, or null when it is not one we know (it is then shown generically). */
export function parsePushPayload(data: unknown): PushPayload | null {
  if (typeof data !== "object" || data === null) return null;
  const o = data as Record<string, unknown>;
  if (o.type !== "message" || typeof o.conversation_id !== "string") return null;
  const url = typeof o.url === "string" && o.url.startsWith("/") && !o.url.startsWith("//") ? o.url : "/";
  return {
    type: "message",
    conversation_id: o.conversation_id,
    message_id: typeof o.message_id === "string" ? o.message_id : undefined,
    seq: typeof o.seq === "number" ? o.seq : undefined,
    title: typeof o.title === "string" && o.title ? o.title : "chatapi",
    body: typeof o.body === "string" ? o.body : "New message",
    tag: typeof o.tag === "string" && o.tag ? o.tag : `conversation:${o.conversation_id}`,
    url,
    mention: o.mention === true,
  };
}

/** What a notification carries for its click: where to go. */
export interface NotificationData {
  url: string;
  conversation_id?: string;
}

/** The in-app path a notification's click opens: its own path, never another origin. */
export function clickTarget(data: unknown): string {
  const url = (data as Partial<NotificationData> | null)?.url;
  return typeof url === "string" && url.startsWith("/") && !url.startsWith("//") ? url : "/";
}

/** The message a window gets from the worker to open a conversation in place (no reload). */
export interface OpenMessage {
  type: "chatapi:open";
  url: string;
}

export function isOpenMessage(data: unknown): data is OpenMessage {
  const o = data as Partial<OpenMessage> | null;
  return typeof o === "object" && o !== null && o.type === "chatapi:open" && typeof o.url === "string";
}
