import { afterEach, describe, expect, it, vi } from "vitest";
import { acceptTokens, clearSession, errorText, getAccessToken, readRefreshToken } from "./session";

function pair(n: number, expiresIn = 900) {
  return { access_token: `a${n}`, refresh_token: `r${n}`, token_type: "bearer" as const, expires_in: expiresIn };
}

describe("session refresh", () => {
  afterEach(() => {
    clearSession();
    vi.unstubAllGlobals();
  });

  it("serialises concurrent refreshes and stores the rotated refresh token", async () => {
    acceptTokens(pair(1, 1)); // expires at once
    const fetchMock = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
      expect(JSON.parse(String(init?.body))).toEqual({ refresh_token: "r1" });
      await new Promise((r) => setTimeout(r, 10));
      return new Response(JSON.stringify(pair(2)), { status: 200 });
    });
    vi.stubGlobal("fetch", fetchMock);
    const tokens = await Promise.all([getAccessToken(), getAccessToken(), getAccessToken(true)]);
    expect(tokens).toEqual(["a2", "a2", "a2"]);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(readRefreshToken()).toBe("r2");
  });

  it("signs out when the refresh token is refused", async () => {
    acceptTokens(pair(10, 1)); // tokens are unique: r1 was spent by the test above
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => new Response("{}", { status: 401 })),
    );
    expect(await getAccessToken()).toBeNull();
    expect(readRefreshToken()).toBeNull();
  });

  it("never presents a token another tab announced as spent: it waits for the successor", async () => {
    acceptTokens(pair(1, 1));
    // Another tab is spending r1 (announced on the channel); its r2 reaches this tab's
    // storage a little later.
    const other = new BroadcastChannel("chatapi-session");
    other.postMessage({ spent: "r1" });
    await new Promise((r) => setTimeout(r, 20));
    setTimeout(() => localStorage.setItem("chatapi.refresh_token", "r2"), 100);
    const fetchMock = vi.fn(async (_url: RequestInfo | URL, init?: RequestInit) => {
      expect(JSON.parse(String(init?.body))).toEqual({ refresh_token: "r2" });
      return new Response(JSON.stringify(pair(3)), { status: 200 });
    });
    vi.stubGlobal("fetch", fetchMock);
    expect(await getAccessToken(true)).toBe("a3");
    expect(fetchMock).toHaveBeenCalledTimes(1);
    other.close();
  });
});

describe("errorText", () => {
  it("says what was too many, and when to try again", () => {
    const detail = "Too many failed logins for this account. At most 10 in 1 minute; try again in 42 seconds.";
    expect(errorText({ detail, code: "rate_limited" }, 429, "42")).toEqual({ message: detail, code: "rate_limited" });
    expect(errorText(null, 429, "42").message).toBe("Too many attempts. Try again in 42 s.");
    expect(errorText(null, 429).message).toBe("Too many attempts. Try again shortly.");
  });
});
