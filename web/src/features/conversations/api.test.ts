import { describe, expect, it } from "vitest";
import type { Conversation } from "../../api/types";
import { CONV, message } from "../../test/factories";
import { isMuted, mergeFetchedConversations } from "./api";

function conv(over: Partial<Conversation>): Conversation {
  return {
    id: CONV,
    kind: "direct",
    title: null,
    created_at: "2026-01-01T00:00:00Z",
    last_activity_at: "2026-01-01T00:00:00Z",
    other_user: null,
    former: null,
    last_seq: 1,
    members_count: 2,
    my_role: "member",
    unread_count: 0,
    muted: false,
    muted_until: null,
    request: false,
    unread_mentions: 0,
    last_read_seq: 0,
    last_message: message(1),
    ...over,
  };
}

describe("a fetched conversation list against what arrived meanwhile", () => {
  it("keeps a message that arrived on the socket after the server's snapshot, and its count", () => {
    const live = [conv({ last_seq: 3, last_message: message(3), unread_count: 2 })];
    const fetched = [conv({ last_seq: 2, last_message: message(2), unread_count: 1, title: "fresh" })];
    expect(mergeFetchedConversations(live, fetched)[0]).toMatchObject({
      last_seq: 3,
      unread_count: 2,
      title: "fresh",
      last_message: { seq: 3 },
    });
  });

  it("keeps a read made after the snapshot", () => {
    const live = [conv({ last_seq: 3, last_message: message(3), last_read_seq: 3, unread_count: 0 })];
    const fetched = [conv({ last_seq: 3, last_message: message(3), last_read_seq: 1, unread_count: 2 })];
    expect(mergeFetchedConversations(live, fetched)[0]).toMatchObject({ last_read_seq: 3, unread_count: 0 });
  });

  it("takes the fetched copy when it knows more", () => {
    const live = [conv({ last_seq: 2, last_message: message(2), unread_count: 1 })];
    const fetched = [conv({ last_seq: 4, last_message: message(4), unread_count: 3 })];
    expect(mergeFetchedConversations(live, fetched)).toEqual(fetched);
    expect(mergeFetchedConversations(undefined, fetched)).toBe(fetched);
  });
});

describe("whether a conversation is muted now", () => {
  const NOW = Date.parse("2026-11-29T12:00:00Z");
  it("follows the mute's end, and 'until unmuted' has none", () => {
    expect(isMuted({ muted: false, muted_until: null }, NOW)).toBe(false);
    expect(isMuted({ muted: true, muted_until: null }, NOW)).toBe(true);
    expect(isMuted({ muted: true, muted_until: "2026-11-29T13:00:00Z" }, NOW)).toBe(true);
    // Muted for an hour, read back later: over by itself.
    expect(isMuted({ muted: true, muted_until: "2026-11-29T11:59:00Z" }, NOW)).toBe(false);
  });
});
