import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, publicApi } from "../../api/client";
import { AuthProvider } from "../auth/AuthProvider";
import { deviceName } from "./security";
import { SecurityModal } from "./SecurityModal";

const AT = "2026-11-29T10:00:00Z";
const SESSIONS = [
  {
    id: "s1",
    created_at: AT,
    last_used_at: AT,
    browser: "Firefox 133",
    os: "Windows",
    user_agent: "ua",
    address: "10.0.0.1",
    method: "password",
    current: true,
  },
  {
    id: "s2",
    created_at: AT,
    last_used_at: AT,
    browser: "Mobile Safari 17",
    os: "iOS",
    user_agent: "ua",
    address: "10.0.0.2",
    method: "corp",
    current: false,
  },
];

function answer(status: number, body?: unknown) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

/**
 * The REST clients answering by method and path (openapi-fetch's own calls, as the other
 * client tests stub them); records what was sent.
 */
function server(routes: Record<string, (body: unknown) => Response>) {
  const sent: { route: string; body: unknown }[] = [];
  const respond = (method: string) =>
    (async (path: string, init?: { params?: { path?: Record<string, string> }; body?: unknown }) => {
      const filled = path.replace(/\{(\w+)\}/g, (_, key: string) => init?.params?.path?.[key] ?? key);
      const route = `${method} ${filled}`;
      sent.push({ route, body: init?.body });
      const handler = routes[route];
      const response = handler ? handler(init?.body) : answer(404, { detail: "nope", code: "not_found" });
      const text = await response.clone().text();
      const parsed: unknown = text ? JSON.parse(text) : undefined;
      return response.ok ? { data: parsed, response } : { error: parsed, response };
    }) as never;
  vi.spyOn(api, "GET").mockImplementation(respond("GET"));
  vi.spyOn(api, "POST").mockImplementation(respond("POST"));
  vi.spyOn(api, "DELETE").mockImplementation(respond("DELETE"));
  vi.spyOn(publicApi, "GET").mockImplementation(respond("GET"));
  return sent;
}

function renderModal() {
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <AuthProvider>
        <SecurityModal show onHide={() => {}} />
      </AuthProvider>
    </QueryClientProvider>,
  );
}

const BASE = {
  "GET /api/v1/auth/providers": () => answer(200, { password_login: true, registration: true, providers: [] }),
  "GET /api/v1/users/me/sign-in-methods": () => answer(200, { password: true, identities: [] }),
  "GET /api/v1/users/me/sessions": () => answer(200, SESSIONS),
};

afterEach(() => vi.restoreAllMocks());

describe("the Security dialog", () => {
  it("lists the devices, marks this one, and signs another out", async () => {
    const sent = server({ ...BASE, "DELETE /api/v1/users/me/sessions/s2": () => answer(204) });
    renderModal();
    const [here, phone] = await screen.findAllByTestId("session-row");
    if (!here || !phone) throw new Error("two rows expected");
    const rows = [here, phone];
    expect(rows.map((r) => r.textContent)).toEqual([
      expect.stringContaining("Firefox 133 on Windows"),
      expect.stringContaining("Mobile Safari 17 on iOS"),
    ]);
    expect(within(here).getByText("This device")).toBeTruthy();
    expect(within(here).queryByRole("button")).toBeNull(); // this device signs out from the menu
    expect(phone.textContent).toContain("with corp");
    await userEvent.click(screen.getByRole("button", { name: "Sign out Mobile Safari 17 on iOS" }));
    await waitFor(() => expect(sent.map((s) => s.route)).toContain("DELETE /api/v1/users/me/sessions/s2"));
  });

  it("signs out everywhere else in one go", async () => {
    const sent = server({ ...BASE, "DELETE /api/v1/users/me/sessions": () => answer(204) });
    renderModal();
    await screen.findAllByTestId("session-row");
    await userEvent.click(screen.getByRole("button", { name: "Sign out everywhere else" }));
    await waitFor(() => expect(sent.map((s) => s.route)).toContain("DELETE /api/v1/users/me/sessions"));
  });

  it("checks the new password before sending, and shows the server's refusal", async () => {
    const sent = server({
      ...BASE,
      "POST /api/v1/users/me/password": () =>
        answer(403, { detail: "The current password is not right. Type it again.", code: "wrong_password" }),
    });
    renderModal();
    await userEvent.type(await screen.findByLabelText("Current password"), "old password");
    await userEvent.type(screen.getByLabelText("New password"), "short");
    await userEvent.type(screen.getByLabelText("New password again"), "short");
    await userEvent.click(screen.getByRole("button", { name: "Change password" }));
    expect(screen.getByText("Use at least 8 characters.")).toBeTruthy();
    expect(sent.some((s) => s.route.startsWith("POST"))).toBe(false);
    await userEvent.clear(screen.getByLabelText("New password"));
    await userEvent.type(screen.getByLabelText("New password"), "a long new one");
    await userEvent.clear(screen.getByLabelText("New password again"));
    await userEvent.type(screen.getByLabelText("New password again"), "a long new one");
    await userEvent.click(screen.getByRole("button", { name: "Change password" }));
    expect((await screen.findByTestId("password-error")).textContent).toContain("not right");
    expect(sent.find((s) => s.route === "POST /api/v1/users/me/password")?.body).toEqual({
      current_password: "old password",
      new_password: "a long new one",
    });
  }, 20_000);

  it("offers no password change to an account that signs in with single sign-on only", async () => {
    server({ ...BASE, "GET /api/v1/users/me/sign-in-methods": () => answer(200, { password: false, identities: [] }) });
    renderModal();
    await screen.findAllByTestId("session-row");
    expect(screen.queryByLabelText("Current password")).toBeNull();
  });
});

describe("closing the account", () => {
  it("asks for the password, then for a confirmation, and sends the password", async () => {
    const sent = server({ ...BASE, "DELETE /api/v1/users/me": () => answer(204) });
    renderModal();
    const button = await screen.findByRole("button", { name: "Close account…" });
    expect((button as HTMLButtonElement).disabled).toBe(true);
    await userEvent.type(screen.getByLabelText("Your password"), "my password");
    await userEvent.click(button);
    await userEvent.click(await screen.findByRole("button", { name: "Close my account" }));
    await waitFor(() =>
      expect(sent.find((s) => s.route === "DELETE /api/v1/users/me")?.body).toEqual({ password: "my password" }),
    );
  });

  it("shows the server's refusal of a wrong password", async () => {
    server({
      ...BASE,
      "DELETE /api/v1/users/me": () =>
        answer(403, { detail: "The password is not right. Type it again.", code: "wrong_password" }),
    });
    renderModal();
    await userEvent.type(await screen.findByLabelText("Your password"), "guess");
    await userEvent.click(screen.getByRole("button", { name: "Close account…" }));
    await userEvent.click(await screen.findByRole("button", { name: "Close my account" }));
    expect((await screen.findByTestId("close-error")).textContent).toContain("not right");
  });
});

describe("deviceName", () => {
  it("names what the User-Agent said", () => {
    expect(deviceName({ browser: "curl 8", os: null })).toBe("curl 8");
    expect(deviceName({ browser: null, os: null })).toBe("Unknown device");
  });
});
