// Reactions and pinned messages as people meet them (issue 14): two people react (the
// picker from the keyboard and the mouse, toggling a chip), each sees the other's live with
// the names in a tooltip; an admin pins, the other sees the pinned bar appear, cycle and jump
// to each pin (loading older history when the pin is far back). One server and one browser
// for the file; one context per person.
// Run: npm run build && node --test --test-concurrency=1 e2e/reactions.e2e.test.mjs
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  accessibilityProblems,
  apiCall,
  collectCspViolations,
  createGroupViaApi,
  inCI,
  missingPrerequisite,
  postMessage,
  screenshotDir,
  signUpAll,
  startScenario,
} from "./harness.mjs";

const PASSWORD = "correct horse battery";
const PEOPLE = { alice: "Alice Liddell", bob: "Bob Dylan" };
const missing = missingPrerequisite();
const skip = missing && !inCI ? missing : false;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

describe("reactions and pins in the browser", { skip: Boolean(missing), timeout: 90_000 }, () => {
  let server;
  let browser;
  let base;
  /** name -> { id, token } */
  const people = {};
  const opened = [];
  const cspViolations = [];
  let group;
  let alice;
  let bob;

  before(async () => {
    ({ server, browser } = await startScenario());
    base = server.baseURL;
    Object.assign(people, await signUpAll(base, PASSWORD, PEOPLE));
    group = await createGroupViaApi(base, people.alice.token, "Weekend plans", [people.bob.id]);
    // The first message is far back: more than one page of history comes after it.
    await postMessage(base, people.bob.token, group.id, "Hike on Saturday?");
    for (let i = 1; i <= 55; i += 1) await postMessage(base, people.alice.token, group.id, `filler ${i}`);
    const last = await postMessage(base, people.bob.token, group.id, "Meet at the station at 9");
    // Both have read it all: the chat opens at the newest page, without the first message.
    for (const who of [people.alice, people.bob])
      await apiCall(base, who.token, "POST", `/conversations/${group.id}/read`, { seq: last.seq });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  function scenario(name, fn) {
    it(name, { skip }, async () => {
      try {
        await fn();
      } catch (error) {
        console.error(`--- server log (tail) ---\n${server.log().slice(-4000)}`);
        throw error;
      }
    });
  }

  async function signIn(username) {
    const context = await browser.newContext({ baseURL: base, viewport: { width: 1100, height: 760 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    opened.push(page);
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    cspViolations.push(collectCspViolations(page));
    await page.goto("/login");
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Chats" }).waitFor();
    await page.getByTestId("conversation-item").filter({ hasText: "Weekend plans" }).click();
    await page.getByTestId("conversation-title").filter({ hasText: "Weekend plans" }).waitFor();
    return { page, errors };
  }

  const message = (page, text) => page.getByTestId("message").filter({ hasText: text });
  const chip = (page, text, emoji) => message(page, text).locator(`[data-testid="reaction"][data-emoji="${emoji}"]`);

  async function countIs(page, text, emoji, want) {
    const c = chip(page, text, emoji);
    if (want === 0) return c.waitFor({ state: "detached" });
    await c
      .getByTestId("reaction-count")
      .filter({ hasText: new RegExp(`^${want}$`) })
      .waitFor();
  }

  async function tooltipOf(page, text, emoji) {
    await chip(page, text, emoji).hover();
    const tip = page.getByRole("tooltip");
    await tip.waitFor();
    return (await tip.innerText()).trim();
  }

  async function assertAccessible(page, where) {
    const problems = await accessibilityProblems(page);
    assert.deepEqual(problems, [], `accessibility problems on ${where}:\n${problems.join("\n")}`);
  }

  const shot = (page, name) => page.screenshot({ path: join(screenshotDir, name) });

  scenario("14-r: two people react, each sees the other's reactions live, with names", async () => {
    alice = await signIn("alice");
    bob = await signIn("bob");
    const text = "Meet at the station at 9";
    await message(alice.page, text).waitFor();
    await message(bob.page, text).waitFor();

    // Alice reacts from the keyboard: the picker opens on Enter with the first emoji focused.
    const picker = message(alice.page, text).getByRole("button", { name: `Add a reaction to: ${text}` });
    await picker.focus();
    await alice.page.keyboard.press("Enter");
    const thumbs = alice.page.getByRole("button", { name: "thumbs up" });
    await thumbs.waitFor();
    await assertAccessible(alice.page, "the emoji picker");
    await alice.page.keyboard.press("ArrowDown");
    await alice.page.keyboard.press("ArrowUp");
    await alice.page.keyboard.press("Enter");
    await countIs(alice.page, text, "👍", 1);
    assert.equal(await chip(alice.page, text, "👍").getAttribute("aria-pressed"), "true");

    // Bob sees it at once, and who it was.
    await countIs(bob.page, text, "👍", 1);
    assert.equal(await chip(bob.page, text, "👍").getAttribute("aria-pressed"), "false");
    assert.equal(await tooltipOf(bob.page, text, "👍"), "Alice");

    // Bob joins in by clicking the chip, and adds another from the picker with the mouse.
    await chip(bob.page, text, "👍").click();
    await countIs(bob.page, text, "👍", 2);
    await message(bob.page, text)
      .getByRole("button", { name: `Add a reaction to: ${text}` })
      .click();
    await bob.page.getByRole("button", { name: "party popper" }).click();
    await countIs(bob.page, text, "🎉", 1);

    await countIs(alice.page, text, "👍", 2);
    await countIs(alice.page, text, "🎉", 1);
    assert.equal(await tooltipOf(alice.page, text, "👍"), "Bob and you");

    // Alice takes hers back; Bob's count follows.
    await chip(alice.page, text, "👍").click();
    await countIs(alice.page, text, "👍", 1);
    await countIs(bob.page, text, "👍", 1);
    assert.equal(await chip(bob.page, text, "👍").getAttribute("aria-pressed"), "true");
    await chip(alice.page, text, "👍").click();
    await countIs(bob.page, text, "👍", 2);
    assert.equal(await tooltipOf(bob.page, text, "👍"), "Alice and you");
    await shot(bob.page, "reactions.png");
    await assertAccessible(bob.page, "a message with reactions");
    assert.deepEqual([...alice.errors, ...bob.errors], []);
  });

  scenario("14-p: an admin pins, the other sees the pinned bar, cycles and jumps", async () => {
    const old = "Hike on Saturday?";
    const recent = "Meet at the station at 9";
    // Bob is a plain member: no Pin in his menu.
    await message(bob.page, recent)
      .getByRole("button", { name: /Actions for message/ })
      .click();
    await bob.page.getByRole("button", { name: "Reply" }).waitFor();
    assert.equal(await bob.page.getByRole("button", { name: "Pin", exact: true }).count(), 0);
    await bob.page.keyboard.press("Escape");

    // Alice pins the recent message from its menu, and the old one (not loaded in her list) over the API.
    await message(alice.page, recent)
      .getByRole("button", { name: /Actions for message/ })
      .click();
    await alice.page.getByRole("button", { name: "Pin", exact: true }).click();
    const bar = bob.page.getByTestId("pinned-bar");
    await bar.getByTestId("pinned-text").filter({ hasText: recent }).waitFor();
    assert.equal(await bob.page.getByTestId("message").filter({ hasText: old }).count(), 0);
    const history = await apiCall(
      base,
      people.alice.token,
      "GET",
      `/conversations/${group.id}/messages?limit=1&before_seq=2`,
    );
    await apiCall(base, people.alice.token, "PUT", `/conversations/${group.id}/pins/${history[0].id}`);
    await bar.getByTestId("pinned-text").filter({ hasText: old }).waitFor();
    await bar.getByText("Pinned message 1 of 2").waitFor();
    await shot(bob.page, "pins.png");
    await assertAccessible(bob.page, "the pinned bar");

    // Clicking jumps to the newest pin (far back: older history is loaded) and moves on.
    await bar.getByTestId("pinned-jump").click();
    const oldRow = message(bob.page, old);
    await oldRow.and(bob.page.locator(".message-flash")).waitFor();
    // It scrolls (smoothly) into view and stays there.
    await bob.page.waitForFunction(
      (text) => {
        const row = [...document.querySelectorAll('[data-testid="message"]')].find((el) =>
          el.textContent.includes(text),
        );
        if (!row) return false;
        const list = row.closest('[data-testid="message-list"]').getBoundingClientRect();
        const r = row.getBoundingClientRect();
        return r.top >= list.top && r.bottom <= list.bottom;
      },
      old,
      { timeout: 5_000 },
    );
    await bar.getByText("Pinned message 2 of 2").waitFor();
    await bar.getByTestId("pinned-text").filter({ hasText: recent }).waitFor();
    await bar.getByTestId("pinned-jump").click();
    await message(bob.page, recent).and(bob.page.locator(".message-flash")).waitFor();
    await bar.getByText("Pinned message 1 of 2").waitFor();

    // Alice unpins the recent one from its menu: Bob's bar keeps one pin.
    await message(alice.page, recent)
      .getByRole("button", { name: /Actions for message/ })
      .click();
    await alice.page.getByRole("button", { name: "Unpin", exact: true }).click();
    await bar.getByTestId("pinned-text").filter({ hasText: old }).waitFor();
    await bar.getByText("Pinned message", { exact: true }).waitFor();
    assert.deepEqual([...alice.errors, ...bob.errors], []);
  });

  scenario("no Content Security Policy violations", async () => {
    assert.deepEqual(cspViolations.flat(), []);
  });
});
