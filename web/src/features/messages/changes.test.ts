import { QueryClient } from "@tanstack/react-query";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Message } from "../../api/types";
import { CONV, ME, message } from "../../test/factories";
import { keys } from "../conversations/keys";
import {
  discardChange,
  flushChanges,
  persistChanges,
  queuedChanges,
  retryChange,
  submitChange,
  withChanges,
} from "./changes";
import { emptyTimeline, loadLatest, type Timeline } from "./timeline";

type Outcome = "network" | "ok" | { status: number; detail: string };
const calls: string[] = [];
let outcome: Outcome = "ok";

function answer(data: unknown) {
  if (outcome === "network") return Promise.reject(new TypeError("Failed to fetch"));
  if (outcome === "ok") return Promise.resolve({ data, response: new Response(null, { status: 200 }) });
  return Promise.resolve({
    error: { detail: outcome.detail, code: "message_deleted" },
    response: new Response(null, { status: outcome.status }),
  });
}

vi.mock("../../api/client", async (original) => ({
  ...(await original<typeof import("../../api/client")>()),
  api: {
    PATCH: (_path: string, init: { params: { path: { message_id: string } }; body: { body: string } }) => {
      calls.push(`PATCH ${init.params.path.message_id} ${init.body.body} (${outcomeName()})`);
      return answer({ ...mine(init.params.path.message_id), body: init.body.body, edited_at: "2026-01-02T00:00:00Z" });
    },
    DELETE: (_path: string, init: { params: { path: { message_id: string } } }) => {
      calls.push(`DELETE ${init.params.path.message_id} (${outcomeName()})`);
      return answer(undefined);
    },
  },
}));

function outcomeName(): string {
  return typeof outcome === "string" ? outcome : String(outcome.status);
}

function mine(id: string): Message {
  const seq = Number(id.slice(2));
  return message(seq, { sender_id: ME });
}

function setup() {
  const qc = new QueryClient();
  qc.setQueryData(keys.timeline(CONV), loadLatest(emptyTimeline(CONV), [mine("m-1"), mine("m-2")], 50));
  const shown = () => withChanges(qc.getQueryData<Timeline>(keys.timeline(CONV))!, queuedChanges()).messages;
  return { qc, shown };
}

describe("edits and deletes while the server cannot be reached", () => {
  let stop: () => void;
  beforeEach(() => {
    calls.length = 0;
    outcome = "ok";
    stop = persistChanges(ME);
  });
  afterEach(() => stop());

  it("an edit that cannot reach the server is queued, shown at once, and resolves", async () => {
    const { qc, shown } = setup();
    outcome = "network";
    await expect(submitChange(qc, { kind: "edit", message: mine("m-1"), body: "new words" })).resolves.toBeUndefined();
    expect(queuedChanges()).toHaveLength(1);
    expect(shown()[0]).toMatchObject({ body: "new words" });
    expect(shown()[0]?.edited_at).toBeTruthy();
  });

  it("queued changes go out once each, in the order they were made, when the connection is back", async () => {
    const { qc, shown } = setup();
    outcome = "network";
    await submitChange(qc, { kind: "edit", message: mine("m-1"), body: "first" });
    await submitChange(qc, { kind: "delete", message: mine("m-2") });
    await submitChange(qc, { kind: "edit", message: mine("m-1"), body: "second" });
    expect(shown().map((m) => (m.deleted ? "deleted" : m.body))).toEqual(["second", "deleted"]);
    calls.length = 0;
    outcome = "ok";
    await Promise.all([flushChanges(qc), flushChanges(qc)]);
    expect(calls).toEqual(["PATCH m-1 first (ok)", "DELETE m-2 (ok)", "PATCH m-1 second (ok)"]);
    expect(queuedChanges()).toEqual([]);
    const saved = qc.getQueryData<Timeline>(keys.timeline(CONV))!.messages;
    expect(saved.map((m) => (m.deleted ? "deleted" : m.body))).toEqual(["second", "deleted"]);
    await flushChanges(qc);
    expect(calls).toHaveLength(3);
  });

  it("a change made while others wait queues behind them, even if the server is back", async () => {
    const { qc } = setup();
    outcome = "network";
    await submitChange(qc, { kind: "delete", message: mine("m-2") });
    outcome = "ok";
    await submitChange(qc, { kind: "edit", message: mine("m-1"), body: "after the delete" });
    await flushChanges(qc);
    expect(calls.filter((c) => c.endsWith("(ok)"))).toEqual(["DELETE m-2 (ok)", "PATCH m-1 after the delete (ok)"]);
  });

  it("a network error during the flush keeps the rest queued, in order", async () => {
    const { qc } = setup();
    outcome = "network";
    await submitChange(qc, { kind: "edit", message: mine("m-1"), body: "one" });
    await submitChange(qc, { kind: "edit", message: mine("m-2"), body: "two" });
    await flushChanges(qc);
    expect(queuedChanges().map((c) => [c.body, c.status])).toEqual([
      ["one", "queued"],
      ["two", "queued"],
    ]);
  });

  it("a change the server refuses stays on the message with the reason; Discard drops it, Retry sends it", async () => {
    const { qc, shown } = setup();
    outcome = "network";
    await submitChange(qc, { kind: "edit", message: mine("m-1"), body: "too late" });
    outcome = { status: 422, detail: "This message was deleted." };
    await flushChanges(qc);
    expect(queuedChanges()[0]).toMatchObject({ status: "failed", error: "This message was deleted." });
    outcome = "ok";
    retryChange(qc, queuedChanges()[0]!.id);
    await flushChanges(qc);
    expect(queuedChanges()).toEqual([]);

    outcome = { status: 422, detail: "This message was deleted." };
    await expect(submitChange(qc, { kind: "edit", message: mine("m-2"), body: "x" })).rejects.toThrow(
      "This message was deleted.",
    );
    outcome = "network";
    await submitChange(qc, { kind: "edit", message: mine("m-2"), body: "y" });
    outcome = { status: 403, detail: "You can only edit your own messages." };
    await flushChanges(qc);
    discardChange(queuedChanges()[0]!.id);
    expect(shown()[1]?.body).toBe("message 2");
  });

  it("survives a reload: saved per user and put back", async () => {
    const { qc } = setup();
    outcome = "network";
    await submitChange(qc, { kind: "delete", message: mine("m-2") });
    stop();
    expect(queuedChanges()).toEqual([]);
    stop = persistChanges(ME);
    expect(queuedChanges()).toMatchObject([{ kind: "delete", message_id: "m-2", status: "queued" }]);
  });

  it("an edit whose answer was lost is not sent twice", async () => {
    const { qc } = setup();
    outcome = "network";
    await submitChange(qc, { kind: "edit", message: mine("m-1"), body: "saved after all" });
    // The server did store it: its event reached the timeline.
    qc.setQueryData<Timeline>(keys.timeline(CONV), (tl) => ({
      ...tl!,
      messages: tl!.messages.map((m) =>
        m.id === "m-1" ? { ...m, body: "saved after all", edited_at: "2026-01-02T00:00:00Z" } : m,
      ),
    }));
    calls.length = 0;
    outcome = "ok";
    await flushChanges(qc);
    expect(calls).toEqual([]);
    expect(queuedChanges()).toEqual([]);
  });
});
