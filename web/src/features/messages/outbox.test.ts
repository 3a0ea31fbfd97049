import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it, vi } from "vitest";
import { CONV, ME } from "../../test/factories";
import { keys } from "../conversations/keys";
import { forgetOutbox, persistOutbox } from "./outbox";
import { addPending, emptyTimeline, setPendingStatus, type PendingMessage, type Timeline } from "./timeline";

const sent: unknown[] = [];
vi.mock("../../realtime/connection", () => ({
  getSocket: () => ({
    send: (frame: unknown) => {
      sent.push(frame);
      return true;
    },
  }),
}));

function pending(clientId: string): PendingMessage {
  return {
    client_id: clientId,
    conversation_id: CONV,
    sender_id: ME,
    body: `body ${clientId}`,
    reply_to_id: null,
    attachment_ids: [],
    attachments: [],
    created_at: "2026-01-01T12:00:00Z",
    status: "queued",
  };
}

describe("outbox persistence", () => {
  it("mirrors unsent messages to storage, without failed ones", () => {
    const qc = new QueryClient();
    const stop = persistOutbox(qc, ME);
    qc.setQueryData<Timeline>(keys.timeline(CONV), addPending(emptyTimeline(CONV), pending("a")));
    qc.setQueryData<Timeline>(keys.timeline(CONV), (tl) => tl && addPending(tl, pending("b")));
    qc.setQueryData<Timeline>(keys.timeline(CONV), (tl) => tl && setPendingStatus(tl, "b", "failed", "no"));
    const saved = JSON.parse(localStorage.getItem(`chatapi.outbox.${ME}`) ?? "[]") as PendingMessage[];
    expect(saved.map((p) => p.client_id)).toEqual(["a"]);
    stop();
  });

  it("puts saved messages back after a reload and sends them with the same client_id", () => {
    localStorage.setItem(`chatapi.outbox.${ME}`, JSON.stringify([pending("c")]));
    const qc = new QueryClient();
    sent.length = 0;
    const stop = persistOutbox(qc, ME);
    const tl = qc.getQueryData<Timeline>(keys.timeline(CONV));
    expect(tl?.pending.map((p) => p.client_id)).toEqual(["c"]);
    expect(tl?.loaded).toBe(false);
    expect(sent).toEqual([{ type: "message.send", conversation_id: CONV, client_id: "c", body: "body c" }]);
    stop();
  });

  it("forgets the saved messages on sign-out", () => {
    localStorage.setItem(`chatapi.outbox.${ME}`, JSON.stringify([pending("d")]));
    forgetOutbox(ME);
    expect(localStorage.getItem(`chatapi.outbox.${ME}`)).toBeNull();
  });
});
