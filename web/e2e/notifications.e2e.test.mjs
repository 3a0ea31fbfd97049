// Desktop notifications as people meet them (issue 15): Alice turns them on in Settings
// (the browser's permission is asked there; this headless browser has no push service, so
// the switch says so quietly and in-app notifications still work). With her tab hidden,
// Bob's messages show one notification per conversation through the service worker,
// replaced as they arrive, with the group's title and attachment previews; the open
// conversation stays quiet, a muted one too unless she is mentioned; a click opens the
// conversation; turning previews off on another device applies at once.
//
// Headless Chromium keeps every page "visible" (minimizing its window, another tab in
// front, Page.bringToFront: none changes document.visibilityState), so Alice's context
// gets an init script that lets the test hide her tab: visibilityState and hidden read a
// flag, and the flip fires visibilitychange, like a real tab switch. Nothing clicks an OS
// notification in headless Chromium either (no CDP command does): the test dispatches a
// `notificationclick` NotificationEvent for the real notification inside the service
// worker, which runs sw.ts's own handler.
// Run: npx vite build && node --test e2e/notifications.e2e.test.mjs
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  apiCall,
  collectCspViolations,
  createDirectViaApi,
  createGroupViaApi,
  inCI,
  missingPrerequisite,
  postMessage,
  screenshotDir,
  signUpAll,
  startScenario,
} from "./harness.mjs";

const PASSWORD = "correct horse battery";
const missing = missingPrerequisite();
const skip = missing && !inCI ? missing : false;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

/** Lets the test hide the tab: see the file's comment. Runs before the page's scripts. */
function hideableTab() {
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true,
    get: () => (hidden ? "hidden" : "visible"),
  });
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => hidden });
  globalThis.__e2eSetHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };
}

