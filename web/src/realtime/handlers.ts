/**
 * Socket frames into the one cache. Every server frame type is handled here: timeline
 * events in `handleEvent`, the others in an exhaustive switch, so a new frame type in
 * protocol.gen.ts (generated from the server's /asyncapi.json) fails the type check until
 * it is handled.
 */
import type { QueryClient } from "@tanstack/react-query";
import type { ChatEvent, Conversation, Member, Message, User } from "../api/types";
import { applyConversationSettings, becomeFormer, noteNewsBeforeList } from "../features/conversations/api";
import { keys } from "../features/conversations/keys";
import {
  catchUpIfGap,
  flushOutbox,
  getTimeline,
  markDelivered,
  markFailed,
  noteLastMessage,
  noteOwnRead,
  onAcknowledged,
  updateTimeline,
} from "../features/messages/api";
import { flushChanges } from "../features/messages/changes";
import { applyUserUpdate } from "../features/profile/api";
import { isNewestOnScreen } from "../features/messages/readTracking";
import { applyReceipt } from "../features/messages/receipts";
import { applyEvent, assertNever } from "../features/messages/timeline";
import { isEventFrame, type ServerFrame } from "./protocol";
import type { FrameSource } from "./socket";
import { getSocket } from "./connection";
import { setTyping } from "./typingStore";

/** A new conversation starts at seq 0: follow it from the start so nothing is missed. */
function getSocketTrack(conversationId: string): void {
  getSocket().track(conversationId, 0);
}

export interface FrameContext {
  meId: string | undefined;
  /** The conversation on screen while the page is visible, if any. */
  activeConversation: () => string | null;
  announce: (text: string) => void;
  displayName: (conversationId: string, userId: string) => string | undefined;
  onSocketError: (code: string, detail: string) => void;
  /** A live message from someone else; `onScreen`: its conversation is open in a visible tab. */
  notify?: (message: Message, onScreen: boolean) => void;
}

/**
 * `source` tells live frames from caught-up events: the latter neither count as unread
 * nor get announced, since the conversation list is refetched after every reconnect
 * and already counts them.
 */
export function handleFrame(
  qc: QueryClient,
  frame: ServerFrame,
  ctx: FrameContext,
  source: FrameSource = "live",
): void {
  if (isEventFrame(frame)) {
    handleEvent(qc, frame, ctx, source === "live");
    return;
  }
  switch (frame.type) {
    case "ready":
      qc.setQueryData(keys.me, frame.user);
      // Unread counts and conversations created while away; presence heard nothing
      // meanwhile, nor profile changes (`user.updated` is not replayed): every list of
      // people is fetched again.
      void qc.invalidateQueries({ queryKey: keys.conversations });
      void qc.invalidateQueries({ queryKey: ["members"] });
      void qc.invalidateQueries({ queryKey: ["user"] });
      void qc.invalidateQueries({ queryKey: ["users"] });
      flushOutbox(qc);
      void flushChanges(qc);
      return;
    case "message.ack":
      onAcknowledged(qc, frame.client_id, frame.message);
      return;
    case "typing":
      if (frame.user_id !== ctx.meId) setTyping(frame.conversation_id, frame.user_id, frame.state === "start");
      return;
    case "receipt": {
      qc.setQueryData<Member[]>(keys.members(frame.conversation_id), (members) =>
        members ? applyReceipt(members, frame) : members,
      );
      // My own marker moved (this tab, another tab, another device): so does my unread count.
      const id = frame.conversation_id;
      const c = qc.getQueryData<Conversation[]>(keys.conversations)?.find((x) => x.id === id);
      if (ctx.meId && frame.user_id === ctx.meId) {
        if (c && frame.read_seq > c.last_read_seq) noteOwnRead(qc, id, frame.read_seq, ctx.meId);
        // The first list is still on its way: its answer may predate this read.
        else if (!qc.getQueryData(keys.conversations)) noteNewsBeforeList();
      }
      return;
    }
    case "presence": {
      const patchUser = (u: User): User =>
        u.id === frame.user_id ? { ...u, online: frame.online, last_seen_at: frame.last_seen_at } : u;
      qc.setQueryData<Conversation[]>(keys.conversations, (list) =>
        list?.map((c) => (c.other_user?.id === frame.user_id ? { ...c, other_user: patchUser(c.other_user) } : c)),
      );
      for (const [key, members] of qc.getQueriesData<Member[]>({ queryKey: ["members"] })) {
        if (!members?.some((m) => m.user.id === frame.user_id)) continue;
        qc.setQueryData<Member[]>(
          key,
          members.map((m) =>
            m.user.id === frame.user_id
              ? { ...m, user: { ...m.user, online: frame.online, last_seen_at: frame.last_seen_at } }
              : m,
          ),
        );
      }
      return;
    }
    case "error":
      if (frame.client_id) markFailed(qc, frame.client_id, frame.detail);
      // The calls feature (features/calls) says what its own errors mean.
      else if (!frame.code.startsWith("call_")) ctx.onSocketError(frame.code, frame.detail);
      return;
    case "pong":
    case "auth.renewed":
      return;
    case "settings.updated":
      // Changed on another device (or this one): the cache `GET /users/me/settings` fills.
      qc.setQueryData(keys.settings, frame.settings);
      return;
    case "user.updated":
      // A new name or picture of someone I share a conversation with (or mine, from
      // another device). Not replayed: "ready" refetches the lists that show people.
      applyUserUpdate(qc, frame.user);
      return;
    case "conversation.created":
      getSocketTrack(frame.conversation_id);
      void qc.invalidateQueries({ queryKey: keys.conversations });
      return;
    case "conversation.settings":
      // Muted or unmuted here or on another device of mine: every tab follows at once.
      applyConversationSettings(qc, frame.conversation_id, {
        muted: frame.muted,
        muted_until: frame.muted_until,
      });
      return;
    // Calls (docs/protocol.md "Calls"): the calls feature of the web client takes them.
    case "call.invite":
    case "call.ringing":
    case "call.accept":
    case "call.decline":
    case "call.hangup":
    case "call.busy":
    case "call.signal":
    case "call.media":
      return;
    default:
      assertNever(frame);
  }
}

