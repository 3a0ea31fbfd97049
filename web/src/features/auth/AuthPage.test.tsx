import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "./AuthProvider";
import { AuthPage } from "./AuthPage";

function renderAt(path: string) {
  const router = createMemoryRouter(
    [
      { path: "/login", element: <AuthPage mode="login" /> },
      { path: "/register", element: <AuthPage mode="register" /> },
      { path: "/", element: <p>home</p> },
    ],
    { initialEntries: [path] },
  );
  return render(
    <QueryClientProvider client={new QueryClient()}>
      <AuthProvider>
        <RouterProvider router={router} />
      </AuthProvider>
    </QueryClientProvider>,
  );
}

function answer(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

describe("AuthPage", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("says so when the password is wrong, and sends the OAuth2 form", async () => {
    const fetchMock = vi.fn(async (_url: RequestInfo | URL, _init?: RequestInit) =>
      answer(401, { detail: "Incorrect username or password", code: "invalid_credentials" }),
    );
    vi.stubGlobal("fetch", fetchMock);
    renderAt("/login");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Username"), "Alice");
    await user.type(screen.getByLabelText("Password"), "wrong password");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong username or password.");
    const [url, init] = fetchMock.mock.calls.find(([u]) => u === "/api/v1/auth/token") ?? [];
    expect(url).toBe("/api/v1/auth/token");
    expect(String(init?.body)).toContain("username=alice");
    expect(new Headers(init?.headers).get("Content-Type")).toBe("application/x-www-form-urlencoded");
  });

  it("checks the username and password rules before registering", async () => {
    vi.stubGlobal("fetch", vi.fn());
    renderAt("/register");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Username"), "a!");
    await user.type(screen.getByLabelText("Password"), "short");
    expect(screen.getByText(/3–32 characters/)).toBeInTheDocument();
    expect(screen.getByText("At least 8 characters.")).toBeInTheDocument();
  });

  it("stores the refresh token after signing in", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => answer(200, { access_token: "a", refresh_token: "r1", token_type: "bearer", expires_in: 900 })),
    );
    renderAt("/login");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Username"), "alice");
    await user.type(screen.getByLabelText("Password"), "correct horse");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText("home")).toBeInTheDocument();
    expect(localStorage.getItem("chatapi.refresh_token")).toBe("r1");
  });
});
