/**
 * What a call looks like: the call buttons of a conversation's header, the ringing dialog,
 * the call stage (videos and controls) above the open conversation, the call bar while
 * another conversation is open, and the short notices ("Bob is busy").
 */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { Button, Dropdown, Modal } from "react-bootstrap";
import { Link } from "react-router";
import type { Conversation } from "../../api/types";
import { Avatar } from "../../components/Avatar";
import { Icon } from "../../components/Icon";
import { conversationTitle, keys } from "../conversations/api";
import { useCalls, useOptionalCalls } from "./CallProvider";
import { callLayout, formatTimer } from "./format";
import { MAX_CALL_MEMBERS, type CallState } from "./types";

/** Voice and video call buttons for a conversation's header (direct chats, small groups). */
export function CallButtons({ conversation }: { conversation: Conversation }) {
  const calls = useOptionalCalls();
  if (!calls) return null;
  if (conversation.kind === "group" && conversation.members_count > MAX_CALL_MEMBERS) return null;
  const joinable = calls.joinable(conversation.id);
  const busy = calls.state.mine !== null;
  if (joinable) {
    return (
      <Button
        variant="success"
        size="sm"
        onClick={() => void calls.accept(joinable, joinable.video)}
        disabled={busy}
        data-testid="join-call"
      >
        <Icon name={joinable.video ? "video" : "phone"} /> Join call
      </Button>
    );
  }
  return (
    <div className="d-flex gap-1" role="group" aria-label="Call">
      <Button
        variant="outline-secondary"
        size="sm"
        onClick={() => void calls.start(conversation.id, false)}
        disabled={busy}
        aria-label="Start a voice call"
        title="Voice call"
      >
        <Icon name="phone" />
      </Button>
      <Button
        variant="outline-secondary"
        size="sm"
        onClick={() => void calls.start(conversation.id, true)}
        disabled={busy}
        aria-label="Start a video call"
        title="Video call"
      >
        <Icon name="video" />
      </Button>
    </div>
  );
}

function useCallTitle(call: { conversation_id: string } | null, conversationId?: string): string {
  const qc = useQueryClient();
  const id = call?.conversation_id ?? conversationId;
  const c = qc.getQueryData<Conversation[]>(keys.conversations)?.find((x) => x.id === id);
  return c ? conversationTitle(c, c.other_user ?? undefined) : "Call";
}

/** The ringing dialog: on every tab of the person called, until answered somewhere or over. */
export function IncomingCallDialog() {
  const calls = useCalls();
  const call = calls.incoming;
  const accept = useRef<HTMLButtonElement>(null);
  const title = useCallTitle(call);
  const caller = call ? calls.nameOf(call.started_by) : "";
  const group = call ? title !== caller : false;
  return (
    <Modal
      show={call !== null}
      onHide={() => call && calls.decline(call)}
      onEntered={() => accept.current?.focus()}
      centered
      backdrop="static"
      aria-labelledby="incoming-call-title"
      data-testid="incoming-call"
    >
      {call ? (
        <Modal.Body className="text-center p-4">
          <div className="ringing-avatar mx-auto mb-3">
            <Avatar name={caller} seed={call.started_by} />
          </div>
          <h2 id="incoming-call-title" className="h5 mb-1">
            {caller} is calling
          </h2>
          <p className="text-body-secondary mb-4" data-testid="incoming-call-kind">
            {call.video ? "Video call" : "Voice call"}
            {group ? ` · ${title}` : ""}
          </p>
          <div className="d-flex flex-wrap justify-content-center gap-2">
            <Button variant="danger" onClick={() => calls.decline(call)}>
              <Icon name="hangup" /> Decline
            </Button>
            <Button variant="outline-secondary" onClick={() => void calls.accept(call, !call.video)}>
              <Icon name={call.video ? "phone" : "video"} /> {call.video ? "Accept without video" : "Accept with video"}
            </Button>
            <Button ref={accept} variant="success" onClick={() => void calls.accept(call, call.video)}>
              <Icon name={call.video ? "video" : "phone"} /> Accept
            </Button>
          </div>
        </Modal.Body>
      ) : null}
    </Modal>
  );
}

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

/** "Ringing…", "Connecting…" or the time since the call was answered. */
function useCallStatus(): string {
  const calls = useCalls();
  const mine = calls.state.mine;
  const answeredAt = calls.current?.answered_at ?? null;
  const now = useNow(mine !== null);
  if (!mine) return "";
  if (mine.phase === "outgoing" && !answeredAt) return "Ringing…";
  if (mine.phase !== "in-call") return "Connecting…";
  return answeredAt ? formatTimer(now - Date.parse(answeredAt)) : "0:00";
}

