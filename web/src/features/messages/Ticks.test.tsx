import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { Ticks } from "./Ticks";

describe("Ticks", () => {
  it("name each status and draw sent, delivered and read differently", () => {
    const drawn = (["sent", "delivered", "read"] as const).map((status) => {
      const { unmount } = render(<Ticks status={status} />);
      const el = screen.getByTestId("message-status");
      const result = { label: el.getAttribute("aria-label"), className: el.className, svg: el.innerHTML };
      unmount();
      return result;
    });
    expect(drawn.map((d) => d.label)).toEqual(["Sent", "Delivered", "Read"]);
    expect(drawn[0]!.svg).not.toBe(drawn[1]!.svg);
    expect(drawn[2]!.className).toContain("ticks-read");
    expect(screen.queryByRole("img")).toBeNull();
    render(<Ticks status="failed" />);
    expect(screen.getByRole("img", { name: "Not sent" })).toHaveTextContent("!");
  });
});
