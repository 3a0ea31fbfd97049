/**
 * The tab's one WebSocket to /api/v1/ws. No React here: the provider subscribes.
 *
 * - Sends `{"type":"auth"}` first and counts the connection usable only after `ready`;
 *   re-sends `auth` whenever the access token is refreshed.
 * - Reconnects with exponential backoff and jitter, capped low (a second) so a restarted
 *   server is found again within about a second; after a long outage (two minutes) the
 *   cap rises, so a fleet of idle tabs does not poll a dead server every second. Tries
 *   at once when the browser says it is back online, when the tab becomes visible, and
 *   on `retryNow()` (the banner's "Retry now"). An attempt that has not reached `ready`
 *   in `connectTimeoutMs` is abandoned and retried.
 * - After each `ready`, catches up every tracked conversation from
 *   GET …/events?after_seq=<watermark>, and hands each event to listeners once
 *   (duplicates by seq are dropped, live or caught up).
 * - A ping every 25 s; no frame for 10 s after it means a dead link: reconnect.
 */
import type { ChatEvent } from "../api/types";
import { isEventFrame, parseServerFrame, type ClientFrame, type ServerFrame } from "./protocol";
import { SeqTracker } from "./seqTracker";

export type ConnectionState =
  | "idle" // not started
  | "connecting" // opening the socket
  | "authenticating" // open, auth sent, waiting for ready
  | "ready"
  | "reconnecting" // waiting out the backoff
  | "offline" // the browser reports no network
  | "closed"; // stopped, or authentication is lost for good

export interface ChatSocketOptions {
  url: string;
  /** A usable access token; `force` asks for a refreshed one. null: the session is gone. */
  getToken: (force: boolean) => Promise<string | null>;
  /** One page of events after `afterSeq`, ascending. */
  fetchEvents: (conversationId: string, afterSeq: number, limit: number) => Promise<ChatEvent[]>;
  /** Called when the server rejects authentication and no fresh token can be had. */
  onAuthLost?: () => void;
  pageSize?: number;
  createSocket?: (url: string) => WebSocket;
  random?: () => number;
  baseDelayMs?: number;
  /** The backoff cap while an outage is young. */
  maxDelayMs?: number;
  /** After this long without a connection, the cap rises to `slowMaxDelayMs`. */
  slowAfterMs?: number;
  slowMaxDelayMs?: number;
  connectTimeoutMs?: number;
  now?: () => number;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
}

/** "live" frames came over the socket; "catch-up" events were fetched after a reconnect or gap. */
export type FrameSource = "live" | "catch-up";
type FrameListener = (frame: ServerFrame, source: FrameSource) => void;
type StateListener = (state: ConnectionState) => void;

