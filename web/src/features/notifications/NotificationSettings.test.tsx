import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import { NotificationSettings } from "./NotificationSettings";

function answer(status: number, body?: unknown) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

/** The settings endpoints (openapi-fetch's calls stubbed, as the other client tests do); records PATCHes. */
function server(initial: { notifications: boolean; notification_previews: boolean; notification_sound: boolean }) {
  let settings = { ...initial };
  const patches: unknown[] = [];
  const reply = async (response: Response) => {
    const parsed: unknown = await response.clone().json();
    return response.ok ? { data: parsed, response } : { error: parsed, response };
  };
  vi.spyOn(api, "GET").mockImplementation((async () => reply(answer(200, settings))) as never);
  vi.spyOn(api, "PATCH").mockImplementation((async (_path: string, init: { body: object }) => {
    patches.push(init.body);
    settings = { ...settings, ...init.body };
    return reply(answer(200, settings));
  }) as never);
  return patches;
}

/** This browser's Notification API, answering the permission prompt with `answer`. */
function browserPermission(initial: NotificationPermission, answerWith: NotificationPermission) {
  const requestPermission = vi.fn(async () => {
    (globalThis.Notification as unknown as { permission: NotificationPermission }).permission = answerWith;
    return answerWith;
  });
  vi.stubGlobal("Notification", { permission: initial, requestPermission });
  return requestPermission;
}

function renderSettings() {
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <NotificationSettings enabled />
    </QueryClientProvider>,
  );
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

const mainSwitch = () => screen.findByRole("switch", { name: "Desktop notifications for new messages" });

describe("the notification switches", () => {
  it("asks this browser for permission only when switched on, then stores the choice", async () => {
    const patches = server({ notifications: false, notification_previews: true, notification_sound: false });
    const ask = browserPermission("default", "granted");
    renderSettings();
    const main = await mainSwitch();
    expect(main).not.toBeChecked();
    expect(ask).not.toHaveBeenCalled(); // never on load
    await userEvent.click(main);
    await waitFor(() => expect(main).toBeChecked());
    expect(ask).toHaveBeenCalledTimes(1);
    expect(patches).toEqual([{ notifications: true }]);
    // No service worker here: no push, said quietly; notifications still work in the app.
    expect(screen.getByTestId("push-note")).toHaveTextContent("Push isn't available in this browser");
  });

  it("stays off, and says how to allow, when the browser refuses", async () => {
    const patches = server({ notifications: false, notification_previews: true, notification_sound: false });
    browserPermission("default", "denied");
    renderSettings();
    await userEvent.click(await mainSwitch());
    expect(await screen.findByTestId("permission-note")).toHaveTextContent("blocked for this site");
    expect(await mainSwitch()).not.toBeChecked();
    expect(patches).toEqual([]);
  });

  it("is off on a device that may not notify, even when the person's choice is on", async () => {
    server({ notifications: true, notification_previews: true, notification_sound: true });
    browserPermission("default", "granted");
    renderSettings();
    expect(await mainSwitch()).not.toBeChecked();
    expect(screen.getByRole("switch", { name: "Show message text" })).toBeDisabled();
  });

  it("previews and sound are stored as they are switched", async () => {
    const patches = server({ notifications: true, notification_previews: true, notification_sound: false });
    browserPermission("granted", "granted");
    renderSettings();
    expect(await mainSwitch()).toBeChecked();
    await userEvent.click(screen.getByRole("switch", { name: "Show message text" }));
    await userEvent.click(screen.getByRole("switch", { name: "Play a sound" }));
    await waitFor(() => expect(patches).toEqual([{ notification_previews: false }, { notification_sound: true }]));
    expect(screen.getByRole("switch", { name: "Show message text" })).not.toBeChecked();
    expect(screen.getByRole("switch", { name: "Play a sound" })).toBeChecked();
  });
});
