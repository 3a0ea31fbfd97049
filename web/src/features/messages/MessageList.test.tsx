import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { fireEvent, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactNode } from "react";
import { describe, expect, it, vi } from "vitest";
import { ALICE, CONV, ME, member, message, user } from "../../test/factories";
import { keys } from "../conversations/keys";
import { MessageList } from "./MessageList";
import { addPending, applyEvent, applyEvents, emptyTimeline, loadLatest } from "./timeline";
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
        readSeq={4}
        onRead={noop}
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
        readSeq={4}
        onRead={noop}
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
      readSeq: 4,
      onRead: noop,
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
    const jump = screen.getByRole("button", { name: "1 new message: jump to the newest" });
    expect(within(jump).getByTestId("jump-count")).toHaveTextContent("1");
    list.scrollTo = () => {
      list.scrollTop = 1600;
      fireEvent.scroll(list);
    };
    await userEvent.click(jump);
    expect(screen.queryByTestId("jump-to-newest")).not.toBeInTheDocument();
  });

  it("names the senders of old messages and the people system lines mention after they left", () => {
    const gone = "u0000000-0000-4000-8000-0000000000ff";
    const qc = new QueryClient();
    qc.setQueryData(keys.user(gone), { ...user(gone), display_name: "Bob" });
    const tl = applyEvents(emptyTimeline(CONV), [
      newEvent(1, { sender_id: gone, body: "before leaving" }),
      {
        conversation_id: CONV,
        seq: 2,
        type: "member.removed",
        created_at: "2026-01-01T12:00:02Z",
        actor_id: ALICE,
        member: { user_id: gone, role: null },
      },
    ]);
    render(
      <QueryClientProvider client={qc}>
        <MessageList
          timeline={{ ...tl, hasOlder: false, loaded: true }}
          members={members}
          meId={ME}
          kind="group"
          canModerate={false}
          readSeq={2}
          onRead={noop}
          onReply={noop}
          onEdit={noop}
          onDelete={noop}
        />
      </QueryClientProvider>,
    );
    const row = screen.getByTestId("message");
    expect(within(row).getByTestId("message-sender")).toHaveTextContent("Bob");
    expect(row.querySelector(".avatar")).toHaveTextContent("BO");
    expect(screen.getByTestId("system-line")).toHaveTextContent("Alice removed Bob");
    expect(screen.getByTestId("system-line").querySelector("time")).toHaveAttribute("datetime", "2026-01-01T12:00:02Z");
    expect(screen.queryByText("Unknown")).not.toBeInTheDocument();
  });

  it("opens at the first unread message under an “N new messages” divider", () => {
    const tl = loadLatest(emptyTimeline(CONV), [message(1), message(2), message(3), message(4)], 50);
    wrap(
      <MessageList
        timeline={tl}
        members={members}
        meId={ME}
        kind="direct"
        canModerate={false}
        readSeq={2}
        onRead={noop}
        onReply={noop}
        onEdit={noop}
        onDelete={noop}
      />,
    );
    const divider = screen.getByTestId("new-messages-divider");
    expect(divider).toHaveTextContent("2 new messages");
    const next = divider.nextElementSibling;
    expect(next).toHaveAttribute("data-seq", "3");
  });

  it("a read-only list offers no actions", () => {
    wrap(
      <MessageList
        timeline={tl}
        members={members}
        meId={ME}
        kind="direct"
        canModerate={false}
        readOnly
        readSeq={4}
        onRead={noop}
        onReply={noop}
        onEdit={noop}
        onDelete={noop}
      />,
    );
    expect(screen.queryByRole("button", { name: /Actions for message/ })).not.toBeInTheDocument();
  });
});