/** Exponential backoff with jitter: a random delay in [d/2, d], d = base·2^attempt capped. */
export function backoffDelay(attempt: number, base: number, max: number, random: () => number): number {
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function defaultSocketUrl(location: Pick<Location, "protocol" | "host">): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/v1/ws`;
}

export class ChatSocket {
  private ws: WebSocket | null = null;
  private stateValue: ConnectionState = "idle";
  private session: string | null = null;
  private attempt = 0;
  private stopped = true;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  /** When the connection was last lost (or first tried), while it is not ready. */
  private downSince: number | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private pongTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly frameListeners = new Set<FrameListener>();
  private readonly stateListeners = new Set<StateListener>();
  private readonly tracker = new SeqTracker();
  private readonly catchingUp = new Map<string, Promise<void>>();
  private readonly opts: Required<Omit<ChatSocketOptions, "onAuthLost">> & Pick<ChatSocketOptions, "onAuthLost">;

  constructor(options: ChatSocketOptions) {
    this.opts = {
      pageSize: 200,
      createSocket: (url) => new WebSocket(url),
      random: Math.random,
      baseDelayMs: 250,
      maxDelayMs: 1_000,
      slowAfterMs: 120_000,
      slowMaxDelayMs: 10_000,
      connectTimeoutMs: 8_000,
      now: Date.now,
      pingIntervalMs: 25_000,
      pongTimeoutMs: 10_000,
      ...options,
    };
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** The `session_id` of the current connection's `ready` frame (calls name a socket by it); null until ready. */
  get sessionId(): string | null {
    return this.stateValue === "ready" ? this.session : null;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (typeof window !== "undefined") {
      window.addEventListener("online", this.handleOnline);
      window.addEventListener("offline", this.handleOffline);
    }
    if (typeof document !== "undefined") document.addEventListener("visibilitychange", this.handleVisible);
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (typeof window !== "undefined") {
      window.removeEventListener("online", this.handleOnline);
      window.removeEventListener("offline", this.handleOffline);
    }
    if (typeof document !== "undefined") document.removeEventListener("visibilitychange", this.handleVisible);
    this.clearTimers();
    this.downSince = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      ws.close(1000, "bye");
    }
    this.setState("closed");
  }

  subscribe(listener: FrameListener): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  onStateChange(listener: StateListener): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Send a frame if the socket is authenticated; false means it was not sent. */
  send(frame: ClientFrame): boolean {
    if (this.stateValue !== "ready" || !this.ws || this.ws.readyState !== OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** The access token was refreshed: tell the server before the old one expires. */
  reauthenticate(token: string): void {
    if (this.ws && this.ws.readyState === OPEN && this.stateValue === "ready") {
      this.ws.send(JSON.stringify({ type: "auth", token } satisfies ClientFrame));
    }
  }

  /**
   * Try to connect now instead of waiting out the backoff (the user asked, the network
   * came back, the tab became visible). Does nothing while connected or authenticating.
   */
  retryNow(): void {
    if (this.stopped || this.stateValue === "ready" || this.stateValue === "authenticating") return;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      // A connect that is still pending (a dead link can hang): start a fresh one.
      detach(ws);
      ws.close();
    }
    this.clearTimers();
    this.attempt = 0;
    this.connect(true);
  }

  /**
   * Follow a conversation from `seq`: events after it are caught up on reconnect. Only
   * ever raises the watermark, so give it a seq whose events have all been applied
   * (a loaded timeline's `lastSeq`), never a count from elsewhere such as the
   * conversation list: events the client has not applied would then be skipped.
   */
  track(conversationId: string, seq: number): void {
    this.tracker.track(conversationId, seq);
  }

  forget(conversationId: string): void {
    this.tracker.forget(conversationId);
  }

  /** Fetch and deliver whatever was missed in one conversation; one run at a time per conversation. */
  catchUp(conversationId: string): Promise<void> {
    const running = this.catchingUp.get(conversationId);
    if (running) return running;
    const run = this.runCatchUp(conversationId).finally(() => this.catchingUp.delete(conversationId));
    this.catchingUp.set(conversationId, run);
    return run;
  }

  private async runCatchUp(conversationId: string): Promise<void> {
    for (let pages = 0; pages < 1000; pages += 1) {
      const after = this.tracker.watermark(conversationId);
      if (after === undefined) return;
      const events = await this.opts.fetchEvents(conversationId, after, this.opts.pageSize);
      for (const event of events) this.deliverEvent(event, "catch-up");
      if (events.length < this.opts.pageSize) return;
    }
  }

  private connect(ignoreOnLine = false): void {
    if (this.stopped) return;
    this.downSince ??= this.opts.now();
    if (!ignoreOnLine && typeof navigator !== "undefined" && navigator.onLine === false) {
      this.setState("offline");
      return;
    }
    this.setState("connecting");
    let ws: WebSocket;
    try {
      ws = this.opts.createSocket(this.opts.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      if (ws !== this.ws || this.stateValue === "ready") return;
      this.ws = null;
      detach(ws);
      ws.close();
      this.scheduleReconnect();
    }, this.opts.connectTimeoutMs);
    ws.onopen = () => {
      void this.authenticate(ws);
    };
    ws.onmessage = (message: MessageEvent) => this.handleMessage(ws, message.data);
    ws.onclose = (event: CloseEvent) => this.handleClose(ws, event.code);
    ws.onerror = () => {
      // onclose follows; nothing else to do here.
    };
  }

  private async authenticate(ws: WebSocket): Promise<void> {
    this.setState("authenticating");
    const token = await this.opts.getToken(false).catch(() => null);
    if (ws !== this.ws) return;
    if (!token) {
      this.lostAuth();
      return;
    }
    ws.send(JSON.stringify({ type: "auth", token } satisfies ClientFrame));
  }

  private handleMessage(ws: WebSocket, data: unknown): void {
    if (ws !== this.ws) return;
    this.armPongTimeout(false);
    const frame = parseServerFrame(data);
    if (!frame) return;
    if (frame.type === "ready") {
      this.session = frame.session_id;
      this.attempt = 0;
      this.downSince = null;
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      this.setState("ready");
      this.startPings();
      this.emit(frame);
      for (const id of this.tracker.conversations()) {
        void this.catchUp(id).catch(() => {
          // A failed catch-up is retried on the next gap or reconnect.
        });
      }
      return;
    }
    if (isEventFrame(frame)) {
      this.deliverEvent(frame, "live");
      return;
    }
    if (frame.type === "message.ack") {
      // The ack stands for the message.new of its seq on this socket.
      this.tracker.accept(frame.message.conversation_id, frame.message.seq);
    }
    this.emit(frame);
  }

  private deliverEvent(event: ChatEvent, source: FrameSource): void {
    if (!this.tracker.accept(event.conversation_id, event.seq)) return;
    this.emit(event, source);
    if (this.tracker.hasGap(event.conversation_id)) {
      void this.catchUp(event.conversation_id).catch(() => undefined);
    }
  }

  private handleClose(ws: WebSocket, code: number): void {
    if (ws !== this.ws) return;
    this.ws = null;
    this.clearTimers();
    if (this.stopped) return;
    if (code === 4401) {
      // The token expired or was refused: get a fresh one before trying again.
      void this.opts.getToken(true).then(
        (token) => (token ? this.scheduleReconnect() : this.lostAuth()),
        () => this.scheduleReconnect(),
      );
      return;
    }
    this.scheduleReconnect();
  }

  private lostAuth(): void {
    this.stop();
    this.opts.onAuthLost?.();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    if (typeof navigator !== "undefined" && navigator.onLine === false) {
      this.setState("offline");
      return;
    }
    this.setState("reconnecting");
    const now = this.opts.now();
    this.downSince ??= now;
    const cap = now - this.downSince >= this.opts.slowAfterMs ? this.opts.slowMaxDelayMs : this.opts.maxDelayMs;
    const delay = backoffDelay(this.attempt, this.opts.baseDelayMs, cap, this.opts.random);
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private readonly handleOnline = (): void => {
    this.retryNow();
  };

  private readonly handleVisible = (): void => {
    if (document.visibilityState === "visible" && (this.stateValue === "reconnecting" || this.stateValue === "offline"))
      this.retryNow();
  };

  private readonly handleOffline = (): void => {
    if (this.stopped) return;
    const ws = this.ws;
    this.ws = null;
    this.clearTimers();
    if (ws) {
      detach(ws);
      ws.close(1000, "offline");
    }
    this.setState("offline");
  };

  private startPings(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (this.send({ type: "ping" })) this.armPongTimeout(true);
    }, this.opts.pingIntervalMs);
  }

  private armPongTimeout(arm: boolean): void {
    if (this.pongTimer) clearTimeout(this.pongTimer);
    this.pongTimer = null;
    if (!arm) return;
    this.pongTimer = setTimeout(() => {
      const ws = this.ws;
      if (!ws) return;
      this.ws = null;
      this.clearTimers();
      detach(ws);
      ws.close(4000, "no pong");
      this.scheduleReconnect();
    }, this.opts.pongTimeoutMs);
  }

  private clearTimers(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.pongTimer) clearTimeout(this.pongTimer);
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
  }

  private setState(state: ConnectionState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private emit(frame: ServerFrame, source: FrameSource = "live"): void {
    for (const listener of this.frameListeners) listener(frame, source);
  }
}

const OPEN = 1;

function detach(ws: WebSocket): void {
  ws.onopen = null;
  ws.onmessage = null;
  ws.onclose = null;
  ws.onerror = null;
}
