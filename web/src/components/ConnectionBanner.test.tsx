import { act, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RealtimeContext, type RealtimeValue } from "../realtime/context";
import type { ConnectionState } from "../realtime/socket";
import { setShowingOfflineCopy } from "../features/pwa/offline";
import { ConnectionBanner } from "./ConnectionBanner";

function value(state: ConnectionState, retryNow = vi.fn()): RealtimeValue {
  return { state, send: () => false, retryNow, setActiveConversation: () => undefined, lastError: null };
}

function renderBanner(state: ConnectionState, retryNow = vi.fn()) {
  const view = render(
    <RealtimeContext.Provider value={value(state, retryNow)}>
      <ConnectionBanner />
    </RealtimeContext.Provider>,
  );
  const set = (next: ConnectionState) =>
    view.rerender(
      <RealtimeContext.Provider value={value(next, retryNow)}>
        <ConnectionBanner />
      </RealtimeContext.Provider>,
    );
  return { set, retryNow };
}

describe("ConnectionBanner", () => {
  afterEach(() => vi.useRealTimers());

  it("shows after a second of attempts that flip between connecting and reconnecting", () => {
    vi.useFakeTimers();
    const { set } = renderBanner("ready");
    set("reconnecting");
    for (let i = 0; i < 6; i += 1) {
      act(() => vi.advanceTimersByTime(300));
      set(i % 2 ? "reconnecting" : "connecting");
    }
    expect(screen.getByTestId("connection-banner")).toHaveTextContent("Connection lost. Reconnecting…");
    set("ready");
    expect(screen.queryByTestId("connection-banner")).toBeNull();
  });

  it("says nothing about a reconnect that takes less than a second", () => {
    vi.useFakeTimers();
    const { set } = renderBanner("ready");
    set("reconnecting");
    act(() => vi.advanceTimersByTime(500));
    set("ready");
    act(() => vi.advanceTimersByTime(2000));
    expect(screen.queryByTestId("connection-banner")).toBeNull();
  });

  it("offers Retry now", async () => {
    const { retryNow } = renderBanner("offline");
    await userEvent.click(screen.getByRole("button", { name: "Retry now" }));
    expect(retryNow).toHaveBeenCalledTimes(1);
  });

  it("says the chats are the saved copy when the app opened without a network", () => {
    const { set } = renderBanner("connecting");
    act(() => setShowingOfflineCopy(true));
    expect(screen.getByTestId("connection-banner")).toHaveTextContent(
      "You are offline. Showing your chats as they were when you were last online.",
    );
    act(() => setShowingOfflineCopy(false));
    set("ready");
    expect(screen.queryByTestId("connection-banner")).toBeNull();
  });
});
