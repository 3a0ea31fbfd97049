// Message search in the browser (issue 14): Ctrl+K or / opens the search dialog, results
// come grouped by conversation with the matched words marked, and a result opens its
// conversation at the message — loaded back to it, with context above and below, the
// message highlighted. One server and one browser for the file; one context per person.
// Run: npm run build && node --test --test-concurrency=1 e2e/search.e2e.test.mjs
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  accessibilityProblems,
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
// More than two pages of history after the message searched for: opening it must load back.
const LATER_MESSAGES = 120;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

describe("message search in the browser", { skip: Boolean(missing), timeout: 60_000 }, () => {
  let server;
  let browser;
  let base;
  const people = {};
  const cspViolations = [];
  let trip;

  before(async () => {
    ({ server, browser } = await startScenario());
    base = server.baseURL;
    Object.assign(people, await signUpAll(base, PASSWORD, ["alice", "bob"]));
    const { alice, bob } = people;
    trip = await createGroupViaApi(base, alice.token, "Trip planning", [bob.id]);
    const direct = await createDirectViaApi(base, alice.token, bob.id);
    await postMessage(base, alice.token, trip.id, "Who books the train?");
    await postMessage(base, bob.token, trip.id, "I can do the train tomorrow");
    await postMessage(base, alice.token, trip.id, "The ferry to Lisbon leaves at nine");
    await postMessage(base, bob.token, trip.id, "Nine is early but fine");
    for (let i = 1; i <= LATER_MESSAGES; i += 1) {
      await postMessage(base, i % 2 ? alice.token : bob.token, trip.id, `packing list item ${i}`);
    }
    await postMessage(base, alice.token, direct.id, "Found a hotel in lisbon, booking it now");
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

  async function assertAccessible(page, where) {
    const problems = await accessibilityProblems(page);
    assert.deepEqual(problems, [], `accessibility problems on ${where}:\n${problems.join("\n")}`);
  }

  const shot = (page, name) => page.screenshot({ path: join(screenshotDir, name) });

  scenario(
    "14-search: Ctrl+K finds messages in every conversation, grouped; a result opens at the message",
    async () => {
      const bob = await signIn("bob");
      const { page } = bob;
      await page.keyboard.press("Control+k");
      const dialog = page.getByRole("dialog", { name: "Search messages" });
      await dialog.waitFor();
      await dialog.getByRole("searchbox", { name: "Search messages" }).fill("lisbon");

      const groups = dialog.getByTestId("search-group");
      await groups.nth(1).waitFor();
      assert.deepEqual(await groups.locator("h3").allInnerTexts(), ["Alice", "Trip planning"]);
      const hits = dialog.getByTestId("search-hit");
      assert.equal(await hits.count(), 2);
      // The matched word is marked, in the text as it was written.
      assert.deepEqual(await dialog.locator("mark").allInnerTexts(), ["lisbon", "Lisbon"]);
      await shot(page, "search.png");
      await assertAccessible(page, "the search dialog with results");

      await groups.filter({ hasText: "Trip planning" }).getByTestId("search-hit").click();
      await dialog.waitFor({ state: "hidden" });
      await page.getByTestId("conversation-title").filter({ hasText: "Trip planning" }).waitFor();
      const found = page.locator('[data-testid="message"][aria-current="true"]');
      await found.filter({ hasText: "The ferry to Lisbon leaves at nine" }).waitFor();
      assert.match(await found.getAttribute("class"), /message-found/);
      // On screen, with the messages before and after it around it.
      const visible = (text) =>
        page
          .getByTestId("message")
          .filter({ hasText: text })
          .evaluate((el) => {
            const list = el.closest('[data-testid="message-list"]').getBoundingClientRect();
            const r = el.getBoundingClientRect();
            return r.top >= list.top && r.bottom <= list.bottom;
          });
      for (const text of ["I can do the train tomorrow", "The ferry to Lisbon", "Nine is early but fine"]) {
        assert.equal(await visible(text), true, `"${text}" is on screen`);
      }
      await shot(page, "search-opened.png");
      await assertAccessible(page, "a conversation opened at a search result");
      assert.deepEqual(bob.errors, []);
      await bob.context.close();
    },
  );

  scenario("14-search: / opens search when not typing, and types a / in the composer", async () => {
    const alice = await signIn("alice");
    const { page } = alice;
    await page.getByTestId("conversation-item").filter({ hasText: "Trip planning" }).click();
    const composer = page.getByRole("textbox", { name: /message/i });
    await composer.click();
    await page.keyboard.type("a/b");
    assert.equal(await composer.inputValue(), "a/b");
    assert.equal(await page.getByRole("dialog").count(), 0);

    await page.getByTestId("conversation-title").click();
    await page.keyboard.press("/");
    const dialog = page.getByRole("dialog", { name: "Search messages" });
    await dialog.waitFor();
    // Query syntax is plain text: no error, just what matches the words.
    await dialog.getByRole("searchbox").fill('"packing" -(item: 7*)');
    await dialog.getByTestId("search-hit").first().waitFor();
    const texts = await dialog.getByTestId("search-hit").allInnerTexts();
    assert.ok(
      texts.every((t) => /packing list item 7/.test(t)),
      texts.join("\n"),
    );
    await dialog.getByRole("searchbox").fill("?!");
    await dialog.getByTestId("search-hit").first().waitFor({ state: "detached" });
    assert.equal(await dialog.getByRole("alert").count(), 0);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    assert.deepEqual(alice.errors, []);
    await alice.context.close();
  });

  scenario("no CSP violations", () => {
    assert.deepEqual(cspViolations.flat(), []);
  });
});
