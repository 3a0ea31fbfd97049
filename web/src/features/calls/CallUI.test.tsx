import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ReactNode } from "react";
import { describe, expect, it, vi } from "vitest";
import { CallsContext, type CallsValue } from "./CallProvider";
import { IncomingCallDialog } from "./CallUI";
import { initialCalls } from "./machine";
import type { CallState } from "./types";

const ringingCall: CallState = {
  id: "call-1",
  conversation_id: "conv-1",
  started_by: "alice",
  video: true,
  state: "ringing",
  created_at: "2026-01-01T10:00:00Z",
  answered_at: null,
  ring_until: "2026-01-01T10:00:45Z",
  participants: [],
  ringing_user_ids: ["me"],
};

function fakeCalls(over: Partial<CallsValue>): CallsValue {
  return {
    state: initialCalls("me"),
    incoming: null,
    current: null,
    media: { audio: true, video: true, screen: false },
    localStream: null,
    remoteStreams: {},
    notice: null,
    start: vi.fn(),
    accept: vi.fn(),
    decline: vi.fn(),
    hangup: vi.fn(),
    toggleAudio: vi.fn(),
    toggleVideo: vi.fn(),
    toggleScreen: vi.fn(),
    switchDevice: vi.fn(),
    joinable: () => null,
    rejoinable: null,
    dismissNotice: vi.fn(),
    nameOf: (id) => (id === "alice" ? "Alice Liddell" : "Someone"),
    ...over,
  };
}

function wrap(value: CallsValue, children: ReactNode) {
  return (
    <QueryClientProvider client={new QueryClient()}>
      <CallsContext.Provider value={value}>{children}</CallsContext.Provider>
    </QueryClientProvider>
  );
}

describe("the ringing dialog", () => {
  it("says who calls, focuses Accept, and declines on Escape", async () => {
    const calls = fakeCalls({ incoming: ringingCall });
    render(wrap(calls, <IncomingCallDialog />));
    const dialog = await screen.findByRole("dialog", { name: "Alice Liddell is calling" });
    expect(dialog).toHaveTextContent("Video call");
    const accept = screen.getByRole("button", { name: "Accept" });
    await vi.waitFor(() => expect(accept).toHaveFocus());
    await userEvent.keyboard("{Escape}");
    expect(calls.decline).toHaveBeenCalledWith(ringingCall);
  });

  it("answers with or without video", async () => {
    const calls = fakeCalls({ incoming: ringingCall });
    render(wrap(calls, <IncomingCallDialog />));
    await userEvent.click(await screen.findByRole("button", { name: "Accept without video" }));
    expect(calls.accept).toHaveBeenCalledWith(ringingCall, false);
    await userEvent.click(screen.getByRole("button", { name: "Accept" }));
    expect(calls.accept).toHaveBeenCalledWith(ringingCall, true);
  });

  it("is not there when nothing rings", () => {
    render(wrap(fakeCalls({}), <IncomingCallDialog />));
    expect(screen.queryByRole("dialog")).toBeNull();
  });
});