function Video({
  stream,
  label,
  testId,
  userId,
  mirrored = false,
  hidden = false,
}: {
  stream: MediaStream | null;
  label: string;
  testId: string;
  userId: string;
  mirrored?: boolean;
  hidden?: boolean;
}) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || el.srcObject === stream) return;
    el.srcObject = stream;
    if (stream) void el.play().catch(() => undefined);
  }, [stream]);
  return (
    <video
      ref={ref}
      className={`call-video${mirrored ? " mirrored" : ""}${hidden ? " invisible" : ""}`}
      autoPlay
      playsInline
      muted
      aria-label={label}
      data-testid={testId}
      data-user-id={userId}
    />
  );
}

function Tile({ userId, call, small = false }: { userId: string; call: CallState; small?: boolean }) {
  const calls = useCalls();
  const me = userId === calls.state.meId;
  const p = call.participants.find((x) => x.user_id === userId);
  const name = me ? "You" : calls.nameOf(userId);
  const showsVideo = me ? calls.media.video || calls.media.screen : Boolean(p && (p.video || p.screen));
  const stream = me ? calls.localStream : (calls.remoteStreams[userId] ?? null);
  const muted = me ? !calls.media.audio : p ? !p.audio : false;
  return (
    <div className={`call-tile${small ? " call-tile-small" : ""}`} data-testid="call-tile" data-user-id={userId}>
      <Video
        stream={stream}
        label={me ? "Your video" : `${name}'s video`}
        testId={me ? "local-video" : "remote-video"}
        userId={userId}
        mirrored={me && !calls.media.screen}
        hidden={!showsVideo}
      />
      {!showsVideo ? (
        <div className="call-tile-placeholder">
          <Avatar name={me ? calls.nameOf(userId) : name} seed={userId} />
        </div>
      ) : null}
      <span className="call-tile-name small">
        {muted ? (
          <span className="me-1" aria-label="microphone off" data-testid="tile-muted">
            <Icon name="micOff" size={12} />
          </span>
        ) : null}
        {name}
        {p?.screen && !me ? " · sharing the screen" : ""}
      </span>
    </div>
  );
}

/** Phones' browsers cannot share the screen: no button there. */
function canShareScreen(): boolean {
  return typeof navigator !== "undefined" && typeof navigator.mediaDevices?.getDisplayMedia === "function";
}

/** Mute, camera, screen, devices, hang up: the call's controls. */
function CallControls({ compact = false }: { compact?: boolean }) {
  const calls = useCalls();
  const { media } = calls;
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const size = compact ? "sm" : undefined;
  return (
    <div
      className="d-flex align-items-center justify-content-center gap-2 flex-wrap"
      role="toolbar"
      aria-label="Call controls"
    >
      <Button
        variant={media.audio ? "secondary" : "warning"}
        size={size}
        onClick={calls.toggleAudio}
        aria-pressed={!media.audio}
        aria-label={media.audio ? "Mute" : "Unmute"}
        title={media.audio ? "Mute" : "Unmute"}
      >
        <Icon name={media.audio ? "mic" : "micOff"} />
      </Button>
      {!compact ? (
        <>
          <Button
            variant={media.video ? "secondary" : "outline-secondary"}
            onClick={() => void calls.toggleVideo()}
            aria-pressed={media.video}
            aria-label={media.video ? "Turn camera off" : "Turn camera on"}
            title={media.video ? "Turn camera off" : "Turn camera on"}
          >
            <Icon name={media.video ? "video" : "videoOff"} />
          </Button>
          {canShareScreen() ? (
            <Button
              variant={media.screen ? "primary" : "outline-secondary"}
              onClick={() => void calls.toggleScreen()}
              aria-pressed={media.screen}
              aria-label={media.screen ? "Stop sharing the screen" : "Share the screen"}
              title={media.screen ? "Stop sharing the screen" : "Share the screen"}
            >
              <Icon name="screen" />
            </Button>
          ) : null}
          <Dropdown
            drop="up"
            onToggle={(show) => {
              if (show)
                void navigator.mediaDevices
                  ?.enumerateDevices()
                  .then((list) => setDevices(list.filter((d) => d.deviceId && d.kind !== "audiooutput")));
            }}
          >
            <Dropdown.Toggle variant="outline-secondary" aria-label="Switch devices" title="Switch devices">
              <Icon name="gear" />
            </Dropdown.Toggle>
            <Dropdown.Menu>
              {(["audioinput", "videoinput"] as const).map((kind) => (
                <div key={kind}>
                  <Dropdown.Header>{kind === "audioinput" ? "Microphone" : "Camera"}</Dropdown.Header>
                  {devices
                    .filter((d) => d.kind === kind)
                    .map((d, i) => (
                      <Dropdown.Item
                        key={d.deviceId}
                        as="button"
                        onClick={() => void calls.switchDevice(kind, d.deviceId)}
                      >
                        {d.label || `${kind === "audioinput" ? "Microphone" : "Camera"} ${i + 1}`}
                      </Dropdown.Item>
                    ))}
                </div>
              ))}
            </Dropdown.Menu>
          </Dropdown>
        </>
      ) : null}
      <Button variant="danger" size={size} onClick={calls.hangup} aria-label="Hang up" title="Hang up">
        <Icon name="hangup" />
        {compact ? null : <span className="ms-1">Hang up</span>}
      </Button>
    </div>
  );
}

