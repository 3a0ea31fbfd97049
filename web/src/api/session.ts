/**
 * The signed-in session: the access token (memory only) and the refresh token
 * (localStorage, so a reload stays signed in). No React.
 *
 * Refresh tokens rotate and are single-use: presenting a spent one revokes the whole
 * family. So refreshes are serialised — within the tab by sharing one in-flight
 * promise, across tabs with the Web Locks API where it exists — and the refresh
 * token is re-read from localStorage inside the lock, because another tab may have
 * rotated it already. The new refresh token is always stored.
 *
 * localStorage reaches other tabs asynchronously (Chromium keeps a copy per renderer),
 * so a tab that takes the lock right after another released it can still read the
 * token that tab just spent. So a tab announces each token it is about to spend on a
 * BroadcastChannel before sending it, and a tab that reads an announced token waits for
 * its storage to show the successor instead of presenting a spent one.
 */
import type { TokenPair } from "./types";

const REFRESH_KEY = "chatapi.refresh_token";
/** Refresh this long before the access token expires. */
const EARLY_MS = 30_000;

export class AuthError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "AuthError";
  }
}

type Listener = (accessToken: string | null) => void;

interface SessionState {
  accessToken: string | null;
  expiresAt: number;
}

const state: SessionState = { accessToken: null, expiresAt: 0 };
const listeners = new Set<Listener>();
let inFlight: Promise<string | null> | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | null = null;
/** Refresh tokens this tab or another one has sent to be spent. */
const spent = new Set<string>();
const SPENT_WAIT_MS = 3_000;
const channel: BroadcastChannel | null =
  typeof BroadcastChannel !== "undefined" ? new BroadcastChannel("chatapi-session") : null;
channel?.addEventListener("message", (event: MessageEvent<unknown>) => {
  const data = event.data as { spent?: unknown } | null;
  if (data && typeof data.spent === "string") spent.add(data.spent);
});

function announceSpent(token: string): void {
  spent.add(token);
  channel?.postMessage({ spent: token });
}

/** The refresh token to spend now: not one already spent (wait for its successor). */
async function unspentRefreshToken(): Promise<string | null> {
  const deadline = Date.now() + SPENT_WAIT_MS;
  let token = readRefreshToken();
  while (token && spent.has(token) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    token = readRefreshToken();
  }
  return token;
}

export function readRefreshToken(): string | null {
  try {
    return localStorage.getItem(REFRESH_KEY);
  } catch {
    return null;
  }
}

function writeRefreshToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(REFRESH_KEY, token);
    else localStorage.removeItem(REFRESH_KEY);
  } catch {
    // Private mode without storage: the session lasts until the tab closes.
  }
}

export function hasSession(): boolean {
  return state.accessToken !== null || readRefreshToken() !== null;
}

/** Listen for a new access token (refresh, login) or null (signed out). */
export function onTokenChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function notify(): void {
  for (const l of listeners) l(state.accessToken);
}

/** Store a fresh pair from login or refresh and schedule the next refresh. */
export function acceptTokens(pair: TokenPair): void {
  state.accessToken = pair.access_token;
  state.expiresAt = Date.now() + pair.expires_in * 1000;
  writeRefreshToken(pair.refresh_token);
  scheduleRefresh(pair.expires_in * 1000);
  notify();
}

function scheduleRefresh(ttlMs: number): void {
  if (refreshTimer) clearTimeout(refreshTimer);
  // Refresh shortly before expiry (30 s, or a fifth of a short lifetime) so the WebSocket
  // gets the new token before the server closes it — and no more often than that: each
  // refresh spends the stored token, and one whose answer is lost (tab closed mid-request)
  // leaves a spent token behind.
  // The server counts the lifetime from the whole second it issued the token in, so the
  // token can expire up to a second before `expires_in` says: that second comes off too.
  const delay = Math.max(1_000, ttlMs - 1_000 - Math.min(EARLY_MS, ttlMs / 5));
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    void refreshAccessToken().catch(() => undefined);
  }, delay);
}

let endedByServer = false;

/** Whether the last session was ended by the server, not by this tab; asked once. */
export function takeEndedByServer(): boolean {
  const ended = endedByServer;
  endedByServer = false;
  return ended;
}

