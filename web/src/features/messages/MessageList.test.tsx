import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactNode } from "react";
import { describe, expect, it, vi } from "vitest";
import { ALICE, CONV, ME, member, message } from "../../test/factories";
import { MessageList } from "./MessageList";
import { addPending, applyEvent, emptyTimeline, loadLatest } from "./timeline";
import { newEvent } from "../../test/factories";

function wrap(ui: ReactNode) {
  const qc = new QueryClient();
  return render(<QueryClientProvider client={qc}>{ui}</QueryClientProvider>);
}

const noop = () => undefined;
const members = [
  { ...member(ME, 2, 3), user: { ...member(ME).user, display_name: "Me" } },
  { ...member(ALICE, 2, 3), user: { ...member(ALICE).user, display_name: "Alice" } },
];

describe("MessageList", () => {
  const page = [
    message(1, { body: "yesterday's news", created_at: "2026-01-01T10:00:00Z" }),
    message(2, { sender_id: ME, body: "mine, read", created_at: "2026-01-02T10:00:00Z" }),
    message(3, { sender_id: ME, body: "mine, delivered", created_at: "2026-01-02T10:01:00Z" }),
    message(4, { body: "", deleted: true, created_at: "2026-01-02T10:02:00Z" }),
  ];
  const tl = addPending(loadLatest(emptyTimeline(CONV), page, 50), {
    client_id: "c1",
    conversation_id: CONV,
    sender_id: ME,
    body: "still sending",
    reply_to_id: null,
    attachment_ids: [],
    attachments: [],
    created_at: "2026-01-02T10:03:00Z",
    status: "queued",
  });

  it("shows day separators, own messages, ticks and deleted messages", () => {
    wrap(
      <MessageList
        timeline={tl}
        members={members}
        meId={ME}
        kind="direct"
        canModerate={false}
        onReply={noop}
        onEdit={noop}
        onDelete={noop}
      />,
    );
    expect(screen.getAllByRole("separator")).toHaveLength(2);
    const rows = screen.getAllByTestId("message");
    expect(rows[1]).toHaveAttribute("data-own", "true");
    expect(within(rows[1] as HTMLElement).getByTestId("message-status")).toHaveAttribute("data-status", "read");
    expect(within(rows[2] as HTMLElement).getByTestId("message-status")).toHaveAttribute("data-status", "delivered");
    expect(rows[3]).toHaveTextContent("message deleted");
    expect(within(rows[4] as HTMLElement).getByTestId("message-status")).toHaveAttribute("data-status", "pending");
    expect(screen.getByText("This is the beginning of the conversation.")).toBeInTheDocument();
  });

  it("offers reply on others' messages and edit on mine, by keyboard", async () => {
    const onReply = vi.fn();
    const onEdit = vi.fn();
    wrap(
      <MessageList
        timeline={tl}
        members={members}
        meId={ME}
        kind="direct"
        canModerate={false}
        onReply={onReply}
        onEdit={onEdit}
        onDelete={noop}
      />,
    );
    const user = userEvent.setup();
    const [first, mine] = screen.getAllByRole("button", { name: /Actions for message/ });
    first?.focus();
    await user.keyboard("{Enter}");
    expect(screen.queryByRole("button", { name: "Edit" })).not.toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Reply" }));
    expect(onReply).toHaveBeenCalledWith(expect.objectContaining({ seq: 1 }));
    await user.click(mine as HTMLElement);
    await user.click(screen.getByRole("button", { name: "Edit" }));
    expect(onEdit).toHaveBeenCalledWith(expect.objectContaining({ seq: 2 }));
  });

  it("offers a way down when a message arrives while reading further up", async () => {
    const base = loadLatest(emptyTimeline(CONV), page, 50);
    const props = {
      members,
      meId: ME,
      kind: "direct" as const,
      canModerate: false,
      onReply: noop,
      onEdit: noop,
      onDelete: noop,
    };
    const qc = new QueryClient();
    const view = render(
      <QueryClientProvider client={qc}>
        <MessageList timeline={base} {...props} />
      </QueryClientProvider>,
    );
    const list = screen.getByTestId("message-list");
    Object.defineProperty(list, "scrollHeight", { configurable: true, value: 2000 });
    Object.defineProperty(list, "clientHeight", { configurable: true, value: 400 });
    list.scrollTop = 500;
    fireEvent.scroll(list);
    view.rerender(
      <QueryClientProvider client={qc}>
        <MessageList timeline={applyEvent(base, newEvent(5, { body: "meanwhile" }))} {...props} />
      </QueryClientProvider>,
    );
    const jump = screen.getByRole("button", { name: "New messages ↓" });
    list.scrollTo = () => undefined;
    await userEvent.click(jump);
    expect(screen.queryByRole("button", { name: "New messages ↓" })).not.toBeInTheDocument();
  });
});
