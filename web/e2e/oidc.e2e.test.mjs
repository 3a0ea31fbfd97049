// Single sign-on in the browser, against a real OpenID Provider: oidc-provider started from
// tests/oidc/provider.mjs (the script pytest starts too) with its own login and consent pages.
// Run: npm run test:e2e   (see harness.mjs for the environment it reads; the provider needs
// `npm ci` in tests/oidc, which `make test` does)
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  accessibilityProblems,
  assertStrictCsp,
  collectCspViolations,
  inCI,
  launchBrowser,
  loginViaApi,
  missingPrerequisite,
  postMessage,
  registerViaApi,
  repoDir,
  screenshotDir,
  startServer,
} from "./harness.mjs";

const PASSWORD = "correct horse battery";
const providerDir = join(repoDir, "tests", "oidc");
const missing =
  missingPrerequisite() ??
  (existsSync(join(providerDir, "node_modules", "oidc-provider"))
    ? null
    : "tests/oidc/node_modules is missing (make test, or npm ci in tests/oidc)");
const skip = missing && !inCI ? missing : false;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

async function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/** tests/oidc/provider.mjs on `port`, accepting `redirectUris`; resolves once it is listening. */
async function startProvider(port, redirectUris) {
  const child = spawn(process.execPath, [join(providerDir, "provider.mjs")], {
    cwd: providerDir,
    env: { ...process.env, OP_PORT: String(port), OP_REDIRECT_URIS: redirectUris.join(","), NODE_NO_WARNINGS: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (d) => (log += d));
  await new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`the OpenID Provider did not start:\n${log}`)), 30_000);
    child.stdout.on("data", (d) => {
      log += d;
      if (log.includes("listening ")) {
        clearTimeout(timer);
        resolveStart(undefined);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the OpenID Provider exited ${code}:\n${log}`));
    });
  });
  return {
    log: () => log,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

describe("single sign-on with an OpenID Provider", { skip: Boolean(missing), timeout: 120_000 }, () => {
  let server;
  let provider;
  let browser;

  before(async () => {
    await mkdir(screenshotDir, { recursive: true });
    // The provider's address goes into chatapi's configuration, chatapi's into the
    // provider's: the port first, chatapi next (it asks the provider nothing until a
    // sign-in), the provider last.
    const opPort = await freePort();
    const issuer = `http://127.0.0.1:${opPort}`;
    server = await startServer({
      OIDC_PROVIDERS: JSON.stringify([
        { name: "op", issuer, client_id: "chatapi", client_secret: "chatapi-secret", label: "Test OP" },
      ]),
    });
    provider = await startProvider(opPort, [`${server.baseURL}/api/v1/auth/oidc/op/callback`]);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await provider?.stop();
    await server?.stop();
  });

  /** At the provider: its own sign-in page (any password), then its consent page. */
  async function throughProvider(page, login) {
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill("any password");
    await page.getByRole("button", { name: "Sign-in" }).click();
    await page.getByRole("button", { name: "Continue" }).click();
  }

  it(
    "17: a button, the provider's pages, and back into chatapi signed in, where the person was",
    { skip },
    async () => {
      const bob = await registerViaApi(server.baseURL, "bob", PASSWORD, "Bob Baker");
      const bobToken = await loginViaApi(server.baseURL, "bob", PASSWORD);
      const context = await browser.newContext({ baseURL: server.baseURL });
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      const csp = collectCspViolations(page);
      try {
        // First sign-in: chatapi's sign-in page, the provider, then a username to choose.
        assertStrictCsp(await page.goto("/"));
        await page.getByRole("link", { name: "Sign in with Test OP" }).waitFor();
        assert.deepEqual(await accessibilityProblems(page), []);
        await page.screenshot({ path: join(screenshotDir, "17-oidc-sign-in-page.png") });
        await page.getByRole("link", { name: "Sign in with Test OP" }).click();
        await page.waitForURL((url) => url.port !== new URL(server.baseURL).port);
        await throughProvider(page, "alice");
        await page.getByRole("heading", { name: "Welcome, Alice Liddell" }).waitFor();
        assert.equal(new URL(page.url()).hash, "", "the one-time code left the address bar");
        assert.equal(await page.getByLabel("Username", { exact: true }).inputValue(), "alice");
        assert.deepEqual(await accessibilityProblems(page), []);
        await page.screenshot({ path: join(screenshotDir, "17-oidc-new-account.png") });
        await page.getByRole("button", { name: "Create account" }).click();
        await page.getByRole("heading", { name: "Chats" }).waitFor();

        // Someone starts a group with her; she signs out, and later follows a link into it.
        const users = await (
          await fetch(`${server.baseURL}/api/v1/users?q=alice`, { headers: { Authorization: `Bearer ${bobToken}` } })
        ).json();
        const alice = users.find((u) => u.username === "alice");
        const group = await (
          await fetch(`${server.baseURL}/api/v1/conversations`, {
            method: "POST",
            headers: { "Content-Type": "application/json", Authorization: `Bearer ${bobToken}` },
            body: JSON.stringify({ kind: "group", title: "Tea party", member_ids: [alice.id] }),
          })
        ).json();
        await postMessage(server.baseURL, bobToken, group.id, "Welcome aboard, Alice!");
        assert.ok(bob.id);
        await page.getByRole("button", { name: /account menu/ }).click();
        await page.getByRole("button", { name: "Sign out" }).click();
        await page.getByRole("link", { name: "Sign in with Test OP" }).waitFor();

        await page.goto(`/c/${group.id}`);
        await page.getByRole("link", { name: "Sign in with Test OP" }).click();
        // The provider remembers her and her consent: straight back, signed in, in the group.
        await page.getByRole("main").getByText("Welcome aboard, Alice!").waitFor();
        assert.equal(new URL(page.url()).pathname, `/c/${group.id}`);
        const refresh = await page.evaluate(() => localStorage.getItem("chatapi.refresh_token"));
        assert.ok(refresh, "signed in with chatapi's own refresh token");
        assert.ok(!page.url().includes(refresh.slice(0, 20)), "no token in the URL");
        await page.screenshot({ path: join(screenshotDir, "17-oidc-signed-in.png") });

        // Her only way in cannot be unlinked; the dialog says why.
        await page.getByRole("button", { name: /account menu/ }).click();
        await page.getByRole("button", { name: "Sign-in methods…" }).click();
        const dialog = page.getByRole("dialog", { name: "Sign-in methods" });
        await dialog.getByText("Linked as alice@example.test").waitFor();
        await dialog.getByRole("button", { name: "Unlink Test OP" }).click();
        await dialog.getByTestId("sign-in-methods-error").filter({ hasText: "only way you sign in" }).waitFor();
        assert.deepEqual(await accessibilityProblems(page), []);
        await page.screenshot({ path: join(screenshotDir, "17-oidc-sign-in-methods.png") });
        assert.deepEqual(csp, []);
      } catch (error) {
        console.error(`--- server log (tail) ---\n${server.log().slice(-4000)}`);
        console.error(`--- provider log (tail) ---\n${provider.log().slice(-2000)}`);
        throw error;
      } finally {
        await context.close();
      }
    },
  );

  it("17: someone with a password links the provider from the account menu", { skip }, async () => {
    await registerViaApi(server.baseURL, "carol", PASSWORD, "Carol");
    const context = await browser.newContext({ baseURL: server.baseURL });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    try {
      await page.goto("/login");
      await page.getByLabel("Username").fill("carol");
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await page.getByRole("heading", { name: "Chats" }).waitFor();
      await page.getByRole("button", { name: /account menu/ }).click();
      await page.getByRole("button", { name: "Sign-in methods…" }).click();
      await page.getByRole("dialog", { name: "Sign-in methods" }).getByRole("button", { name: "Link Test OP" }).click();
      await throughProvider(page, "bob");
      // Back in chatapi, still signed in, the dialog open again with the new link.
      const dialog = page.getByRole("dialog", { name: "Sign-in methods" });
      await dialog.getByText("Linked as bob@example.test").waitFor();
      await dialog.getByRole("button", { name: "Unlink Test OP" }).waitFor();
      await page.screenshot({ path: join(screenshotDir, "17-oidc-linked.png") });
    } catch (error) {
      console.error(`--- server log (tail) ---\n${server.log().slice(-4000)}`);
      throw error;
    } finally {
      await context.close();
    }
  });
});
