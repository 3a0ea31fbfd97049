// Short-lived access tokens against a real server: the client refreshes before expiry
// (rotating the refresh token), re-authenticates its open socket, and two tabs sharing
// one refresh token never present a spent one (which would sign the user out).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  assertStrictCsp,
  collectCspViolations,
  inCI,
  launchBrowser,
  loginViaApi,
  missingPrerequisite,
  postMessage,
  registerViaApi,
  startServer,
} from "./harness.mjs";

const PASSWORD = "correct horse battery";
const missing = missingPrerequisite();
const TTL_SECONDS = 5;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

describe("session with short-lived tokens", { skip: Boolean(missing), timeout: 120_000 }, () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer({ ACCESS_TOKEN_TTL_SECONDS: String(TTL_SECONDS) });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("refreshes, re-authenticates the socket, and keeps two tabs signed in", async () => {
    try {
      await registerViaApi(server.baseURL, "alice", PASSWORD, "Alice");
      const bob = await registerViaApi(server.baseURL, "bob", PASSWORD, "Bob");
      const aliceToken = await loginViaApi(server.baseURL, "alice", PASSWORD);
      const r = await fetch(`${server.baseURL}/api/v1/conversations`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${aliceToken}` },
        body: JSON.stringify({ kind: "direct", member_ids: [bob.id] }),
      });
      const conversation = await r.json();

      const context = await browser.newContext({ baseURL: server.baseURL });
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      const cspViolations = collectCspViolations(page);
      const authFrames = [];
      const closes = [];
      page.on("websocket", (ws) => {
        ws.on("framesent", (f) => {
          if (String(f.payload).includes('"type":"auth"')) authFrames.push(Date.now());
        });
        ws.on("close", () => closes.push(Date.now()));
      });
      assertStrictCsp(await page.goto("/login"));
      await page.getByLabel("Username").fill("alice");
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByTestId("conversation-item").filter({ hasText: "Bob" }).click();
      const firstRefreshToken = await page.evaluate(() => localStorage.getItem("chatapi.refresh_token"));

      // A second tab shares the refresh token: both refresh on their own timers.
      const second = await context.newPage();
      second.setDefaultTimeout(20_000);
      await second.goto("/");
      await second.getByRole("heading", { name: "Chats" }).waitFor();

      await page.waitForTimeout(TTL_SECONDS * 2_600);

      assert.ok(authFrames.length >= 3, `expected the socket to re-authenticate, saw ${authFrames.length} auth frames`);
      assert.equal(closes.length, 0, "the socket was closed instead of re-authenticated");
      const laterRefreshToken = await page.evaluate(() => localStorage.getItem("chatapi.refresh_token"));
      assert.notEqual(laterRefreshToken, firstRefreshToken, "the refresh token was not rotated");

      // Still live after several expiries: a message from Bob arrives, Alice's goes out.
      const bobToken = await loginViaApi(server.baseURL, "bob", PASSWORD);
      await postMessage(server.baseURL, bobToken, conversation.id, "still there?");
      await page.getByTestId("message").filter({ hasText: "still there?" }).waitFor();
      await page.getByTestId("composer-input").fill("yes");
      await page.getByTestId("composer-input").press("Enter");
      await page.waitForFunction(() => {
        const rows = [...document.querySelectorAll('[data-testid="message"]')];
        const mine = rows.find((r) => r.textContent?.startsWith("yes"));
        return mine?.querySelector('[data-testid="message-status"]')?.getAttribute("data-status") !== "pending";
      });

      // Neither tab ever presented a spent refresh token: both stay signed in across reloads.
      for (const p of [page, second]) {
        await p.reload();
        await p.getByRole("heading", { name: "Chats" }).waitFor();
      }
      assert.deepEqual(cspViolations, [], "Content Security Policy violations in the console");
      await context.close();
    } catch (error) {
      console.error(`--- server log (tail) ---\n${server.log().slice(-6000)}`);
      throw error;
    }
  });
});
