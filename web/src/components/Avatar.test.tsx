import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { RealtimeContext, type RealtimeValue } from "../realtime/context";
import type { ConnectionState } from "../realtime/socket";
import { Avatar } from "./Avatar";

function realtime(state: ConnectionState): RealtimeValue {
  return {
    state,
    send: () => false,
    retryNow: () => undefined,
    setActiveConversation: () => undefined,
    lastError: null,
  };
}

describe("Avatar", () => {
  it("shows initials from letters, a person icon when the name has none", () => {
    const { rerender } = render(<Avatar name="🎉 Party people" seed="g1" />);
    expect(screen.getByTestId("avatar")).toHaveTextContent(/^PP$/);
    rerender(<Avatar name="🎉🎈" seed="g2" />);
    expect(screen.getByTestId("avatar").textContent).toBe("");
    expect(screen.getByTestId("avatar").querySelector("svg")).not.toBeNull();
  });

  it("shows a picture when there is one, and the initials if it fails to load", () => {
    render(<Avatar name="Alice Smith" seed="u1" imageUrl="/media/alice.jpg" />);
    const img = screen.getByTestId("avatar").querySelector("img");
    expect(img?.getAttribute("src")).toBe("/media/alice.jpg");
    fireEvent.error(img!);
    expect(screen.getByTestId("avatar")).toHaveTextContent(/^AS$/);
  });

  it("keeps the same colour for the same person", () => {
    const { rerender } = render(<Avatar name="Bob" seed="u-bob" />);
    const first = screen.getByTestId("avatar").className;
    rerender(<Avatar name="Robert" seed="u-bob" />);
    expect(screen.getByTestId("avatar").className).toBe(first);
  });

  it("shows someone online only while presence is known", () => {
    const { rerender } = render(
      <RealtimeContext.Provider value={realtime("ready")}>
        <Avatar name="Bob" seed="u-bob" online />
      </RealtimeContext.Provider>,
    );
    expect(screen.queryByTestId("online-dot")).not.toBeNull();
    rerender(
      <RealtimeContext.Provider value={realtime("reconnecting")}>
        <Avatar name="Bob" seed="u-bob" online />
      </RealtimeContext.Provider>,
    );
    expect(screen.queryByTestId("online-dot")).toBeNull();
  });
});