describe("desktop notifications in the browser", { skip: Boolean(missing), timeout: 120_000 }, () => {
  let server;
  let browser;
  let base;
  const people = {};
  const cspViolations = [];
  let direct;
  let group;
  let alice;

  before(async () => {
    ({ server, browser } = await startScenario());
    base = server.baseURL;
    Object.assign(people, await signUpAll(base, PASSWORD, { alice: "Alice Liddell", bob: "Bob Dylan" }));
    direct = await createDirectViaApi(base, people.bob.token, people.alice.id);
    group = await createGroupViaApi(base, people.bob.token, "Weekend plans", [people.alice.id]);
    await postMessage(base, people.bob.token, direct.id, "Hi Alice");
    await postMessage(base, people.bob.token, group.id, "Who is in?");
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    assert.deepEqual(cspViolations.flat(), [], "no Content-Security-Policy violations");
  });

  function scenario(name, fn) {
    it(name, { skip }, async () => {
      try {
        await fn();
      } catch (error) {
        if (alice) await alice.page.screenshot({ path: join(screenshotDir, "15-n-failed.png") }).catch(() => {});
        console.error(`--- server log (tail) ---\n${server.log().slice(-4000)}`);
        throw error;
      }
    });
  }

  const shot = (page, name) => page.screenshot({ path: join(screenshotDir, name) });

  async function openAlice({ dark = false } = {}) {
    const context = await browser.newContext({
      baseURL: base,
      viewport: { width: 1000, height: 700 },
      colorScheme: dark ? "dark" : "light",
    });
    await context.grantPermissions(["notifications"], { origin: base });
    await context.addInitScript(hideableTab);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    cspViolations.push(collectCspViolations(page));
    await page.goto("/login");
    await page.getByLabel("Username").fill("alice");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Chats" }).waitFor();
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    return { context, page, errors };
  }

  /** The notifications the service worker shows now (title, body, tag, data). */
  function shown(page, tag) {
    return page.evaluate(async (t) => {
      const registration = await navigator.serviceWorker.ready;
      const list = await registration.getNotifications(t ? { tag: t } : undefined);
      return list.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
    }, tag);
  }

  async function waitForNotification(page, tag, body) {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const list = await shown(page, tag);
      if (list.some((n) => n.body === body)) return list;
      if (Date.now() > deadline) throw new Error(`no notification "${body}" (${tag}): ${JSON.stringify(list)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  function clearNotifications(page) {
    return page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      for (const n of await registration.getNotifications()) n.close();
    });
  }

  async function waitUntil(check, timeout = 10_000) {
    const deadline = Date.now() + timeout;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`not so after ${timeout} ms: ${check}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const setHidden = (page, value) => page.evaluate((v) => globalThis.__e2eSetHidden(v), value);
  const tagOf = (conversation) => `conversation:${conversation.id}`;
  const item = (page, text) => page.getByTestId("conversation-item").filter({ hasText: text });

  async function openSettings(page) {
    await page.getByRole("button", { name: /account menu/ }).click();
    await page.getByRole("button", { name: "Settings…" }).click();
    const dialog = page.getByRole("dialog", { name: "Settings" });
    await dialog.getByTestId("notification-settings").waitFor();
    // Done fading in (for the screenshots).
    await page.waitForFunction(() => {
      const modal = document.querySelector(".modal.show");
      return modal !== null && getComputedStyle(modal).opacity === "1";
    });
    return dialog;
  }

  scenario("15-n1: notifications are turned on from Settings; no push service here, said quietly", async () => {
    alice = await openAlice();
    // Never asked on page load: the permission is only asked from the switch.
    const dialog = await openSettings(alice.page);
    const main = dialog.getByRole("switch", { name: "Desktop notifications for new messages" });
    // The server's default is on, and this browser allows them: on.
    assert.equal(await main.isChecked(), true);
    await main.click();
    await waitUntil(async () => !(await apiCall(base, people.alice.token, "GET", "/users/me/settings")).notifications);
    assert.equal(await main.isChecked(), false);
    assert.equal(await dialog.getByRole("switch", { name: "Show message text" }).isDisabled(), true);

    await main.click();
    await waitUntil(async () => (await apiCall(base, people.alice.token, "GET", "/users/me/settings")).notifications);
    await dialog.getByTestId("push-note").filter({ hasText: "Push isn't available in this browser" }).waitFor();
    assert.equal(await main.isChecked(), true);
    await shot(alice.page, "15-settings-light.png");
    await dialog.getByRole("button", { name: "Close" }).click();
    await dialog.waitFor({ state: "detached" });
  });

  scenario("15-n2: a hidden tab gets one notification per conversation, replaced as messages come", async () => {
    const { page } = alice;
    await clearNotifications(page);
    await setHidden(page, true);
    await postMessage(base, people.bob.token, direct.id, "Lunch at **noon**? See [menu](https://x.example/m)");
    let list = await waitForNotification(page, tagOf(direct), "Lunch at noon? See menu");
    assert.deepEqual(list, [
      {
        title: "Bob Dylan",
        body: "Lunch at noon? See menu",
        tag: tagOf(direct),
        data: { url: `/c/${direct.id}`, conversation_id: direct.id },
      },
    ]);
    await postMessage(base, people.bob.token, direct.id, "Or at one");
    list = await waitForNotification(page, tagOf(direct), "Or at one");
    assert.equal(list.length, 1, "the conversation's notification is replaced, not stacked");

    // A group: its title follows the sender's name. An attachment says what it is.
    const upload = await fetch(`${base}/api/v1/media`, {
      method: "POST",
      headers: { Authorization: `Bearer ${people.bob.token}` },
      body: (() => {
        const form = new FormData();
        form.append("file", new Blob(["%PDF-1.4\n%%EOF\n"], { type: "application/pdf" }), "report.pdf");
        return form;
      })(),
    });
    assert.equal(upload.status, 201, await upload.clone().text());
    const media = await upload.json();
    await apiCall(base, people.bob.token, "POST", `/conversations/${group.id}/messages`, {
      body: "",
      attachment_ids: [media.id],
    });
    list = await waitForNotification(page, tagOf(group), "📄 report.pdf");
    assert.equal(list[0].title, "Bob Dylan · Weekend plans");
    assert.equal((await shown(page)).length, 2, "one per conversation");
  });

  scenario("15-n3: clicking a notification opens its conversation", async () => {
    const { page, context } = alice;
    const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent("serviceworker"));
    await setHidden(page, false);
    await worker.evaluate(async (tag) => {
      const [notification] = await self.registration.getNotifications({ tag });
      self.dispatchEvent(new NotificationEvent("notificationclick", { notification }));
    }, tagOf(direct));
    await page.waitForURL(`**/c/${direct.id}`);
    await page.getByTestId("conversation-title").filter({ hasText: "Bob Dylan" }).waitFor();
    await page.getByTestId("message").filter({ hasText: "Or at one" }).waitFor();
    // Clicked (and opened): it is gone; the other conversation's stays.
    await page.waitForFunction(
      async (tag) => (await (await navigator.serviceWorker.ready).getNotifications({ tag })).length === 0,
      tagOf(direct),
    );
    assert.equal((await shown(page, tagOf(group))).length, 1);
    await shot(page, "15-opened-from-notification-light.png");
  });

  scenario("15-n4: the open conversation stays quiet; another one notifies", async () => {
    const { page } = alice;
    await clearNotifications(page);
    // Visible, with the direct chat open.
    await postMessage(base, people.bob.token, direct.id, "Seen it?");
    await page.getByTestId("message").filter({ hasText: "Seen it?" }).waitFor();
    await postMessage(base, people.bob.token, group.id, "Saturday then");
    await waitForNotification(page, tagOf(group), "Saturday then");
    assert.deepEqual(await shown(page, tagOf(direct)), [], "nothing for the conversation on screen");
  });

  scenario("15-n5: a muted conversation is silent, except when it mentions me", async () => {
    const { page } = alice;
    await clearNotifications(page);
    await item(page, "Weekend plans").click();
    await page.getByTestId("mute-toggle").click();
    await page.getByRole("button", { name: "Until I unmute" }).click();
    await item(page, "Weekend plans").getByTestId("muted-icon").waitFor();
    await setHidden(page, true);
    await postMessage(base, people.bob.token, group.id, "Muted chatter");
    // A later message elsewhere arrives after it: by then the muted one would have shown.
    await postMessage(base, people.bob.token, direct.id, "Ping from the direct chat");
    await waitForNotification(page, tagOf(direct), "Ping from the direct chat");
    assert.deepEqual(await shown(page, tagOf(group)), [], "the muted group stays quiet");
    await postMessage(base, people.bob.token, group.id, "@alice are you coming?");
    const list = await waitForNotification(page, tagOf(group), "@alice are you coming?");
    assert.equal(list[0].title, "Bob Dylan · Weekend plans");
    await setHidden(page, false);
  });

  scenario("15-n6: previews turned off on another device apply at once", async () => {
    const { page } = alice;
    const dialog = await openSettings(page);
    const previews = dialog.getByRole("switch", { name: "Show message text" });
    assert.equal(await previews.isChecked(), true);
    // Alice's phone turns previews off: this tab hears settings.updated.
    await apiCall(base, people.alice.token, "PATCH", "/users/me/settings", { notification_previews: false });
    await page.waitForFunction(
      () => !document.querySelector('[data-testid="notification-settings"] input[id$="-previews"]')?.checked,
    );
    await dialog.getByRole("button", { name: "Close" }).click();
    await clearNotifications(page);
    await setHidden(page, true);
    await postMessage(base, people.bob.token, direct.id, "The secret plan");
    await waitForNotification(page, tagOf(direct), "New message");
    await setHidden(page, false);
  });

  scenario("15-n7: the settings in dark mode", async () => {
    const dark = await openAlice({ dark: true });
    const dialog = await openSettings(dark.page);
    await dialog.getByRole("switch", { name: "Show message text" }).waitFor();
    await shot(dark.page, "15-settings-dark.png");
    await dark.context.close();
  });
});
