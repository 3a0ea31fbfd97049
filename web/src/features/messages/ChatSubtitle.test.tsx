import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Conversation } from "../../api/types";
import { RealtimeContext, type RealtimeValue } from "../../realtime/context";
import type { ConnectionState } from "../../realtime/socket";
import { ALICE, CONV, ME, member, user } from "../../test/factories";
import { ChatSubtitle } from "./ChatSubtitle";

const BOB = "u0000000-0000-4000-8000-00000000000c";

function conversation(kind: "direct" | "group"): Conversation {
  return {
    id: CONV,
    kind,
    title: kind === "group" ? "Hikers" : null,
    created_at: "2026-01-01T00:00:00Z",
    last_activity_at: "2026-01-01T00:00:00Z",
    other_user: null,
    last_seq: 0,
    members_count: 3,
    my_role: "member",
    unread_count: 0,
    muted: false,
    muted_until: null,
    request: false,
    unread_mentions: 0,
    last_read_seq: 0,
    last_message: null,
    former: null,
  };
}

function realtime(state: ConnectionState): RealtimeValue {
  return {
    state,
    send: () => false,
    retryNow: () => undefined,
    setActiveConversation: () => undefined,
    lastError: null,
  };
}

describe("ChatSubtitle", () => {
  it("lists who is in a group, then the count", () => {
    const members = [
      member(ME),
      { ...member(BOB), user: user(BOB, "Bob") },
      { ...member(ALICE), user: user(ALICE, "Alice") },
    ];
    render(<ChatSubtitle conversation={conversation("group")} members={members} peer={undefined} meId={ME} />);
    const subtitle = screen.getByTestId("conversation-subtitle");
    expect(subtitle.firstElementChild).toHaveTextContent(/^Alice, Bob, you$/);
    expect(subtitle).toHaveTextContent(/3 members$/);
  });

  it("says the other person's status is unknown while disconnected", () => {
    const peer = { ...user(ALICE, "Alice"), online: true };
    const { rerender } = render(
      <RealtimeContext.Provider value={realtime("ready")}>
        <ChatSubtitle conversation={conversation("direct")} members={[]} peer={peer} meId={ME} />
      </RealtimeContext.Provider>,
    );
    expect(screen.getByTestId("conversation-subtitle")).toHaveTextContent(/^online$/);
    rerender(
      <RealtimeContext.Provider value={realtime("reconnecting")}>
        <ChatSubtitle conversation={conversation("direct")} members={[]} peer={peer} meId={ME} />
      </RealtimeContext.Provider>,
    );
    expect(screen.getByTestId("conversation-subtitle")).toHaveTextContent(/^status unknown$/);
  });
});
