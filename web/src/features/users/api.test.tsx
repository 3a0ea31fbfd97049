import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "../../api/client";
import { user } from "../../test/factories";
import { keys } from "../conversations/keys";
import { CLOSED_ACCOUNT_NAME, PENDING_NAME, rememberUsers, useDisplayNames } from "./api";

const GONE = "u0000000-0000-4000-8000-0000000000ee";
const KNOWN = "u0000000-0000-4000-8000-0000000000dd";

function setup() {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={qc}>{children}</QueryClientProvider>
  );
  return { qc, wrapper };
}

describe("names by user id", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it("prefers the names it is given, then the per-user cache, without asking the server", () => {
    const { qc, wrapper } = setup();
    const fetch = vi.fn();
    vi.stubGlobal("fetch", fetch);
    rememberUsers(qc, [{ ...user(KNOWN), display_name: "Carol" }]);
    const known = new Map([["a", "Alice"]]);
    const { result } = renderHook(() => useDisplayNames(["a", KNOWN], known), { wrapper });
    expect(result.current("a")).toBe("Alice");
    expect(result.current(KNOWN)).toBe("Carol");
    expect(fetch).not.toHaveBeenCalled();
    expect(qc.getQueryData(keys.user(KNOWN))).toMatchObject({ display_name: "Carol" });
  });

  it("looks up someone nobody mentioned, once, and names a closed account", async () => {
    const { wrapper } = setup();
    const get = vi.spyOn(api, "GET").mockImplementation(async () => ({
      error: { detail: "No such user.", code: "user_not_found" },
      response: new Response(null, { status: 404 }),
    }));
    const { result } = renderHook(() => useDisplayNames([GONE, GONE], new Map()), { wrapper });
    expect(result.current(GONE)).toBe(PENDING_NAME);
    await waitFor(() => expect(result.current(GONE)).toBe(CLOSED_ACCOUNT_NAME));
    expect(get).toHaveBeenCalledTimes(1);
    expect(get).toHaveBeenCalledWith("/api/v1/users/{user_id}", { params: { path: { user_id: GONE } } });
  });
});
