/**
 * One RTCPeerConnection to one other participant (calls are a full mesh), negotiated with
 * the WebRTC "perfect negotiation" pattern: whoever needs a new offer makes one; on a
 * collision the polite side (the larger user id) rolls its own back and answers, the
 * impolite side ignores the other's offer. Signals go through the chat socket.
 *
 * Whoever joins a call starts the link to each participant already in it (`start`): it adds
 * an audio and a video transceiver, so its offer carries both even in a voice call. The
 * other side builds its link on that offer and puts its own tracks on the transceivers the
 * offer made. Turning the camera on or off, switching devices and sharing the screen then
 * replace a sender's track and need no new offer.
 */
import type { SignalData } from "./types";

export type TrackKind = "audio" | "video";

export interface PeerOptions {
  remoteUserId: string;
  /** The remote participant's socket (a new one means a new link). */
  remoteConnectionId: string | null;
  polite: boolean;
  iceServers: RTCIceServer[];
  /** My current track of a kind (null: none, e.g. camera off). */
  localTrack: (kind: TrackKind) => MediaStreamTrack | null;
  send: (data: SignalData) => void;
  /** The remote stream got a track (or lost one). */
  onStream: (stream: MediaStream) => void;
  onConnected: (connected: boolean) => void;
}

export class PeerLink {
  readonly pc: RTCPeerConnection;
  readonly remoteUserId: string;
  remoteConnectionId: string | null;
  readonly stream = new MediaStream();
  private makingOffer = false;
  private ignoreOffer = false;
  private settingRemoteAnswer = false;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private connected = false;

  constructor(private readonly opts: PeerOptions) {
    this.remoteUserId = opts.remoteUserId;
    this.remoteConnectionId = opts.remoteConnectionId;
    const pc = new RTCPeerConnection({ iceServers: opts.iceServers });
    this.pc = pc;
    pc.onnegotiationneeded = async () => {
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        const d = pc.localDescription;
        if (d && !this.closed) this.opts.send({ kind: d.type === "answer" ? "answer" : "offer", sdp: d.sdp });
      } catch {
        // A collision or a closed link: the next negotiationneeded or the other's offer settles it.
      } finally {
        this.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      if (this.closed) return;
      this.opts.send({
        kind: "candidate",
        candidate: candidate
          ? { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex }
          : null,
      });
    };
    pc.ontrack = ({ track }) => {
      if (!this.stream.getTracks().includes(track)) this.stream.addTrack(track);
      this.opts.onStream(this.stream);
    };
    pc.onconnectionstatechange = () => {
      const state = pc.connectionState;
      const connected = state === "connected";
      if (connected !== this.connected) {
        this.connected = connected;
        this.opts.onConnected(connected);
      }
      // A network change: find a new path without hanging up.
      if (state === "failed") pc.restartIce();
    };
  }

  /** I joined: send my media to a participant already in the call (an offer follows). */
  start(): void {
    const audio = this.opts.localTrack("audio");
    const video = this.opts.localTrack("video");
    this.pc.addTransceiver(audio ?? "audio", { direction: "sendrecv" });
    this.pc.addTransceiver(video ?? "video", { direction: "sendrecv" });
  }

  /** A signal from the other side, handled one at a time in arrival order. */
  receive(data: SignalData): Promise<void> {
    this.queue = this.queue.then(() => this.handle(data)).catch(() => undefined);
    return this.queue;
  }

  /** Send `track` (null: nothing) as my `kind`, to this participant. */
  async replaceTrack(kind: TrackKind, track: MediaStreamTrack | null): Promise<void> {
    const t = this.transceiver(kind);
    if (t) await t.sender.replaceTrack(track);
  }

  /** The sender of my `kind` (tests and stats look at it). */
  sender(kind: TrackKind): RTCRtpSender | null {
    return this.transceiver(kind)?.sender ?? null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const track of this.stream.getTracks()) this.stream.removeTrack(track);
    this.pc.onnegotiationneeded = null;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
    if (this.connected) this.opts.onConnected(false);
  }

  private transceiver(kind: TrackKind): RTCRtpTransceiver | undefined {
    return this.pc.getTransceivers().find((t) => t.receiver.track.kind === kind && t.currentDirection !== "stopped");
  }

  private async handle(data: SignalData): Promise<void> {
    if (this.closed) return;
    const pc = this.pc;
    if (data.kind === "candidate") {
      try {
        await pc.addIceCandidate(data.candidate ?? undefined);
      } catch (error) {
        if (!this.ignoreOffer) throw error;
      }
      return;
    }
    const readyForOffer = !this.makingOffer && (pc.signalingState === "stable" || this.settingRemoteAnswer);
    const collision = data.kind === "offer" && !readyForOffer;
    this.ignoreOffer = !this.opts.polite && collision;
    if (this.ignoreOffer) return;
    this.settingRemoteAnswer = data.kind === "answer";
    await pc.setRemoteDescription({ type: data.kind, sdp: data.sdp });
    this.settingRemoteAnswer = false;
    if (data.kind === "offer") {
      await this.attachLocalTracks();
      await pc.setLocalDescription();
      const d = pc.localDescription;
      if (d && !this.closed) this.opts.send({ kind: "answer", sdp: d.sdp });
    }
  }

  /** The other's offer made transceivers that send nothing yet: put my tracks on them. */
  private async attachLocalTracks(): Promise<void> {
    for (const kind of ["audio", "video"] as const) {
      const t = this.transceiver(kind);
      if (!t || t.sender.track) continue;
      if (t.direction === "recvonly" || t.direction === "inactive") t.direction = "sendrecv";
      const track = this.opts.localTrack(kind);
      if (track) await t.sender.replaceTrack(track);
    }
  }
}

/** Perfect negotiation's roles: exactly one of two participants is polite. */
export function isPolite(meId: string, otherId: string): boolean {
  return meId > otherId;
}