export function clearSession(): void {
  state.accessToken = null;
  state.expiresAt = 0;
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = null;
  writeRefreshToken(null);
  notify();
}

/** A usable access token, refreshing when it is missing, about to expire, or `force`d. */
export async function getAccessToken(force = false): Promise<string | null> {
  if (!force && state.accessToken && Date.now() < state.expiresAt - 5_000) return state.accessToken;
  return refreshAccessToken();
}

/** Spend the refresh token for a new pair; concurrent callers share one request. */
export function refreshAccessToken(): Promise<string | null> {
  if (!inFlight) {
    inFlight = withCrossTabLock(doRefresh).finally(() => {
      inFlight = null;
    });
  }
  return inFlight;
}

async function withCrossTabLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (locks?.request) return locks.request("chatapi-refresh", fn);
  return fn();
}

async function doRefresh(): Promise<string | null> {
  const token = await unspentRefreshToken();
  if (!token) {
    clearSession();
    return null;
  }
  announceSpent(token);
  let response: Response;
  try {
    response = await fetch("/api/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: token }),
    });
  } catch {
    // Offline: keep the refresh token (it was not spent) and try again later.
    spent.delete(token);
    throw new AuthError("The server cannot be reached.", 0, "network");
  }
  if (response.status === 401 || response.status === 403) {
    // The server ended this session (signed out from another device, a password change,
    // the account closed): the sign-in page says so.
    endedByServer = true;
    clearSession();
    return null;
  }
  if (!response.ok) {
    throw new AuthError(`Refreshing the session failed (${response.status}).`, response.status, undefined);
  }
  acceptTokens((await response.json()) as TokenPair);
  return state.accessToken;
}

/** OAuth2 password form, form-encoded as the token endpoint expects. */
export async function login(username: string, password: string): Promise<void> {
  const body = new URLSearchParams({ username, password, grant_type: "password" });
  let response: Response;
  try {
    response = await fetch("/api/v1/auth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body,
    });
  } catch {
    throw new AuthError("The server cannot be reached. Check your connection.", 0, "network");
  }
  if (!response.ok) {
    const { message, code } = await describeError(response);
    throw new AuthError(response.status === 401 ? "Wrong username or password." : message, response.status, code);
  }
  acceptTokens((await response.json()) as TokenPair);
}

export async function logout(): Promise<void> {
  const token = readRefreshToken();
  clearSession();
  if (!token) return;
  try {
    await fetch("/api/v1/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: token }),
    });
  } catch {
    // Signed out locally either way.
  }
}

/** Human text for an error response: `detail` (string or FastAPI's 422 list) and `code`. */
export async function describeError(response: Response): Promise<{ message: string; code: string | undefined }> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's HTML error page).
  }
  return errorText(body, response.status, response.headers.get("Retry-After"));
}

export function errorText(
  body: unknown,
  status: number,
  retryAfter: string | null = null,
): { message: string; code: string | undefined } {
  const obj = typeof body === "object" && body !== null ? (body as { detail?: unknown; code?: unknown }) : {};
  const code = typeof obj.code === "string" ? obj.code : undefined;
  let message: string;
  if (typeof obj.detail === "string") {
    message = obj.detail;
  } else if (Array.isArray(obj.detail)) {
    message = obj.detail
      .map((issue: unknown) => {
        if (typeof issue !== "object" || issue === null) return String(issue);
        const { loc, msg } = issue as { loc?: unknown; msg?: unknown };
        const field = Array.isArray(loc) ? loc.filter((p) => p !== "body").join(".") : "";
        const text = typeof msg === "string" ? msg.replace(/^Value error, /, "") : "invalid value";
        return field ? `${field}: ${text}` : text;
      })
      .join("; ");
  } else {
    message = `The server answered ${status}.`;
  }
  if (status === 429) {
    // The server says what was too many (this account's failed logins, this network's…)
    // and when to try again; a proxy's bare 429 gets a sentence of ours.
    if (typeof obj.detail !== "string")
      message = `Too many attempts. ${retryAfter ? `Try again in ${retryAfter} s.` : "Try again shortly."}`;
  }
  return { message, code };
}
