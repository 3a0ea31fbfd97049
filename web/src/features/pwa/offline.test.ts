import "fake-indexeddb/auto";
import { QueryClient } from "@tanstack/react-query";
import { ME, ALICE, message, user } from "../../test/factories";
import type { Conversation } from "../../api/types";
import { keys } from "../conversations/keys";
import {
  forgetOffline,
  isUnreachable,
  offlineConversations,
  offlineMe,
  persistForOffline,
  SAVE_DELAY_MS,
} from "./offline";

function conversation(id: string, body: string): Conversation {
  return {
    id,
    kind: "direct",
    title: null,
    created_at: "2026-01-01T00:00:00Z",
    former: null,
    last_activity_at: null,
    last_message: message(1, { conversation_id: id, body }),
    last_read_seq: 1,
    last_seq: 1,
    members_count: 2,
    muted: false,
    muted_until: null,
    my_role: "member",
    other_user: user(ALICE, "Alice"),
    request: false,
    unread_count: 0,
    unread_mentions: 0,
  };
}

afterEach(async () => {
  vi.useRealTimers();
  await forgetOffline();
});

describe("the conversation list kept for offline starts", () => {
  it("follows the cache and comes back for the same user", async () => {
    const qc = new QueryClient();
    qc.setQueryData(keys.conversations, [conversation("c1", "first")]);
    const stop = persistForOffline(qc, user(ME, "Me"));
    qc.setQueryData(keys.conversations, [conversation("c1", "second"), conversation("c2", "other")]);
    await new Promise((r) => setTimeout(r, SAVE_DELAY_MS + 100));
    const saved = await offlineConversations(ME);
    expect(saved?.map((c) => c.last_message?.body)).toEqual(["second", "other"]);
    expect((await offlineMe())?.id).toBe(ME);
    stop();
  });

  it("is never shown to another user", async () => {
    const qc = new QueryClient();
    qc.setQueryData(keys.conversations, [conversation("c1", "private")]);
    persistForOffline(qc, user(ME, "Me"))();
    await new Promise((r) => setTimeout(r, 50));
    expect(await offlineConversations(ALICE)).toBeUndefined();
    expect(await offlineConversations(ME)).toHaveLength(1);
  });

  it("is gone after sign-out", async () => {
    const qc = new QueryClient();
    qc.setQueryData(keys.conversations, [conversation("c1", "private")]);
    persistForOffline(qc, user(ME, "Me"))();
    await new Promise((r) => setTimeout(r, 50));
    await forgetOffline();
    expect(await offlineConversations(ME)).toBeUndefined();
    expect(await offlineMe()).toBeUndefined();
  });

  it("only an unreachable server counts as offline, not an error answer", () => {
    expect(isUnreachable({ code: "network", status: 0 })).toBe(true);
    expect(isUnreachable({ code: "internal_error", status: 500 })).toBe(false);
    expect(isUnreachable(new TypeError("x"))).toBe(false);
  });
});
