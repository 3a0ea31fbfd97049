import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthPage } from "./AuthPage";
import { AuthProvider } from "./AuthProvider";
import { OidcCallbackPage } from "./OidcCallbackPage";

const OPTIONS = { password_login: true, registration: true, providers: [{ name: "corp", label: "Corp SSO" }] };
const TOKENS = { access_token: "a", refresh_token: "r-sso", token_type: "bearer", expires_in: 900 };

function answer(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

type Route = (url: string, init: { method: string; body: unknown }) => Response;

/** A fetch stub answering by path; records what was sent. */
function server(routes: Record<string, Route>) {
  const sent: { url: string; method: string; body: unknown }[] = [];
  const stub = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(new URL(String(input), "http://localhost"), init);
    const url = new URL(request.url, "http://localhost").pathname;
    const text = await request.text();
    const body: unknown = text && request.headers.get("Content-Type")?.includes("json") ? JSON.parse(text) : text;
    sent.push({ url, method: request.method, body });
    const route = routes[`${request.method} ${url}`];
    return route ? route(url, { method: request.method, body }) : answer(404, { detail: "nope", code: "not_found" });
  });
  vi.stubGlobal("fetch", stub);
  return sent;
}

function renderAt(path: string, state?: unknown) {
  const router = createMemoryRouter(
    [
      { path: "/login", element: <AuthPage mode="login" /> },
      { path: "/oidc/callback", element: <OidcCallbackPage /> },
      { path: "/c/:id", element: <p>conversation page</p> },
      { path: "/", element: <p>home</p> },
    ],
    { initialEntries: [{ pathname: path, state }] },
  );
  render(
    <QueryClientProvider client={new QueryClient({ defaultOptions: { queries: { retry: false } } })}>
      <AuthProvider>
        <RouterProvider router={router} />
      </AuthProvider>
    </QueryClientProvider>,
  );
  return router;
}

describe("single sign-on", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    window.history.replaceState(null, "", "/");
  });

  it("offers a button per provider that comes back to where the person was", async () => {
    server({ "GET /api/v1/auth/providers": () => answer(200, OPTIONS) });
    renderAt("/login", { from: "/c/123" });
    const button = await screen.findByRole("link", { name: "Sign in with Corp SSO" });
    expect(button).toHaveAttribute("href", "/api/v1/auth/oidc/corp/login?return_to=%2Fc%2F123");
    expect(screen.getByLabelText("Password")).toBeInTheDocument();
  });

  it("shows only the providers when password sign-in is off", async () => {
    server({ "GET /api/v1/auth/providers": () => answer(200, { ...OPTIONS, password_login: false }) });
    renderAt("/login");
    expect(await screen.findByRole("link", { name: "Sign in with Corp SSO" })).toBeInTheDocument();
    expect(screen.queryByLabelText("Password")).not.toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Create an account" })).not.toBeInTheDocument();
  });

  it("exchanges the one-time code by POST, forgets it, and signs in where the person was", async () => {
    const sent = server({
      "POST /api/v1/auth/oidc/exchange": () => answer(200, { outcome: "signed_in", return_to: "/c/7", tokens: TOKENS }),
      "GET /api/v1/users/me": () => answer(200, { id: "u1", username: "alice", display_name: "Alice" }),
    });
    window.history.replaceState(null, "", "/oidc/callback#code=one-time");
    renderAt("/oidc/callback");
    expect(await screen.findByText("conversation page")).toBeInTheDocument();
    expect(sent.find((r) => r.url === "/api/v1/auth/oidc/exchange")?.body).toEqual({ code: "one-time" });
    expect(window.location.hash).toBe("");
    expect(localStorage.getItem("chatapi.refresh_token")).toBe("r-sso");
  });

  it("lets a new person take the proposed username", async () => {
    const sent = server({
      "GET /api/v1/auth/providers": () => answer(200, OPTIONS),
      "POST /api/v1/auth/oidc/exchange": () =>
        answer(200, {
          outcome: "signup",
          return_to: "/",
          ticket: "t1",
          provider: "corp",
          proposed_username: "alice-2",
          username_taken: true,
          display_name: "Alice Liddell",
          email: "alice@example.test",
        }),
      "POST /api/v1/auth/oidc/signup": () => answer(201, TOKENS),
    });
    window.history.replaceState(null, "", "/oidc/callback#code=c2");
    renderAt("/oidc/callback");
    expect(await screen.findByRole("heading", { name: "Welcome, Alice Liddell" })).toBeInTheDocument();
    expect(await screen.findByText(/You signed in with Corp SSO as alice@example.test/)).toBeInTheDocument();
    expect(screen.getByLabelText("Username")).toHaveValue("alice-2");
    await userEvent.setup().click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByText("home")).toBeInTheDocument();
    expect(sent.find((r) => r.url === "/api/v1/auth/oidc/signup")?.body).toEqual({
      ticket: "t1",
      username: "alice-2",
      display_name: "Alice Liddell",
    });
  });

  it("says why a refused sign-in was refused", async () => {
    server({
      "POST /api/v1/auth/oidc/exchange": () =>
        answer(401, {
          detail: "The ID token has expired. You were not signed in; start again.",
          code: "oidc_token_expired",
        }),
    });
    window.history.replaceState(null, "", "/oidc/callback#code=c3");
    renderAt("/oidc/callback");
    await waitFor(() => expect(screen.getByTestId("sso-error")).toHaveTextContent("The ID token has expired."));
    expect(screen.getByRole("link", { name: "Back to sign-in" })).toBeInTheDocument();
  });
});
