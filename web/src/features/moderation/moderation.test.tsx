import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import { ALICE, CONV, ME, member, message } from "../../test/factories";
import { MessageList } from "../messages/MessageList";
import { emptyTimeline, loadLatest } from "../messages/timeline";
import { ReportDialog } from "./ReportDialog";

function wrap(ui: ReactNode) {
  const qc = new QueryClient();
  return render(<QueryClientProvider client={qc}>{ui}</QueryClientProvider>);
}

const noop = () => undefined;
const members = [member(ME), member(ALICE)];
const media = {
  id: "f1",
  filename: "slides.png",
  content_type: "image/png",
  size: 10,
  width: 10,
  height: 10,
  url: "/api/v1/media/f1?sig=x",
  thumbnail_url: "/api/v1/media/f1/thumbnail?sig=x",
  created_at: null,
};

function list(extra: Partial<Parameters<typeof MessageList>[0]>, page = [message(1, { body: "hi from alice" })]) {
  return wrap(
    <MessageList
      timeline={loadLatest(emptyTimeline(CONV), page, 50)}
      members={members}
      meId={ME}
      kind="group"
      canModerate={false}
      readSeq={1}
      onRead={noop}
      onReply={noop}
      onEdit={noop}
      onDelete={noop}
      {...extra}
    />,
  );
}

describe("blocked people in a group", () => {
  it("collapses their messages until shown", async () => {
    list({ blocked: new Set([ALICE]) });
    expect(screen.queryByText("hi from alice")).toBeNull();
    const row = screen.getByTestId("message");
    expect(row).toHaveAttribute("data-blocked", "true");
    expect(row).toHaveTextContent("Blocked user");
    await userEvent.click(within(row).getByRole("button", { name: "show" }));
    expect(screen.getByText("hi from alice")).toBeInTheDocument();
  });

  it("leaves others' messages alone", () => {
    list({ blocked: new Set(["someone-else"]) });
    expect(screen.getByText("hi from alice")).toBeInTheDocument();
  });
});

describe("a message request", () => {
  const page = [message(1, { body: "see https://slides.example/talk", attachments: [media] })];

  it("hides attachments and shows links as plain text until accepted", () => {
    list({ request: true, kind: "direct" }, page);
    const row = screen.getByTestId("message");
    expect(within(row).getByTestId("attachment-withheld")).toHaveTextContent("hidden until you accept");
    expect(within(row).queryByRole("img")).toBeNull();
    expect(within(row).queryByRole("link")).toBeNull();
    expect(row).toHaveTextContent("see https://slides.example/talk");
  });

  it("shows them once it is a normal chat", () => {
    list({ request: false, kind: "direct" }, page);
    const row = screen.getByTestId("message");
    expect(within(row).queryByTestId("attachment-withheld")).toBeNull();
    expect(within(row).getByRole("link", { name: /slides\.example/ })).toHaveAttribute(
      "href",
      "https://slides.example/talk",
    );
  });
});

describe("ReportDialog", () => {
  afterEach(() => vi.restoreAllMocks());

  it("sends the reason and confirms", async () => {
    const sent: unknown[] = [];
    vi.spyOn(api, "POST").mockImplementation((async (path: string, init?: { body?: unknown }) => {
      sent.push([path, init?.body]);
      const data = { id: "r1", created_at: "2026-01-01T00:00:00Z", detail: "Thank you: sent to the moderators." };
      return { data, response: new Response(JSON.stringify(data), { status: 201 }) };
    }) as never);
    wrap(<ReportDialog target={{ messageId: "m-1", label: "message" }} onHide={noop} />);
    await userEvent.click(screen.getByLabelText(/Abuse/));
    await userEvent.type(screen.getByLabelText(/Details/), "threats");
    await userEvent.click(screen.getByRole("button", { name: "Send report" }));
    expect(await screen.findByTestId("report-confirmation")).toHaveTextContent("sent to the moderators");
    expect(sent).toEqual([["/api/v1/reports", { message_id: "m-1", user_id: null, reason: "abuse", text: "threats" }]]);
  });
});