/** The call, above its conversation: the videos, who is in it, the timer and the controls. */
export function CallStage() {
  const calls = useCalls();
  const status = useCallStatus();
  const mine = calls.state.mine;
  const call = calls.current;
  const title = useCallTitle(call, mine?.conversationId);
  if (!mine) return null;
  const remote = call ? call.participants.filter((p) => p.user_id !== calls.state.meId).map((p) => p.user_id) : [];
  const layout = callLayout(remote, calls.state.meId);
  return (
    <section
      className="call-stage border-bottom d-flex flex-column"
      data-bs-theme="dark"
      aria-label={`Call: ${title}`}
      data-testid="call-stage"
    >
      <div className="d-flex align-items-center gap-2 px-3 py-2">
        <span className="fw-semibold text-truncate">{title}</span>
        <span className="small text-body-secondary" data-testid="call-status" role="timer" aria-live="off">
          {status}
        </span>
      </div>
      <div className="call-videos flex-grow-1 min-h-0 px-2">
        {!call || layout.kind === "solo" ? (
          <div className="call-solo h-100 d-flex flex-column align-items-center justify-content-center gap-2">
            {call ? <Tile userId={calls.state.meId} call={call} /> : null}
          </div>
        ) : layout.kind === "pair" ? (
          <div className="call-pair h-100 position-relative">
            <Tile userId={layout.large} call={call} />
            <Tile userId={calls.state.meId} call={call} small />
          </div>
        ) : (
          <div className="call-grid h-100" style={{ gridTemplateColumns: `repeat(${layout.columns}, minmax(0, 1fr))` }}>
            {layout.tiles.map((id) => (
              <Tile key={id} userId={id} call={call} />
            ))}
          </div>
        )}
      </div>
      <div className="py-2">
        <CallControls />
      </div>
    </section>
  );
}

/** The call while another conversation (or none) is open: who, how long, back to it, mute, hang up. */
export function CallBar() {
  const calls = useCalls();
  const status = useCallStatus();
  const mine = calls.state.mine;
  const title = useCallTitle(calls.current, mine?.conversationId);
  if (!mine) return null;
  return (
    <div
      className="call-bar d-flex align-items-center gap-2 px-3 py-1 border-bottom"
      role="region"
      aria-label="Ongoing call"
      data-testid="call-bar"
    >
      <Icon name={mine.video ? "video" : "phone"} />
      <span className="text-truncate fw-semibold">{title}</span>
      <span className="small" data-testid="call-status">
        {status}
      </span>
      <Link to={`/c/${mine.conversationId}`} className="btn btn-sm btn-light ms-auto">
        Return to call
      </Link>
      <CallControls compact />
    </div>
  );
}

/** My call goes on without this tab (it was reloaded): take it up again. */
function RejoinBar({ call }: { call: CallState }) {
  const calls = useCalls();
  const title = useCallTitle(call);
  return (
    <div className="call-bar d-flex align-items-center gap-2 px-3 py-1 border-bottom" role="region" aria-label="Call">
      <Icon name={call.video ? "video" : "phone"} />
      <span className="text-truncate">
        Your call in <span className="fw-semibold">{title}</span> is still going
      </span>
      <Button size="sm" variant="success" className="ms-auto" onClick={() => void calls.accept(call, call.video)}>
        Rejoin
      </Button>
    </div>
  );
}

/** "Bob is busy", "Bob declined", a call the server refused. */
export function CallNotice() {
  const calls = useCalls();
  if (!calls.notice) return null;
  return (
    <div className="call-notice position-fixed start-50 translate-middle-x" role="status" data-testid="call-notice">
      <div className="call-notice-body d-flex align-items-center gap-2 py-2 px-3 shadow" data-bs-theme="dark">
        <span>{calls.notice.text}</span>
        <button
          type="button"
          className="btn-close btn-close-white"
          aria-label="Dismiss"
          onClick={calls.dismissNotice}
        />
      </div>
    </div>
  );
}

/** Above the chat: the call bar while another conversation (or none) is open, the ringing dialog, notices. */
export function CallBarSlot({ openConversationId }: { openConversationId: string | undefined }) {
  const calls = useOptionalCalls();
  if (!calls) return null;
  const mine = calls.state.mine;
  return (
    <>
      {mine && mine.conversationId !== openConversationId ? <CallBar /> : null}
      {!mine && calls.rejoinable ? <RejoinBar call={calls.rejoinable} /> : null}
      <IncomingCallDialog />
      <CallNotice />
    </>
  );
}

/** Above the open conversation: its call's stage. */
export function CallStageSlot({ openConversationId }: { openConversationId: string | undefined }) {
  const calls = useOptionalCalls();
  if (!calls?.state.mine || calls.state.mine.conversationId !== openConversationId) return null;
  return <CallStage />;
}
