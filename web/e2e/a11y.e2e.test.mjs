// Accessibility, layout and look in a real browser: keyboard paths, dialogs that keep
// focus, right-to-left text, touch, a phone on its side, light and dark, axe-core.
// Run: npm run build && node --test --test-concurrency=1 e2e/a11y.e2e.test.mjs
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
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
  screenshotDir,
  startServer,
} from "./harness.mjs";

const PASSWORD = "correct horse battery";
const missing = missingPrerequisite();
const skip = missing && !inCI ? missing : false;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

describe("accessibility, layout and look", { skip: Boolean(missing), timeout: 150_000 }, () => {
  let server;
  let browser;
  const people = {};
  const ids = {};
  const pages = [];
  const cspViolations = [];
  let alice;

  async function call(method, path, token, body) {
    const r = await fetch(`${server.baseURL}/api/v1${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r.status === 204 ? null : r.json();
  }

  async function uploadText(token, name, text) {
    const form = new FormData();
    form.append("file", new Blob([text], { type: "text/plain" }), name);
    const r = await fetch(`${server.baseURL}/api/v1/media`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      body: form,
    });
    if (r.status !== 201) throw new Error(`upload: ${r.status} ${await r.text()}`);
    return r.json();
  }

  before(async () => {
    await mkdir(screenshotDir, { recursive: true });
    server = await startServer();
    browser = await launchBrowser();
    for (const [name, display] of [
      ["alice", "Alice"],
      ["bob", "Bob"],
      ["carol", "Carol"],
    ]) {
      people[name] = await registerViaApi(server.baseURL, name, PASSWORD, display);
      people[name].token = await loginViaApi(server.baseURL, name, PASSWORD);
    }
    const { alice: a, bob: b, carol: c } = people;
    ids.direct = (await call("POST", "/conversations", a.token, { kind: "direct", member_ids: [b.id] })).id;
    ids.emojiOnly = (
      await call("POST", "/conversations", a.token, { kind: "group", title: "🎉🎈", member_ids: [b.id] })
    ).id;
    ids.group = (
      await call("POST", "/conversations", a.token, {
        kind: "group",
        title: "🎉 Party people",
        member_ids: [b.id, c.id],
      })
    ).id;
    // The group: two senders, a document with a caption, right-to-left text, and three
    // of Alice's messages that end up read, delivered and sent.
    await postMessage(server.baseURL, b.token, ids.group, "Who brings the snacks?");
    await postMessage(server.baseURL, c.token, ids.group, "I can bring crisps and dips.");
    const doc = await uploadText(b.token, "packing-list.txt", "boots, water, map\n".repeat(40));
    await call("POST", `/conversations/${ids.group}/messages`, b.token, { body: "The list", attachment_ids: [doc.id] });
    await postMessage(server.baseURL, c.token, ids.group, "שלום, מה נשמע?");
    const read = await postMessage(server.baseURL, a.token, ids.group, "Great, see you at six!");
    const delivered = await postMessage(server.baseURL, a.token, ids.group, "I'll bring the speaker.");
    await postMessage(server.baseURL, a.token, ids.group, "And a cake.");
    for (const p of [b, c]) {
      await call("POST", `/conversations/${ids.group}/read`, p.token, { seq: read.seq });
      await call("POST", `/conversations/${ids.group}/delivered`, p.token, { seq: delivered.seq });
    }
    await postMessage(server.baseURL, b.token, ids.direct, "Hi Alice");
  });

  after(async () => {
    let i = 0;
    for (const page of pages) {
      i += 1;
      if (!page.isClosed())
        await page.screenshot({ path: join(screenshotDir, `last-a11y-${i}.png`) }).catch(() => undefined);
    }
    await browser?.close();
    await server?.stop();
  });

  async function newPage(options = {}) {
    const context = await browser.newContext({
      baseURL: server.baseURL,
      viewport: { width: 1280, height: 800 },
      colorScheme: "light",
      ...options,
    });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    cspViolations.push(collectCspViolations(page));
    pages.push(page);
    return { context, page, errors };
  }

  async function assertAccessible(page, where) {
    const problems = await accessibilityProblems(page);
    assert.deepEqual(problems, [], `accessibility problems on ${where}:\n${problems.join("\n")}`);
  }

  async function signIn(page, username) {
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Chats" }).waitFor();
  }

  const focused = (page) =>
    page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return "body";
      return el.getAttribute("data-testid") ?? el.getAttribute("aria-label") ?? el.id ?? el.tagName;
    });

  const item = (page, title) => page.getByTestId("conversation-item").filter({ hasText: title });
  const message = (page, text) => page.getByTestId("message").filter({ hasText: text });

  async function openGroup(page) {
    await item(page, "Party people").click();
    await message(page, "And a cake.").waitFor();
  }

  it(
    "13-11 sign-in is accessible and focus then starts in the chat list; the empty state offers a way on",
    { skip },
    async () => {
      alice = await newPage();
      const { page } = alice;
      assertStrictCsp(await page.goto("/login"));
      await assertAccessible(page, "the sign-in page");
      await signIn(page, "alice");
      await page.waitForFunction(() => document.activeElement?.getAttribute("data-testid") === "conversation-item");
      assert.equal(await focused(page), "conversation-item", "focus lands on the first chat, not on the page body");

      // The empty state: a picture, and a call to action that leads to the people search.
      await page.getByRole("heading", { name: "Pick up a conversation" }).waitFor();
      assert.equal(await page.locator(".empty-state svg").count(), 1);
      await page.getByRole("button", { name: "Start a conversation" }).click();
      assert.equal(await page.evaluate(() => document.activeElement?.id), "people-search");
      await assertAccessible(page, "the conversation list");

      // Group initials come from letters, never an emoji; no letters at all: a person icon.
      const party = item(page, "Party people").getByTestId("avatar");
      assert.equal((await party.innerText()).trim(), "PP");
      const emojiOnly = item(page, "🎉🎈").getByTestId("avatar");
      assert.equal((await emojiOnly.innerText()).trim(), "");
      assert.equal(await emojiOnly.locator("svg").count(), 1, "a person icon instead of emoji initials");
    },
  );

  it("13-11 the chat list moves with Up, Down, Home and End", { skip }, async () => {
    const { page } = alice;
    const items = page.getByTestId("conversation-item");
    assert.equal(await items.count(), 3);
    const title = () => page.evaluate(() => document.activeElement?.textContent ?? "");
    await items.first().focus();
    const first = await title();
    await page.keyboard.press("ArrowDown");
    const second = await title();
    assert.notEqual(second, first);
    await page.keyboard.press("End");
    assert.equal(await title(), await items.last().textContent());
    await page.keyboard.press("ArrowDown");
    assert.equal(await title(), await items.last().textContent(), "Down at the end stays on the last chat");
    await page.keyboard.press("Home");
    assert.equal(await title(), first);
    await page.keyboard.press("ArrowUp");
    assert.equal(await title(), first, "Up at the top stays on the first chat");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowUp");
    assert.equal(await title(), first);
  });

  it(
    "13-13 a group conversation: who is in it, coloured names, ticks by shape, documents, RTL, the actions button",
    { skip },
    async () => {
      const { page } = alice;
      await openGroup(page);
      const subtitle = page.getByTestId("conversation-subtitle");
      assert.equal(await subtitle.locator("span").first().innerText(), "Bob, Carol, you");
      assert.match(await subtitle.innerText(), /3 members$/);

      // Names in a colour of their own, readable on the bubble.
      const bob = page.getByTestId("message-sender").filter({ hasText: "Bob" }).first();
      const carol = page.getByTestId("message-sender").filter({ hasText: "Carol" }).first();
      const colourOf = (l) => l.evaluate((el) => getComputedStyle(el).color);
      const slotOf = async (l) => (await l.getAttribute("class")).match(/name-c(\d+)/)?.[1];
      // Ids are random: two people may share one of the palette's slots (1 in 8). Names
      // take their slot's colour, and different slots differ.
      assert.ok((await slotOf(bob)) !== undefined && (await slotOf(carol)) !== undefined);
      if ((await slotOf(bob)) === (await slotOf(carol))) {
        assert.equal(await colourOf(bob), await colourOf(carol));
      } else {
        assert.notEqual(await colourOf(bob), await colourOf(carol), "Bob and Carol have different name colours");
      }
      const slots = await page.evaluate(() => {
        const probe = document.createElement("span");
        document.body.append(probe);
        const colours = Array.from({ length: 8 }, (_, i) => {
          probe.className = `sender-name name-c${i}`;
          return getComputedStyle(probe).color;
        });
        probe.remove();
        return colours;
      });
      assert.equal(new Set(slots).size, 8, `the eight name colours are distinct: ${slots.join(", ")}`);

      // Ticks differ by shape and name, not only colour.
      const tick = (text) => message(page, text).getByTestId("message-status");
      assert.equal(await tick("Great, see you at six!").getAttribute("data-status"), "read");
      assert.equal(await tick("I'll bring the speaker.").getAttribute("data-status"), "delivered");
      assert.equal(await tick("And a cake.").getAttribute("data-status"), "sent");
      const shape = (text) =>
        tick(text).evaluate((el) => ({
          label: el.getAttribute("aria-label"),
          title: el.getAttribute("title"),
          path: el.querySelector("path")?.getAttribute("d"),
          filled: getComputedStyle(el).backgroundColor !== "rgba(0, 0, 0, 0)",
        }));
      const [read, delivered, sent] = [
        await shape("Great, see you at six!"),
        await shape("I'll bring the speaker."),
        await shape("And a cake."),
      ];
      assert.deepEqual([read.label, delivered.label, sent.label], ["Read", "Delivered", "Sent"]);
      assert.deepEqual([read.title, delivered.title, sent.title], ["Read", "Delivered", "Sent"]);
      assert.notEqual(sent.path, delivered.path, "sent ✓ and delivered ✓✓ are drawn differently");
      assert.ok(read.filled && !delivered.filled, "read is a filled ✓✓, delivered is not");

      // The document is a card of its own; the caption starts below it.
      const chip = await page.getByTestId("document-chip").boundingBox();
      const caption = await message(page, "The list").getByTestId("message-body").boundingBox();
      assert.ok(
        chip.y + chip.height <= caption.y + 1,
        `the caption overlaps the document chip: ${JSON.stringify({ chip, caption })}`,
      );

      // Right-to-left text keeps its punctuation where it belongs.
      const hebrew = message(page, "שלום").getByTestId("message-body");
      assert.equal(await hebrew.getAttribute("dir"), "auto");
      assert.equal(await hebrew.evaluate((el) => getComputedStyle(el).direction), "rtl");

      // The "⋯" button: at least 24×24, shown when it has focus.
      const actions = message(page, "Who brings the snacks?").getByRole("button", { name: /Actions for message/ });
      await actions.focus();
      const box = await actions.boundingBox();
      assert.ok(box.width >= 24 && box.height >= 24, `actions button is ${box.width}×${box.height}`);
      // (It fades in: wait for the end of the transition.)
      await page.waitForFunction(
        () => getComputedStyle(document.activeElement.closest(".message-actions")).opacity === "1",
        undefined,
        { timeout: 2000 },
      );

      // The composer's error: its × sits inside the alert.
      const input = page.getByTestId("composer-input");
      await input.fill("x".repeat(4001));
      await input.press("Enter");
      const alert = page.locator(".composer .alert");
      await alert.waitFor();
      const a = await alert.boundingBox();
      const x = await alert.getByRole("button", { name: "Close alert" }).boundingBox();
      assert.ok(
        x.y >= a.y && x.y + x.height <= a.y + a.height,
        `the × hangs outside the alert: ${JSON.stringify({ a, x })}`,
      );
      await alert.getByRole("button", { name: "Close alert" }).click();
      await input.fill("");

      await page.mouse.move(900, 300);
      await page.screenshot({ path: join(screenshotDir, "13-13-look-light.png") });
      await assertAccessible(page, "a group conversation (light)");
    },
  );

  async function assertFocusStaysIn(page, dialogName) {
    const dialog = page.getByRole("dialog", { name: dialogName });
    await dialog.waitFor();
    const inside = () =>
      page.evaluate(() => {
        const modal = document.querySelector(".modal.show");
        return Boolean(modal && document.activeElement && modal.contains(document.activeElement));
      });
    const seen = [];
    for (let i = 0; i < 24; i += 1) {
      await page.keyboard.press("Tab");
      assert.ok(await inside(), `Tab ${i + 1} took focus out of the "${dialogName}" dialog`);
      seen.push(await focused(page));
    }
    // Tabbing past the last control came round to the first again.
    const firstRepeat = seen.findIndex((s, i) => seen.indexOf(s) !== i);
    assert.ok(firstRepeat > 0, `focus never wrapped round in "${dialogName}": ${seen.join(", ")}`);
    for (let i = 0; i < 24; i += 1) {
      await page.keyboard.press("Shift+Tab");
      assert.ok(await inside(), `Shift+Tab ${i + 1} took focus out of the "${dialogName}" dialog`);
    }
  }

  it("13-11 the New group and group settings dialogs keep focus inside", { skip }, async () => {
    const { page } = alice;
    await page.getByRole("button", { name: "New group" }).click();
    await assertFocusStaysIn(page, "New group");
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });

    await page.getByRole("button", { name: "Group settings" }).click();
    await assertFocusStaysIn(page, "Group settings");
    await assertAccessible(page, "the group settings dialog");
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
  });

  it("13-13 dark mode has the same character and stays accessible", { skip }, async () => {
    const { page } = alice;
    await page.getByTestId("theme-toggle").click();
    assert.equal(await page.locator("html").getAttribute("data-bs-theme"), "dark");
    await message(page, "And a cake.").waitFor();
    await page.mouse.move(900, 300);
    await page.screenshot({ path: join(screenshotDir, "13-13-look-dark.png") });
    await assertAccessible(page, "a group conversation (dark)");
    await item(page, "Bob").click();
    await message(page, "Hi Alice").waitFor();
    await assertAccessible(page, "a direct conversation (dark)");
    await page.getByTestId("theme-toggle").click();
  });

  it("13-11 a phone: accessible, press and hold opens the message menu, on its side one header", { skip }, async () => {
    const phone = await newPage({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
    const { page } = phone;
    await page.goto("/login");
    await assertAccessible(page, "the sign-in page on a phone");
    await signIn(page, "bob");
    await assertAccessible(page, "the chat list on a phone");
    await openGroup(page);
    await assertAccessible(page, "a conversation on a phone");

    // Press and hold a message: its menu opens.
    const bubble = message(page, "I can bring crisps").locator(".bubble");
    const b = await bubble.boundingBox();
    const cdp = await phone.context.newCDPSession(page);
    const at = [{ x: b.x + b.width / 2, y: b.y + b.height / 2 }];
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: at });
    await page.waitForTimeout(800);
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    await page.getByRole("button", { name: "Reply", exact: true }).waitFor();
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "Reply", exact: true }).waitFor({ state: "hidden" });
    await cdp.detach();

    // On its side: the app's header folds away, the chat keeps most of the height.
    await page.setViewportSize({ width: 740, height: 360 });
    await page.waitForTimeout(200);
    assert.equal(await page.locator(".app-navbar").isVisible(), false, "one header in landscape");
    const listHeight = await page.getByTestId("message-list").evaluate((el) => el.clientHeight);
    assert.ok(listHeight >= 200, `the messages get ${listHeight} of 360 px`);
    await page.screenshot({ path: join(screenshotDir, "13-11-phone-landscape.png") });
    await assertAccessible(page, "a conversation on a phone on its side");

    for (const p of [alice, phone]) assert.deepEqual(p.errors, [], "uncaught errors in the page");
    assert.deepEqual(cspViolations.flat(), [], "Content Security Policy violations in the console");
  });
});
