// chatapi as an installable app that opens offline (issue 15): the manifest and its icons,
// the service worker taking control, a reload without network showing the app (not the
// browser's error page) with its offline banner and the last conversation list (from
// IndexedDB; the worker's cache holds no API answer), a reachable server always giving the
// current index.html, and a new deploy offering "New version available — reload".
// One server (serving a copy of web/dist that the last scenario changes like a deploy
// would) and one browser; a context per scenario.
// Run: npx vite build && node --test e2e/pwa.e2e.test.mjs
import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  collectCspViolations,
  createDirectViaApi,
  inCI,
  missingPrerequisite,
  postMessage,
  screenshotDir,
  signUpAll,
  startScenario,
  webDir,
} from "./harness.mjs";

const PASSWORD = "correct horse battery";
const missing = missingPrerequisite();
const skip = missing && !inCI ? missing : false;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

describe("installable app, offline start and updates", { skip: Boolean(missing), timeout: 120_000 }, () => {
  let server;
  let browser;
  let base;
  let dist;
  const cspViolations = [];
  const people = {};

  before(async () => {
    // A copy of the build: the update scenario deploys a "new version" into it.
    dist = await mkdtemp(join(tmpdir(), "chatapi-pwa-dist-"));
    await cp(join(webDir, "dist"), dist, { recursive: true });
    ({ server, browser } = await startScenario({
      WEB_DIST_DIR: dist,
    }));
    base = server.baseURL;
    Object.assign(people, await signUpAll(base, PASSWORD, { alice: "Alice Liddell", bob: "Bob Dylan" }));
    const direct = await createDirectViaApi(base, people.bob.token, people.alice.id);
    await postMessage(base, people.bob.token, direct.id, "See you at the station");
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (dist) await rm(dist, { recursive: true, force: true });
    assert.deepEqual(cspViolations.flat(), [], "no Content-Security-Policy violations");
  });

  function scenario(name, fn) {
    it(name, { skip }, async () => {
      try {
        await fn();
      } catch (error) {
        for (const c of browser.contexts())
          for (const [i, p] of c.pages().entries())
            await p.screenshot({ path: join(screenshotDir, `15-failed-${i}.png`) }).catch(() => undefined);
        console.error(`--- server log (tail) ---\n${server.log().slice(-4000)}`);
        throw error;
      }
    });
  }

  const shot = (page, name) => page.screenshot({ path: join(screenshotDir, name) });

  async function signIn(username, { dark = false } = {}) {
    const context = await browser.newContext({
      baseURL: base,
      viewport: { width: 1000, height: 680 },
      colorScheme: dark ? "dark" : "light",
    });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    cspViolations.push(collectCspViolations(page));
    await page.goto("/login");
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Chats" }).waitFor();
    return { context, page, errors };
  }

  /** The service worker controls the page (it claims it on first install). */
  async function controlled(page) {
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
  }

  /** What the worker's caches hold: cache name -> request URLs (paths). */
  function cachedUrls(page) {
    return page.evaluate(async () => {
      const out = {};
      for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        out[name] = (await cache.keys()).map((r) => new URL(r.url).pathname);
      }
      return out;
    });
  }

  /** Poll `check` (an async predicate run here) until it holds. */
  async function waitUntil(check, timeout = 10_000) {
    const deadline = Date.now() + timeout;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`not so after ${timeout} ms: ${check}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** In the page: how many conversations the app saved for offline use (IndexedDB). */
  async function savedListLength() {
    // Never open (and so create) the database before the app has: it makes its store then.
    if (!(await indexedDB.databases()).some((d) => d.name === "chatapi-offline")) return 0;
    return new Promise((resolve) => {
      const open = indexedDB.open("chatapi-offline");
      open.onsuccess = () => {
        const db = open.result;
        const get = db.transaction("snapshot").objectStore("snapshot").get("conversations");
        get.onsuccess = () => {
          db.close();
          resolve(get.result?.value?.length ?? 0);
        };
      };
      open.onerror = () => resolve(0);
    });
  }

  const item = (page, text) => page.getByTestId("conversation-item").filter({ hasText: text });

  scenario("15-a: the manifest, its icons and the worker make an installable app", async () => {
    const { context, page } = await signIn("alice");
    const href = await page.locator('link[rel="manifest"]').getAttribute("href");
    assert.equal(href, "/manifest.webmanifest");
    const manifest = await (await fetch(`${base}${href}`)).json();
    assert.equal(manifest.name, "chatapi");
    assert.equal(manifest.display, "standalone");
    assert.equal(manifest.start_url, "/");
    const purposes = manifest.icons.map((i) => `${i.sizes} ${i.purpose}`);
    for (const want of ["192x192 any", "512x512 any", "512x512 maskable"]) assert.ok(purposes.includes(want), want);
    for (const icon of manifest.icons) {
      const r = await fetch(`${base}${icon.src}`);
      assert.equal(r.status, 200, icon.src);
      assert.equal(r.headers.get("content-type"), icon.type, icon.src);
    }
    const themes = await page.locator('meta[name="theme-color"]').evaluateAll((m) => m.map((x) => x.media));
    assert.deepEqual(themes.sort(), ["(prefers-color-scheme: dark)", "(prefers-color-scheme: light)"]);
    await controlled(page);
    const script = await page.evaluate(() => navigator.serviceWorker.controller.scriptURL);
    assert.equal(script, `${base}/sw.js`);
    await context.close();
  });

  scenario("15-b: a reload offline shows the app, its offline banner and the last list", async () => {
    for (const dark of [false, true]) {
      const { context, page } = await signIn("alice", { dark });
      const last = dark ? "back online light" : "See you at the station";
      await item(page, "Bob Dylan").getByText(last).waitFor();
      await controlled(page);
      // The list reaches IndexedDB (batched, a second after it changes).
      await waitUntil(() => page.evaluate(savedListLength).then((n) => n > 0));

      await context.setOffline(true);
      const response = await page.reload();
      assert.ok(response, "the reload is answered");
      assert.ok(response.fromServiceWorker(), "by the service worker, from its cache");
      const banner = page.getByTestId("connection-banner");
      await banner.filter({ hasText: "You are offline. Showing your chats as they were" }).waitFor();
      await item(page, "Bob Dylan").getByText(last).waitFor();
      assert.match(await page.title(), /chatapi$/, "the app, not the browser's error page");
      await shot(page, `15-offline-${dark ? "dark" : "light"}.png`);

      // Only the shell is cached: no API answer, no media.
      const cached = await cachedUrls(page);
      const urls = Object.values(cached).flat();
      assert.ok(urls.includes("/index.html"), `the shell is cached: ${JSON.stringify(cached)}`);
      assert.ok(urls.some((u) => u.startsWith("/assets/")));
      assert.deepEqual(
        urls.filter((u) => u.startsWith("/api/")),
        [],
      );

      // Back online: the socket connects, the banner goes, the list is the server's again.
      await context.setOffline(false);
      await banner.waitFor({ state: "detached" });
      await postMessage(base, people.bob.token, (await directId()).id, `back online ${dark ? "dark" : "light"}`);
      await item(page, "Bob Dylan")
        .getByText(`back online ${dark ? "dark" : "light"}`)
        .waitFor();
      await context.close();
    }
  });

  async function directId() {
    const r = await fetch(`${base}/api/v1/conversations`, {
      headers: { Authorization: `Bearer ${people.alice.token}` },
    });
    return (await r.json())[0];
  }

  scenario("15-c: a reachable server always gives the current page, never the cached one", async () => {
    const { context, page } = await signIn("alice");
    await controlled(page);
    const index = join(dist, "index.html");
    const original = await readFile(index, "utf8");
    try {
      await writeFile(index, original.replace("<title>", '<meta name="deploy" content="fresh" />\n    <title>'));
      const response = await page.reload();
      assert.equal(response.fromServiceWorker(), true, "the worker answers page loads");
      assert.equal(await page.locator('meta[name="deploy"]').getAttribute("content"), "fresh");
    } finally {
      await writeFile(index, original);
    }
    await context.close();
  });

  scenario("15-d: a new deploy offers to reload, and reloading takes the new version", async () => {
    for (const dark of [false, true]) {
      const { context, page } = await signIn("alice", { dark });
      await controlled(page);
      const before = Object.keys(await cachedUrls(page));
      assert.equal(before.length, 1, `one shell cache: ${before}`);
      const [oldName] = before;

      // Deploy: a new build's worker (its cache named for the new file list).
      const swPath = join(dist, "sw.js");
      const sw = await readFile(swPath, "utf8");
      assert.ok(sw.includes(oldName), "the worker names its cache");
      const newName = `chatapi-shell-e2e${dark ? "dark" : "light"}`;
      await writeFile(swPath, sw.replaceAll(oldName, newName));

      // The browser checks for a new worker on navigation and when the app asks (hourly);
      // ask now, as the hourly check would.
      await page.evaluate(async () => (await navigator.serviceWorker.getRegistration()).update());
      const prompt = page.getByTestId("update-prompt");
      await prompt.getByText("New version available").waitFor();
      // Until asked, the old worker keeps the page: its scripts stay consistent.
      assert.deepEqual(Object.keys(await cachedUrls(page)).sort(), [newName, oldName].sort());
      await shot(page, `15-update-${dark ? "dark" : "light"}.png`);

      const reloaded = page.waitForEvent("framenavigated");
      await prompt.getByRole("button", { name: "Reload" }).click();
      await reloaded;
      await page.getByRole("heading", { name: "Chats" }).waitFor();
      await page.waitForFunction((name) => caches.keys().then((k) => k.length === 1 && k[0] === name), newName);
      assert.equal(await prompt.count(), 0, "no prompt after the update");
      await context.close();
    }
  });
});
