import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it, vi } from "vitest";
import type { Conversation, Member } from "../api/types";
import { loadConversationList } from "../features/conversations/api";
import { keys } from "../features/conversations/keys";
import { setNewestOnScreen } from "../features/messages/readTracking";
import { emptyTimeline, loadLatest, type Timeline } from "../features/messages/timeline";
import { ALICE, CONV, ME, member, message, newEvent } from "../test/factories";
import { handleFrame, type FrameContext } from "./handlers";
import { typingUsers } from "./typingStore";

vi.mock("./connection", () => ({
  getSocket: () => ({ send: () => true, track: () => undefined, forget: () => undefined }),
}));

function conversation(over: Partial<Conversation> = {}): Conversation {
  return {
    id: CONV,
    kind: "direct",
    title: null,
    created_at: "2026-01-01T00:00:00Z",
    last_activity_at: "2026-01-01T00:00:00Z",
    other_user: null,
    former: null,
    last_seq: 2,
    members_count: 2,
    my_role: "member",
    unread_count: 0,
    muted: false,
    muted_until: null,
    unread_mentions: 0,
    last_read_seq: 2,
    last_message: message(2),
    ...over,
  };
}

function setup(active: string | null = null) {
  const qc = new QueryClient();
  qc.setQueryData(keys.conversations, [conversation(), conversation({ id: "other", last_message: null, last_seq: 0 })]);
  const announce = vi.fn();
  const ctx: FrameContext = {
    meId: ME,
    activeConversation: () => active,
    announce,
    displayName: () => "Alice",
    onSocketError: vi.fn(),
  };
  return { qc, ctx, announce };
}

const list = (qc: QueryClient) => qc.getQueryData<Conversation[]>(keys.conversations) ?? [];

