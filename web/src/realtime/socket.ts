/**
 * The tab's one WebSocket to /api/v1/ws. No React here: the provider subscribes.
 *
 * - Sends `{"type":"auth"}` first and counts the connection usable only after `ready`;
 *   re-sends `auth` whenever the access token is refreshed.
 * - Reconnects with exponential backoff and jitter; at once when the browser says
 *   it is back online.
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
  maxDelayMs?: number;
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
  private attempt = 0;
  private stopped = true;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
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
      baseDelayMs: 500,
      maxDelayMs: 30_000,
      pingIntervalMs: 25_000,
      pongTimeoutMs: 10_000,
      ...options,
    };
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (typeof window !== "undefined") {
      window.addEventListener("online", this.handleOnline);
      window.addEventListener("offline", this.handleOffline);
    }
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (typeof window !== "undefined") {
      window.removeEventListener("online", this.handleOnline);
      window.removeEventListener("offline", this.handleOffline);
    }
    this.clearTimers();
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

  /** Start following a conversation from `seq` (events after it are caught up on reconnect). */
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

  private connect(): void {
    if (this.stopped) return;
    if (typeof navigator !== "undefined" && navigator.onLine === false) {
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
      this.attempt = 0;
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
    const delay = backoffDelay(this.attempt, this.opts.baseDelayMs, this.opts.maxDelayMs, this.opts.random);
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private readonly handleOnline = (): void => {
    if (this.stopped || this.ws) return;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.attempt = 0;
    this.connect();
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
