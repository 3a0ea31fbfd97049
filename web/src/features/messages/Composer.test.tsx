import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ClientFrame } from "../../realtime/protocol";
import { RealtimeContext, type RealtimeValue } from "../../realtime/RealtimeProvider";
import { CONV } from "../../test/factories";
import { Composer } from "./Composer";
import { getDraft } from "./drafts";

function renderComposer(onSend = vi.fn(), conversationId = CONV, meId: string | undefined = undefined) {
  const frames: ClientFrame[] = [];
  const realtime: RealtimeValue = {
    state: "ready",
    send: (frame) => {
      frames.push(frame);
      return true;
    },
    retryNow: () => undefined,
    setActiveConversation: () => undefined,
    lastError: null,
  };
  const uploads = { uploads: [], add: vi.fn(), remove: vi.fn(), clear: vi.fn() };
  render(
    <RealtimeContext.Provider value={realtime}>
      <Composer
        conversationId={conversationId}
        meId={meId}
        replyTo={null}
        replyName=""
        editing={null}
        uploads={uploads}
        onCancelReply={() => undefined}
        onCancelEdit={() => undefined}
        onSend={onSend}
        onSaveEdit={async () => undefined}
      />
    </RealtimeContext.Provider>,
  );
  return { frames, onSend, uploads, input: screen.getByRole("textbox", { name: "Message" }) };
}

describe("Composer", () => {
  afterEach(() => vi.useRealTimers());

  it("sends on Enter and makes a new line on Shift+Enter", async () => {
    const { onSend, input } = renderComposer();
    const user = userEvent.setup();
    await user.type(input, "  first line{Shift>}{Enter}{/Shift}second  ");
    expect(input).toHaveValue("  first line\nsecond  ");
    await user.keyboard("{Enter}");
    expect(onSend).toHaveBeenCalledWith("first line\nsecond");
    expect(input).toHaveValue("");
  });

  it("does not send an empty message", async () => {
    const { onSend, input } = renderComposer();
    await userEvent.type(input, "   {Enter}");
    expect(onSend).not.toHaveBeenCalled();
    expect(screen.getByRole("button", { name: "Send" })).toBeDisabled();
  });

  it("announces typing, renews it every 3 s and stops when idle or sent", () => {
    vi.useFakeTimers();
    const { frames, input } = renderComposer();
    const typing = () => frames.filter((f) => f.type === "typing").map((f) => (f.type === "typing" ? f.state : ""));
    fireEvent.change(input, { target: { value: "h" } });
    fireEvent.change(input, { target: { value: "he" } });
    expect(typing()).toEqual(["start"]);
    act(() => vi.advanceTimersByTime(3_100));
    fireEvent.change(input, { target: { value: "hel" } });
    expect(typing()).toEqual(["start", "start"]);
    act(() => vi.advanceTimersByTime(4_100));
    expect(typing()).toEqual(["start", "start", "stop"]);
    fireEvent.change(input, { target: { value: "hello" } });
    fireEvent.keyDown(input, { key: "Enter" });
    expect(typing()).toEqual(["start", "start", "stop", "start", "stop"]);
  });

  it("attaches pasted files", () => {
    const { uploads, input } = renderComposer();
    const file = new File(["x"], "shot.png", { type: "image/png" });
    fireEvent.paste(input, { clipboardData: { files: [file] } });
    expect(uploads.add).toHaveBeenCalledWith([file]);
  });

  it("keeps a draft per conversation, cleared once sent", async () => {
    const first = renderComposer(vi.fn(), "conv-1", "me");
    await userEvent.type(first.input, "half a thought");
    cleanup();
    expect(getDraft("me", "conv-1")).toBe("half a thought");
    const other = renderComposer(vi.fn(), "conv-2", "me");
    expect(other.input).toHaveValue("");
    cleanup();
    const back = renderComposer(vi.fn(), "conv-1", "me");
    expect(back.input).toHaveValue("half a thought");
    await userEvent.keyboard("{Enter}");
    expect(back.onSend).toHaveBeenCalledWith("half a thought");
    expect(getDraft("me", "conv-1")).toBe("");
  });
});