describe("socket frames into the cache", () => {
  it("a new message from someone else bumps the preview and the unread count", () => {
    const { qc, ctx } = setup();
    handleFrame(qc, newEvent(3, { body: "new!" }), ctx);
    const c = list(qc).find((x) => x.id === CONV);
    expect(c?.unread_count).toBe(1);
    expect(c?.last_message?.body).toBe("new!");
    expect(c?.last_seq).toBe(3);
  });

  it("a message the list already had (fetched after it was stored) is not counted twice", () => {
    const { qc, ctx } = setup();
    qc.setQueryData(keys.conversations, [conversation({ last_seq: 3, last_message: message(3), unread_count: 1 })]);
    handleFrame(qc, newEvent(3), ctx);
    expect(list(qc)[0]?.unread_count).toBe(1);
  });

  it("a message arriving while the first list is still loading fetches the list again", async () => {
    const { qc, ctx } = setup();
    qc.removeQueries({ queryKey: keys.conversations });
    let calls = 0;
    // The first answer was taken before the message was stored.
    const loading = loadConversationList(qc, async () => {
      calls += 1;
      await new Promise((r) => setTimeout(r, 10));
      return calls === 1 ? [conversation({ last_seq: 2 })] : [conversation({ last_seq: 3, unread_count: 1 })];
    });
    handleFrame(qc, newEvent(3), ctx);
    expect(await loading).toMatchObject([{ last_seq: 3, unread_count: 1 }]);
    expect(calls).toBe(2);
  });

  it("a caught-up message is not counted again: the refetched list already counts it", () => {
    const { qc, ctx } = setup();
    handleFrame(qc, newEvent(3, { body: "while away" }), ctx, "catch-up");
    const c = list(qc).find((x) => x.id === CONV);
    expect(c?.unread_count).toBe(0);
    expect(c?.last_message?.body).toBe("while away");
  });

  it("a message in the open conversation showing its newest is announced, not counted", () => {
    const { qc, ctx, announce } = setup(CONV);
    setNewestOnScreen(CONV, true);
    handleFrame(qc, newEvent(3, { body: "hello there" }), ctx);
    setNewestOnScreen(CONV, false);
    expect(list(qc).find((x) => x.id === CONV)?.unread_count).toBe(0);
    expect(announce).toHaveBeenCalledWith("Alice: hello there");
  });

  it("a message in the open conversation scrolled far up counts as unread until seen", () => {
    const { qc, ctx } = setup(CONV);
    handleFrame(qc, newEvent(3, { body: "while reading old ones" }), ctx);
    expect(list(qc).find((x) => x.id === CONV)?.unread_count).toBe(1);
  });

  it("my read marker moving in another tab clears my unread count here", () => {
    const { qc, ctx } = setup();
    qc.setQueryData(keys.conversations, [
      conversation({ last_seq: 4, unread_count: 2, last_read_seq: 2, last_message: message(4) }),
    ]);
    handleFrame(qc, { type: "receipt", conversation_id: CONV, user_id: ME, read_seq: 4, delivered_seq: 4 }, ctx);
    expect(list(qc)[0]).toMatchObject({ unread_count: 0, last_read_seq: 4 });
  });

  it("a partial read elsewhere recounts from the loaded timeline", () => {
    const { qc, ctx } = setup();
    qc.setQueryData(keys.conversations, [
      conversation({ last_seq: 4, unread_count: 3, last_read_seq: 1, last_message: message(4) }),
    ]);
    qc.setQueryData(
      keys.timeline(CONV),
      loadLatest(emptyTimeline(CONV), [message(1), message(2), message(3), message(4)], 50),
    );
    handleFrame(qc, { type: "receipt", conversation_id: CONV, user_id: ME, read_seq: 2, delivered_seq: 2 }, ctx);
    expect(list(qc)[0]).toMatchObject({ unread_count: 2, last_read_seq: 2 });
  });

  it("someone else's receipt leaves my unread count alone", () => {
    const { qc, ctx } = setup();
    qc.setQueryData(keys.conversations, [conversation({ unread_count: 1, last_read_seq: 1 })]);
    handleFrame(qc, { type: "receipt", conversation_id: CONV, user_id: ALICE, read_seq: 2, delivered_seq: 2 }, ctx);
    expect(list(qc)[0]?.unread_count).toBe(1);
  });

  it("applies events to a loaded timeline", () => {
    const { qc, ctx } = setup();
    qc.setQueryData(keys.timeline(CONV), loadLatest(emptyTimeline(CONV), [message(1), message(2)], 50));
    handleFrame(qc, newEvent(3), ctx);
    handleFrame(qc, newEvent(3), ctx);
    const tl = qc.getQueryData<Timeline>(keys.timeline(CONV));
    expect(tl?.messages.map((m) => m.seq)).toEqual([1, 2, 3]);
  });

  it("acknowledges my pending message by client_id", () => {
    const { qc, ctx } = setup();
    qc.setQueryData<Timeline>(keys.timeline(CONV), {
      ...loadLatest(emptyTimeline(CONV), [message(1), message(2)], 50),
      pending: [
        {
          client_id: "c1",
          conversation_id: CONV,
          sender_id: ME,
          body: "mine",
          reply_to_id: null,
          attachment_ids: [],
          attachments: [],
          created_at: "2026-01-01T12:00:00Z",
          status: "sending",
        },
      ],
    });
    handleFrame(
      qc,
      { type: "message.ack", client_id: "c1", message: message(3, { sender_id: ME, client_id: "c1", body: "mine" }) },
      ctx,
    );
    const tl = qc.getQueryData<Timeline>(keys.timeline(CONV));
    expect(tl?.pending).toEqual([]);
    expect(tl?.messages.at(-1)?.body).toBe("mine");
    expect(list(qc).find((x) => x.id === CONV)?.last_message?.body).toBe("mine");
  });

  it("marks a pending message failed on an error frame with its client_id", () => {
    const { qc, ctx } = setup();
    qc.setQueryData<Timeline>(keys.timeline(CONV), {
      ...emptyTimeline(CONV),
      pending: [
        {
          client_id: "c9",
          conversation_id: CONV,
          sender_id: ME,
          body: "x",
          reply_to_id: null,
          attachment_ids: [],
          attachments: [],
          created_at: "2026-01-01T12:00:00Z",
          status: "sending",
        },
      ],
    });
    handleFrame(qc, { type: "error", code: "validation_error", detail: "Body too long", client_id: "c9" }, ctx);
    expect(qc.getQueryData<Timeline>(keys.timeline(CONV))?.pending[0]).toMatchObject({
      status: "failed",
      error: "Body too long",
    });
  });

  it("moves receipts forward in the members cache", () => {
    const { qc, ctx } = setup();
    qc.setQueryData<Member[]>(keys.members(CONV), [member(ME, 3, 3), member(ALICE, 1, 1)]);
    handleFrame(qc, { type: "receipt", conversation_id: CONV, user_id: ALICE, read_seq: 3, delivered_seq: 3 }, ctx);
    expect(qc.getQueryData<Member[]>(keys.members(CONV))?.[1]).toMatchObject({
      last_read_seq: 3,
      last_delivered_seq: 3,
    });
  });

  it("updates presence in members and in direct conversations", () => {
    const { qc, ctx } = setup();
    qc.setQueryData(keys.conversations, [conversation({ other_user: member(ALICE).user })]);
    qc.setQueryData<Member[]>(keys.members(CONV), [member(ME), member(ALICE)]);
    handleFrame(qc, { type: "presence", user_id: ALICE, online: true, last_seen_at: null }, ctx);
    expect(list(qc)[0]?.other_user?.online).toBe(true);
    expect(qc.getQueryData<Member[]>(keys.members(CONV))?.[1]?.user.online).toBe(true);
  });

  it("tracks who is typing and clears it when their message arrives", () => {
    const { qc, ctx } = setup();
    handleFrame(qc, { type: "typing", conversation_id: CONV, user_id: ALICE, state: "start" }, ctx);
    expect(typingUsers(CONV)).toEqual([ALICE]);
    handleFrame(qc, newEvent(3), ctx);
    expect(typingUsers(CONV)).toEqual([]);
  });

  it("keeps a conversation I was removed from, read-only, with its history and who removed me", () => {
    const { qc, ctx } = setup();
    qc.setQueryData<Member[]>(keys.members(CONV), [member(ME), { ...member(ALICE), role: "owner" }]);
    qc.setQueryData(keys.timeline(CONV), loadLatest(emptyTimeline(CONV), [message(1), message(2)], 50));
    handleFrame(
      qc,
      {
        conversation_id: CONV,
        seq: 3,
        type: "member.removed",
        created_at: "2026-01-01T12:00:03Z",
        actor_id: ALICE,
        member: { user_id: ME, role: "member" },
      },
      ctx,
    );
    expect(list(qc).map((c) => c.id)).toEqual([CONV, "other"]);
    expect(list(qc)[0]?.former).toMatchObject({ left_seq: 3, left_at: "2026-01-01T12:00:03Z" });
    expect(list(qc)[0]?.former?.removed_by?.id).toBe(ALICE);
    const tl = qc.getQueryData<Timeline>(keys.timeline(CONV));
    expect(tl?.messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(tl?.system.map((e) => e.seq)).toEqual([3]);
    expect(qc.getQueryData(keys.members(CONV))).toBeUndefined();
  });

  it("leaving myself: former, removed by nobody", () => {
    const { qc, ctx } = setup();
    handleFrame(
      qc,
      {
        conversation_id: CONV,
        seq: 3,
        type: "member.removed",
        created_at: "2026-01-01T12:00:03Z",
        actor_id: ME,
        member: { user_id: ME, role: "member" },
      },
      ctx,
    );
    expect(list(qc)[0]?.former).toMatchObject({ left_seq: 3, removed_by: null });
  });

  it("renames on conversation.updated", () => {
    const { qc, ctx } = setup();
    handleFrame(
      qc,
      {
        conversation_id: CONV,
        seq: 3,
        type: "conversation.updated",
        created_at: "",
        actor_id: ALICE,
        conversation: { id: CONV, title: "New name" },
      },
      ctx,
    );
    expect(list(qc).find((c) => c.id === CONV)?.title).toBe("New name");
  });

  it("follows a mute made on another device, in the list and the open conversation", () => {
    const { qc, ctx } = setup();
    qc.setQueryData(keys.conversation(CONV), conversation());
    const until = "2026-01-01T08:00:00Z";
    handleFrame(qc, { type: "conversation.settings", conversation_id: CONV, muted: true, muted_until: until }, ctx);
    expect(list(qc).find((c) => c.id === CONV)).toMatchObject({ muted: true, muted_until: until });
    expect(list(qc).find((c) => c.id === "other")?.muted).toBe(false);
    expect(qc.getQueryData<Conversation>(keys.conversation(CONV))?.muted).toBe(true);
    handleFrame(qc, { type: "conversation.settings", conversation_id: CONV, muted: false, muted_until: null }, ctx);
    expect(list(qc).find((c) => c.id === CONV)).toMatchObject({ muted: false, muted_until: null });
  });
});
