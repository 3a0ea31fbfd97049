/**
 * Voice and video calls in this tab: the state machine (machine.ts) fed by the socket's
 * call frames and `call.ended` events, the local camera/microphone/screen, and one
 * PeerLink per other participant. Components read it with `useCalls()`.
 *
 * The remote sound plays from <audio> elements rendered here, so a call keeps sounding
 * while its conversation is not on screen; the videos (CallPanel) are muted copies.
 */
import { useQueryClient, type QueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { api, unwrap } from "../../api/client";
import type { Conversation, Member, User } from "../../api/types";
import { getSocket } from "../../realtime/connection";
import { keys } from "../conversations/keys";
import {
  callsReducer,
  incomingCall,
  initialCalls,
  joinableCall,
  myCall,
  rejoinableCall,
  type CallsAction,
  type CallsState,
  type Notice,
} from "./machine";
import { isPolite, PeerLink, type TrackKind } from "./peer";
import { startRingtone } from "./ringtone";
import { isCallFrame, type CallClientFrame, type CallState } from "./types";

export interface LocalMedia {
  audio: boolean;
  video: boolean;
  screen: boolean;
}

export interface CallsValue {
  state: CallsState;
  incoming: CallState | null;
  current: CallState | null;
  media: LocalMedia;
  /** My camera (or screen) and microphone, for the self view. */
  localStream: MediaStream | null;
  /** The others' streams, by user id. */
  remoteStreams: Record<string, MediaStream>;
  notice: Notice | null;
  start: (conversationId: string, video: boolean) => Promise<void>;
  accept: (call: CallState, video: boolean) => Promise<void>;
  decline: (call: CallState) => void;
  hangup: () => void;
  toggleAudio: () => void;
  toggleVideo: () => Promise<void>;
  toggleScreen: () => Promise<void>;
  switchDevice: (kind: "audioinput" | "videoinput", deviceId: string) => Promise<void>;
  joinable: (conversationId: string) => CallState | null;
  /** A call of mine whose socket is gone (a reload): "Rejoin". */
  rejoinable: CallState | null;
  dismissNotice: () => void;
  nameOf: (userId: string) => string;
}

/** Exported for tests, which provide a fake; the app uses CallProvider. */
export const CallsContext = createContext<CallsValue | null>(null);

export function useCalls(): CallsValue {
  const value = useContext(CallsContext);
  if (!value) throw new Error("useCalls outside CallProvider");
  return value;
}

/** Calls for components that may render without the provider (tests of other features). */
export function useOptionalCalls(): CallsValue | null {
  return useContext(CallsContext);
}

function send(frame: CallClientFrame): boolean {
  return getSocket().send(frame);
}

async function iceServers(): Promise<RTCIceServer[]> {
  try {
    const answer = await unwrap(api.GET("/api/v1/calls/ice-servers"));
    return answer.ice_servers.map((s) => ({
      urls: s.urls,
      ...(s.username ? { username: s.username } : {}),
      ...(s.credential ? { credential: s.credential } : {}),
    }));
  } catch {
    // Without STUN/TURN, peers on one network still connect (host candidates).
    return [];
  }
}

/** A person's display name from what the cache knows (members, the conversation list). */
export function cachedName(qc: QueryClient, userId: string): string {
  for (const [, members] of qc.getQueriesData<Member[]>({ queryKey: ["members"] })) {
    const m = members?.find((x) => x.user.id === userId);
    if (m) return m.user.display_name;
  }
  const peer = qc.getQueryData<Conversation[]>(keys.conversations)?.find((c) => c.other_user?.id === userId);
  if (peer?.other_user) return peer.other_user.display_name;
  return qc.getQueryData<User>(keys.user(userId))?.display_name ?? "Someone";
}

const NO_MEDIA: LocalMedia = { audio: false, video: false, screen: false };

export function CallProvider({ meId, children }: { meId: string; children: ReactNode }) {
  const qc = useQueryClient();
  const [state, setState] = useState(() => initialCalls(meId));
  // The state reduced at once, not at the next render: two frames can arrive before React
  // renders, and the second must see what the first did.
  const stateRef = useRef(state);
  const dispatch = useCallback((action: CallsAction) => {
    stateRef.current = callsReducer(stateRef.current, action);
    setState(stateRef.current);
  }, []);
  /** The state now (after an await: not what it was when the callback started). */
  const latest = useCallback(() => stateRef.current, []);
  const [media, setMedia] = useState<LocalMedia>(NO_MEDIA);
  const mediaRef = useRef(media);
  mediaRef.current = media;
  const [localStream, setLocalStream] = useState<MediaStream | null>(null);
  const [remoteStreams, setRemoteStreams] = useState<Record<string, MediaStream>>({});
  const tracks = useRef<{
    audio: MediaStreamTrack | null;
    camera: MediaStreamTrack | null;
    screen: MediaStreamTrack | null;
  }>({ audio: null, camera: null, screen: null });
  const peers = useRef(new Map<string, PeerLink>());
  const ice = useRef<RTCIceServer[]>([]);
  const nameOf = useCallback((userId: string) => cachedName(qc, userId), [qc]);

  const localTrack = useCallback((kind: TrackKind): MediaStreamTrack | null => {
    const t = tracks.current;
    return kind === "audio" ? t.audio : (t.screen ?? t.camera);
  }, []);

  const refreshLocalStream = useCallback(() => {
    const list = [localTrack("video"), tracks.current.audio].filter((t): t is MediaStreamTrack => t !== null);
    setLocalStream(list.length ? new MediaStream(list) : null);
  }, [localTrack]);

  const announce = useCallback((callId: string, next: LocalMedia) => {
    send({ type: "call.media", call_id: callId, ...next });
  }, []);

  const closePeer = useCallback((userId: string) => {
    const link = peers.current.get(userId);
    if (!link) return;
    link.close();
    peers.current.delete(userId);
    setRemoteStreams(({ [userId]: _gone, ...rest }) => rest);
  }, []);

  const openPeer = useCallback(
    (callId: string, userId: string, connectionId: string | null): PeerLink => {
      closePeer(userId);
      const link = new PeerLink({
        remoteUserId: userId,
        remoteConnectionId: connectionId,
        polite: isPolite(meId, userId),
        iceServers: ice.current,
        localTrack,
        send: (data) => send({ type: "call.signal", call_id: callId, to_user_id: userId, data }),
        onStream: (stream) => setRemoteStreams((all) => ({ ...all, [userId]: stream })),
        onConnected: (connected) => dispatch({ type: "peer", userId, connected }),
      });
      peers.current.set(userId, link);
      setRemoteStreams((all) => ({ ...all, [userId]: link.stream }));
      return link;
    },
    [closePeer, localTrack, meId],
  );

  const stopLocal = useCallback(() => {
    const t = tracks.current;
    for (const track of [t.audio, t.camera, t.screen]) track?.stop();
    tracks.current = { audio: null, camera: null, screen: null };
    setLocalStream(null);
    setMedia(NO_MEDIA);
  }, []);

  const teardown = useCallback(() => {
    for (const userId of [...peers.current.keys()]) closePeer(userId);
    stopLocal();
  }, [closePeer, stopLocal]);

  /** Camera and microphone for a call; a missing camera leaves a voice call. */
  const acquire = useCallback(
    async (video: boolean): Promise<boolean> => {
      const devices = navigator.mediaDevices;
      if (!devices?.getUserMedia) return false;
      let stream: MediaStream | null = null;
      try {
        stream = await devices.getUserMedia({ audio: true, video });
      } catch {
        if (video) stream = await devices.getUserMedia({ audio: true }).catch(() => null);
      }
      if (!stream) return false;
      tracks.current = {
        audio: stream.getAudioTracks()[0] ?? null,
        camera: stream.getVideoTracks()[0] ?? null,
        screen: null,
      };
      setMedia({ audio: tracks.current.audio !== null, video: tracks.current.camera !== null, screen: false });
      refreshLocalStream();
      return true;
    },
    [refreshLocalStream],
  );

  // --- frames from the socket ---------------------------------------------------------------
  useEffect(() => {
    const socket = getSocket();
    const loadActive = () =>
      void unwrap(api.GET("/api/v1/calls/active")).then(
        (calls) => dispatch({ type: "snapshot", calls }),
        () => undefined,
      );
    // Mounted after the socket got ready (sign-in): its session is this tab's connection.
    if (socket.sessionId) {
      dispatch({ type: "ready", connectionId: socket.sessionId });
      loadActive();
    }
    return socket.subscribe((frame) => {
      const s = stateRef.current;
      if (frame.type === "ready") {
        const rejoin = s.mine?.callId;
        dispatch({ type: "ready", connectionId: frame.session_id });
        loadActive();
        // A new socket is a new connection: take the call up again from it.
        if (rejoin) {
          for (const userId of [...peers.current.keys()]) closePeer(userId);
          send({ type: "call.accept", call_id: rejoin, video: mediaRef.current.video });
        }
        return;
      }
      if (frame.type === "error") {
        dispatch({ type: "error", code: frame.code, detail: frame.detail });
        return;
      }
      if (frame.type === "call.ended") {
        if ("call" in frame && frame.call)
          dispatch({ type: "ended", conversationId: frame.conversation_id, call: frame.call });
        return;
      }
      if (!isCallFrame(frame)) return;
      const f = frame;
      dispatch({ type: "frame", frame: f, nameOf });
      const mine = s.mine?.callId ?? null;
      switch (f.type) {
        case "call.ringing":
          // Hung up before the server's answer came: that call is not wanted.
          if (!s.mine && f.call.participants.some((p) => p.user_id === meId && p.connection_id === s.connectionId))
            send({ type: "call.hangup", call_id: f.call.id });
          return;
        case "call.accept":
          if (f.user_id === meId && f.connection_id === s.connectionId) {
            // I joined from this socket: offer to everyone already in the call.
            for (const p of f.call.participants) {
              if (p.user_id === meId || p.connected === false) continue;
              openPeer(f.call.id, p.user_id, p.connection_id).start();
            }
            announce(f.call.id, mediaRef.current);
          } else if (f.call_id === mine && f.user_id !== meId) {
            // Someone joined (or came back from a new socket): their offer follows.
            const link = peers.current.get(f.user_id);
            if (link && link.remoteConnectionId !== f.connection_id) closePeer(f.user_id);
            announce(f.call_id, mediaRef.current);
          }
          return;
        case "call.hangup":
          if (f.call_id === mine && f.user_id !== meId) closePeer(f.user_id);
          return;
        case "call.signal": {
          if (f.call_id !== mine) return;
          let link = peers.current.get(f.from_user_id);
          if (f.data.kind === "offer" && (!link || link.remoteConnectionId !== f.from_connection_id)) {
            link = openPeer(f.call_id, f.from_user_id, f.from_connection_id);
          }
          void link?.receive(f.data);
          return;
        }
        default:
          return;
      }
    });
  }, [meId, nameOf, openPeer, closePeer, announce]);

  // The call is over for this tab (ended, left, taken over by another device): release everything.
  const inCall = state.mine !== null;
  useEffect(() => {
    if (!inCall) teardown();
  }, [inCall, teardown]);
  useEffect(() => () => teardown(), [teardown]);

  // Ring while a call rings me here.
  const incoming = incomingCall(state);
  const ringingId = incoming?.id ?? null;
  useEffect(() => {
    if (!ringingId) return;
    return startRingtone();
  }, [ringingId]);
  // The server stops the ringing at ring_until; should its word not come (a lost socket), stop anyway.
  const ringUntil = incoming?.ring_until;
  useEffect(() => {
    if (!ringingId || !ringUntil) return;
    const timer = setTimeout(
      () => dispatch({ type: "decline", callId: ringingId }),
      Math.max(0, Date.parse(ringUntil) - Date.now()) + 2000,
    );
    return () => clearTimeout(timer);
  }, [ringingId, ringUntil]);

  // --- what the user does ---------------------------------------------------------------------
  const start = useCallback(
    async (conversationId: string, video: boolean) => {
      if (stateRef.current.mine) return;
      dispatch({ type: "start", conversationId, video });
      const [ok, servers] = await Promise.all([acquire(video), iceServers()]);
      ice.current = servers;
      if (!latest().mine) {
        stopLocal(); // cancelled or refused meanwhile
        return;
      }
      if (!ok) {
        dispatch({ type: "leave" });
        dispatch({
          type: "notice",
          notice: { kind: "error", text: "No microphone could be used: check the browser's permission." },
        });
        return;
      }
      send({ type: "call.invite", conversation_id: conversationId, video });
    },
    [acquire, stopLocal, latest],
  );

  const accept = useCallback(
    async (call: CallState, video: boolean) => {
      if (stateRef.current.mine) return;
      dispatch({ type: "accept", callId: call.id, video });
      const [ok, servers] = await Promise.all([acquire(video), iceServers()]);
      ice.current = servers;
      if (latest().mine?.callId !== call.id) {
        stopLocal(); // the call ended, or another device took it, meanwhile
        return;
      }
      if (!ok) {
        // No microphone (or not allowed): answer anyway, listening and watching.
        setMedia(NO_MEDIA);
      }
      send({ type: "call.accept", call_id: call.id, video: video && tracks.current.camera !== null });
    },
    [acquire, stopLocal, latest],
  );

  const decline = useCallback((call: CallState) => {
    dispatch({ type: "decline", callId: call.id });
    send({ type: "call.decline", call_id: call.id });
  }, []);

  const hangup = useCallback(() => {
    const id = stateRef.current.mine?.callId;
    if (id) send({ type: "call.hangup", call_id: id });
    dispatch({ type: "leave" });
  }, []);

  const update = useCallback(
    (next: LocalMedia) => {
      setMedia(next);
      const id = stateRef.current.mine?.callId;
      if (id) announce(id, next);
    },
    [announce],
  );

  const toggleAudio = useCallback(() => {
    const track = tracks.current.audio;
    if (!track) return;
    track.enabled = !track.enabled;
    update({ ...mediaRef.current, audio: track.enabled });
  }, [update]);

  const sendVideo = useCallback(async () => {
    const track = localTrack("video");
    await Promise.all([...peers.current.values()].map((link) => link.replaceTrack("video", track)));
    refreshLocalStream();
  }, [localTrack, refreshLocalStream]);

  const toggleVideo = useCallback(async () => {
    const t = tracks.current;
    if (t.camera) {
      // Off means off: the camera is released (its light goes out), not just blacked out.
      t.camera.stop();
      t.camera = null;
    } else {
      const stream = await navigator.mediaDevices?.getUserMedia({ video: true }).catch(() => null);
      t.camera = stream?.getVideoTracks()[0] ?? null;
      if (!t.camera) return;
    }
    await sendVideo();
    update({ ...mediaRef.current, video: t.camera !== null });
  }, [sendVideo, update]);

  const toggleScreen = useCallback(async () => {
    const t = tracks.current;
    if (t.screen) {
      t.screen.onended = null;
      t.screen.stop();
      t.screen = null;
    } else {
      const stream = await navigator.mediaDevices?.getDisplayMedia?.({ video: true, audio: false }).catch(() => null);
      const track = stream?.getVideoTracks()[0] ?? null;
      if (!track) return;
      t.screen = track;
      // Stopped from the browser's own "Stop sharing" bar.
      track.onended = () => {
        if (tracks.current.screen !== track) return;
        tracks.current.screen = null;
        void sendVideo().then(() => update({ ...mediaRef.current, screen: false }));
      };
    }
    await sendVideo();
    update({ ...mediaRef.current, screen: t.screen !== null });
  }, [sendVideo, update]);

  const switchDevice = useCallback(
    async (kind: "audioinput" | "videoinput", deviceId: string) => {
      const constraints = { deviceId: { exact: deviceId } };
      const stream = await navigator.mediaDevices
        ?.getUserMedia(kind === "audioinput" ? { audio: constraints } : { video: constraints })
        .catch(() => null);
      const track = (kind === "audioinput" ? stream?.getAudioTracks() : stream?.getVideoTracks())?.[0];
      if (!track) return;
      const t = tracks.current;
      if (kind === "audioinput") {
        track.enabled = t.audio?.enabled ?? true;
        t.audio?.stop();
        t.audio = track;
        await Promise.all([...peers.current.values()].map((link) => link.replaceTrack("audio", track)));
        refreshLocalStream();
      } else {
        t.camera?.stop();
        t.camera = track;
        await sendVideo();
        update({ ...mediaRef.current, video: true });
      }
    },
    [refreshLocalStream, sendVideo, update],
  );

  const joinable = useCallback((conversationId: string) => joinableCall(stateRef.current, conversationId), []);
  const dismissNotice = useCallback(() => dispatch({ type: "dismiss-notice" }), []);

  // A notice fades after a while.
  const notice = state.notice;
  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => dispatch({ type: "dismiss-notice" }), 6000);
    return () => clearTimeout(timer);
  }, [notice]);

  const current = myCall(state);
  const rejoinable = rejoinableCall(state);
  const value = useMemo<CallsValue>(
    () => ({
      state,
      incoming,
      current,
      media,
      localStream,
      remoteStreams,
      notice,
      start,
      accept,
      decline,
      hangup,
      toggleAudio,
      toggleVideo,
      toggleScreen,
      switchDevice,
      joinable,
      rejoinable,
      dismissNotice,
      nameOf,
    }),
    [
      state,
      incoming,
      current,
      media,
      localStream,
      remoteStreams,
      notice,
      start,
      accept,
      decline,
      hangup,
      toggleAudio,
      toggleVideo,
      toggleScreen,
      switchDevice,
      joinable,
      rejoinable,
      dismissNotice,
      nameOf,
    ],
  );
  return (
    <CallsContext.Provider value={value}>
      {children}
      {Object.entries(remoteStreams).map(([userId, stream]) => (
        <RemoteAudio key={userId} userId={userId} stream={stream} />
      ))}
    </CallsContext.Provider>
  );
}

function RemoteAudio({ userId, stream }: { userId: string; stream: MediaStream }) {
  const ref = useRef<HTMLAudioElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.srcObject = stream;
    void el.play().catch(() => undefined);
  }, [stream]);
  return <audio ref={ref} autoPlay hidden data-testid="remote-audio" data-user-id={userId} />;
}
