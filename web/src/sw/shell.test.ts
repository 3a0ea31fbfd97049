import { cacheKey, clickTarget, isOpenMessage, parsePushPayload, routeRequest } from "./shell";

const ORIGIN = "https://chat.example";
const SHELL = new Set(["/index.html", "/assets/index-abc.js", "/theme.js", "/manifest.webmanifest"]);

function route(path: string, mode = "no-cors", method = "GET", origin = ORIGIN) {
  return routeRequest({ url: `${origin}${path}`, method, mode }, ORIGIN, SHELL);
}

describe("what the service worker answers", () => {
  it("the build's own files come from the shell cache", () => {
    expect(route("/assets/index-abc.js")).toBe("shell-file");
    expect(route("/theme.js")).toBe("shell-file");
  });

  it("page loads of the app go network first (the shell only when offline)", () => {
    expect(route("/", "navigate")).toBe("navigation");
    expect(route("/c/123", "navigate")).toBe("navigation");
  });

  it("the API, media, health and docs are never touched, even as page loads", () => {
    for (const path of ["/api/v1/conversations", "/api/v1/media/x/file.pdf", "/healthz", "/readyz", "/docs"]) {
      expect(route(path)).toBe("network");
      expect(route(path, "navigate")).toBe("network");
    }
    // A client route merely starting like one is still the app.
    expect(route("/docsy", "navigate")).toBe("navigation");
  });

  it("files not in this build, other origins, queries and non-GET go to the network", () => {
    expect(route("/assets/index-new.js")).toBe("network");
    expect(route("/theme.js", "no-cors", "GET", "https://cdn.example")).toBe("network");
    expect(route("/theme.js?x=1")).toBe("network");
    expect(route("/index.html", "cors", "POST")).toBe("network");
  });

  it("a changed unhashed file gets a new cache key; hashed assets keep their name", () => {
    expect(cacheKey({ url: "/theme.js", revision: "aa" })).not.toBe(cacheKey({ url: "/theme.js", revision: "bb" }));
    expect(cacheKey({ url: "/assets/index-abc.js", revision: null })).toBe("/assets/index-abc.js");
  });
});

describe("push payloads and clicks", () => {
  it("the server's payload is shown as sent", () => {
    const payload = {
      type: "message",
      conversation_id: "c1",
      message_id: "m1",
      seq: 4,
      title: "Alice · Weekend",
      body: "📷 Photo",
      tag: "conversation:c1",
      url: "/c/c1",
      mention: true,
    };
    expect(parsePushPayload(payload)).toEqual(payload);
  });

  it("missing or foreign fields get safe defaults; other payloads are not ours", () => {
    expect(parsePushPayload({ type: "message", conversation_id: "c1", url: "https://evil.example/" })).toMatchObject({
      title: "chatapi",
      body: "New message",
      tag: "conversation:c1",
      url: "/",
    });
    expect(parsePushPayload({ type: "other" })).toBeNull();
    expect(parsePushPayload("text")).toBeNull();
  });

  it("a click opens only an in-app path", () => {
    expect(clickTarget({ url: "/c/c1" })).toBe("/c/c1");
    expect(clickTarget({ url: "//evil.example/c" })).toBe("/");
    expect(clickTarget({ url: "https://evil.example/" })).toBe("/");
    expect(clickTarget(null)).toBe("/");
    expect(isOpenMessage({ type: "chatapi:open", url: "/c/1" })).toBe(true);
    expect(isOpenMessage({ type: "other" })).toBe(false);
  });
});
