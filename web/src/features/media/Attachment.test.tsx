import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Media } from "../../api/types";
import { Attachment } from "./Attachment";

function media(over: Partial<Media>): Media {
  return {
    id: "m1",
    filename: "file",
    content_type: "application/pdf",
    size: 2_500_000,
    url: "/api/v1/media/m1?sig=a",
    thumbnail_url: null,
    width: null,
    height: null,
    created_at: "2026-01-01T00:00:00Z",
    ...over,
  };
}

describe("Attachment", () => {
  it("shows an image as its thumbnail that opens the full size", async () => {
    render(
      <Attachment media={media({ filename: "cat.png", content_type: "image/png", thumbnail_url: "/thumb?sig=b" })} />,
    );
    expect(screen.getByTestId("image-thumbnail")).toHaveAttribute("src", "/thumb?sig=b");
    await userEvent.click(screen.getByRole("button", { name: "Open image cat.png" }));
    const dialog = await screen.findByRole("dialog");
    expect(dialog.querySelector("img")).toHaveAttribute("src", "/api/v1/media/m1?sig=a");
  });

  it("plays a video inline", () => {
    const { container } = render(<Attachment media={media({ filename: "clip.mp4", content_type: "video/mp4" })} />);
    const video = container.querySelector("video");
    expect(video).toHaveAttribute("src", "/api/v1/media/m1?sig=a");
    expect(video).toHaveAttribute("controls");
  });

  it("shows a document as a chip with its name and size", () => {
    render(<Attachment media={media({ filename: "report.pdf" })} />);
    const chip = screen.getByRole("link", { name: /report\.pdf/ });
    expect(chip).toHaveAttribute("href", "/api/v1/media/m1?sig=a");
    expect(chip).toHaveTextContent("2.4 MB");
  });
});
