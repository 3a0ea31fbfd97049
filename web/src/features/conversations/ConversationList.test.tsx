import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { describe, expect, it } from "vitest";
import type { Conversation } from "../../api/types";
import { ALICE, CONV, ME, message, user } from "../../test/factories";
import { AuthProvider } from "../auth/AuthProvider";
import { ConversationList } from "./ConversationList";
import { keys } from "./keys";

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
    unread_mentions: 0,
    last_read_seq: 0,
    last_message: null,
    muted: false,
    muted_until: null,
    request: false,
    ...over,
  };
}

function renderList(list: Conversation[]) {
  const qc = new QueryClient({ defaultOptions: { queries: { staleTime: Infinity, retry: false } } });
  qc.setQueryData(keys.conversations, list);
  qc.setQueryData(keys.me, user(ME, "Me"));
  const router = createMemoryRouter([{ path: "/", element: <ConversationList /> }]);
  return render(
    <QueryClientProvider client={qc}>
      <AuthProvider>
        <RouterProvider router={router} />
      </AuthProvider>
    </QueryClientProvider>,
  );
}

describe("ConversationList", () => {
  it("lists the most recent first, with previews, unread badges and online dots", () => {
    renderList([
      conv({
        id: "old",
        kind: "group",
        title: "Book club",
        members_count: 5,
        last_message: message(1, { body: "see you", created_at: "2026-01-01T10:00:00Z" }),
      }),
      conv({
        id: "new",
        other_user: { ...user(ALICE, "Alice"), online: true },
        unread_count: 3,
        last_message: message(7, { sender_id: ME, body: "on my way", created_at: "2026-01-03T10:00:00Z" }),
      }),
    ]);
    const items = screen.getAllByTestId("conversation-item");
    expect(items.map((i) => i.getAttribute("href"))).toEqual(["/c/new", "/c/old"]);
    expect(items[0]).toHaveAccessibleName(/^Alice, online.*You: on my way\s*3\s*unread$/);
    expect(within(items[0] as HTMLElement).getByTestId("conversation-preview")).toHaveTextContent("You: on my way");
    expect(within(items[0] as HTMLElement).getByTestId("unread-badge")).toHaveTextContent("3 unread");
    expect(within(items[0] as HTMLElement).getByTestId("online-dot")).toBeInTheDocument();
    expect(within(items[1] as HTMLElement).queryByTestId("online-dot")).not.toBeInTheDocument();
    expect(within(items[1] as HTMLElement).getByTestId("conversation-preview")).toHaveTextContent("see you");
  });

  it("shows an @ badge where someone mentioned me in what I have not read", () => {
    renderList([
      conv({ id: "quiet", title: "Quiet", kind: "group", unread_count: 2 }),
      conv({ id: "loud", title: "Loud", kind: "group", unread_count: 4, unread_mentions: 2 }),
    ]);
    const items = screen.getAllByTestId("conversation-item");
    const loud = items.find((i) => i.textContent?.includes("Loud"));
    const quiet = items.find((i) => i.textContent?.includes("Quiet"));
    expect(within(loud!).getByTestId("mention-badge")).toHaveTextContent("@ 2 unread mentions");
    expect(loud).toHaveAccessibleName(/2 unread mentions/);
    expect(within(quiet!).queryByTestId("mention-badge")).not.toBeInTheDocument();
  });

  it("marks a muted conversation, its unread count in grey", () => {
    renderList([
      conv({ id: "muted", title: "Muted", kind: "group", unread_count: 5, muted: true, muted_until: null }),
      conv({ id: "open", title: "Open", kind: "group", unread_count: 1 }),
    ]);
    const items = screen.getAllByTestId("conversation-item");
    const muted = items.find((i) => i.textContent?.includes("Muted"));
    const open = items.find((i) => i.textContent?.includes("Open"));
    expect(within(muted!).getByTestId("muted-icon")).toBeInTheDocument();
    expect(muted).toHaveAccessibleName(/muted/);
    expect(within(muted!).getByTestId("unread-badge")).toHaveClass("bg-secondary");
    expect(within(open!).queryByTestId("muted-icon")).not.toBeInTheDocument();
    expect(within(open!).getByTestId("unread-badge")).toHaveClass("bg-primary");
  });

  it("says how to start when there is nothing yet", () => {
    renderList([]);
    expect(screen.getByText(/No conversations yet/)).toBeInTheDocument();
  });
});