function handleEvent(qc: QueryClient, event: ChatEvent, ctx: FrameContext, live: boolean): void {
  const id = event.conversation_id;
  if (getTimeline(qc, id)) {
    updateTimeline(qc, id, (tl) => applyEvent(tl, event));
    catchUpIfGap(qc, id);
  }
  qc.setQueryData<Conversation[]>(keys.conversations, (list) =>
    list?.map((c) => (c.id === id ? { ...c, last_seq: Math.max(c.last_seq, event.seq) } : c)),
  );
  switch (event.type) {
    case "message.new": {
      const message = event.message;
      if (!message) return;
      const mine = message.sender_id === ctx.meId;
      const visible = ctx.activeConversation() === id;
      // Unread until it has been on screen (the message list marks it read then): only a
      // message arriving at the bottom of a list showing its newest is not counted.
      noteLastMessage(qc, message, live && !mine && !(visible && isNewestOnScreen(id)));
      if (!mine) {
        if (live) setTyping(id, message.sender_id, false);
        markDelivered(id, event.seq);
        if (live) ctx.notify?.(message, visible);
        if (visible && live) {
          const who = ctx.displayName(id, message.sender_id) ?? "Someone";
          ctx.announce(`${who}: ${message.deleted ? "message deleted" : message.body || "sent an attachment"}`);
        }
      }
      return;
    }
    case "message.edited":
    case "message.deleted":
    case "message.reaction":
    case "message.pinned":
    case "message.unpinned": {
      const message = event.message;
      if (!message) return;
      // A deleted message loses its pin: the pinned bar follows both.
      if (event.type !== "message.edited" && event.type !== "message.reaction") {
        void qc.invalidateQueries({ queryKey: keys.pins(id) });
      }
      qc.setQueryData<Conversation[]>(keys.conversations, (list) =>
        list?.map((c) => (c.id === id && c.last_message?.id === message.id ? { ...c, last_message: message } : c)),
      );
      return;
    }
    case "member.added":
    case "member.removed":
    case "member.role_changed": {
      const userId = event.member?.user_id;
      if (event.type === "member.removed" && userId && userId === ctx.meId) {
        // Removed, or I left: the chat stays, read-only, up to this event.
        becomeFormer(qc, event, ctx.meId);
        getSocket().forget(id);
        return;
      }
      if (event.type === "member.added" && userId === ctx.meId) {
        void qc.invalidateQueries({ queryKey: keys.conversations });
      }
      void qc.invalidateQueries({ queryKey: keys.members(id) });
      void qc.invalidateQueries({ queryKey: keys.conversation(id) });
      const delta = event.type === "member.added" ? 1 : event.type === "member.removed" ? -1 : 0;
      if (delta) {
        qc.setQueryData<Conversation[]>(keys.conversations, (list) =>
          list?.map((c) => (c.id === id ? { ...c, members_count: c.members_count + delta } : c)),
        );
      }
      return;
    }
    case "conversation.updated": {
      const updated = event.conversation;
      if (!updated) {
        void qc.invalidateQueries({ queryKey: keys.conversation(id) });
        return;
      }
      const patch = (c: Conversation): Conversation => ({ ...c, title: updated.title });
      qc.setQueryData<Conversation[]>(keys.conversations, (list) => list?.map((c) => (c.id === id ? patch(c) : c)));
      qc.setQueryData<Conversation>(keys.conversation(id), (c) => (c ? patch(c) : c));
      return;
    }
    case "call.ended":
      return; // a line in the timeline (systemLines.ts)
    default:
      assertNever(event.type);
  }
}
