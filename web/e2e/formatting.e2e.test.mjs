// Mentions and formatted text in the browser (issue 14): @ autocomplete by keyboard, the
// mention highlighted for the person mentioned and an @ badge in their list; bold, code
// blocks, quotes, lists and autolinks; and the XSS corpus (src/features/messages/
// xss-corpus.json), sent as real messages through the server, rendering as inert text.
// One server and one browser for the file; one context per person.
// Run: npm run build && node --test --test-concurrency=1 e2e/formatting.e2e.test.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
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
  webDir,
} from "./harness.mjs";

const PASSWORD = "correct horse battery";
const PEOPLE = ["alice", "bob", "carol"];
const CORPUS = JSON.parse(readFileSync(join(webDir, "src/features/messages/xss-corpus.json"), "utf8"));
const missing = missingPrerequisite();
const skip = missing && !inCI ? missing : false;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

describe("mentions and formatting in the browser", { skip: Boolean(missing), timeout: 90_000 }, () => {
  let server;
  let browser;
  let base;
  /** name -> { id, token } */
  const people = {};
  const opened = [];
  const cspViolations = [];
  const pageErrors = [];
  const dialogs = [];

  before(async () => {
    ({ server, browser } = await startScenario());
    base = server.baseURL;
    Object.assign(people, await signUpAll(base, PASSWORD, PEOPLE));
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

  /** A person signed in through the sign-in page, in a browser context of their own. */
  async function signIn(username) {
    const context = await browser.newContext({ baseURL: base, viewport: { width: 1100, height: 760 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    opened.push(page);
    page.on("pageerror", (e) => pageErrors.push(`${username}: ${e}`));
    page.on("dialog", async (d) => {
      dialogs.push(`${username}: ${d.type()} ${d.message()}`);
      await d.dismiss();
    });
    cspViolations.push(collectCspViolations(page));
    await page.goto("/login");
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Chats" }).waitFor();
    return page;
  }

  const item = (page, title) => page.getByTestId("conversation-item").filter({ hasText: title });
  const message = (page, text) => page.getByTestId("message").filter({ hasText: text });

  async function openChat(page, title) {
    await item(page, title).click();
    await page.getByTestId("conversation-title").filter({ hasText: title }).waitFor();
  }

  async function assertAccessible(page, where) {
    const problems = await accessibilityProblems(page);
    assert.deepEqual(problems, [], `accessibility problems on ${where}:\n${problems.join("\n")}`);
  }

  const shot = (page, name) => page.screenshot({ path: join(screenshotDir, name) });

  let alice;
  let bob;

  scenario("14-1: a mention chosen by keyboard is highlighted, and badged in the other's list", async () => {
    const launch = await createGroupViaApi(base, people.alice.token, "Launch", [people.bob.id, people.carol.id]);
    // Bob is in another chat when the mention comes.
    await createDirectViaApi(base, people.bob.token, people.carol.id);
    await postMessage(base, people.carol.token, launch.id, "Morning @alice, the build is green");
    [alice, bob] = await Promise.all([signIn("alice"), signIn("bob")]);
    await openChat(bob, "Carol");

    await openChat(alice, "Launch");
    const highlighted = message(alice, "the build is green").locator(".mention.mention-me");
    assert.equal(await highlighted.innerText(), "@alice");

    const box = alice.getByTestId("composer-input");
    await box.click();
    await box.pressSequentially("Ship it @");
    const list = alice.getByRole("listbox", { name: "Mention someone" });
    await list.waitFor();
    // What a screen reader says of each option: its text, not the aria-hidden picture.
    const label = ':scope > :not([aria-hidden="true"])';
    const options = async () => list.getByRole("option").locator(label).allInnerTexts();
    assert.deepEqual(await options(), ["Bob @bob", "Carol @carol", "Everyone in this group @all"]);
    assert.equal(await box.getAttribute("aria-controls"), await list.getAttribute("id"));
    const selected = () => list.locator('[aria-selected="true"]').locator(label).innerText();
    assert.equal(await selected(), "Bob @bob");
    await box.press("ArrowDown");
    assert.equal(await selected(), "Carol @carol");
    assert.equal(
      await box.getAttribute("aria-activedescendant"),
      await list.locator('[aria-selected="true"]').getAttribute("id"),
    );
    await shot(alice, "mentions.png");
    await assertAccessible(alice, "the mention suggestions");
    await box.press("ArrowUp");
    await box.press("Enter");
    await list.waitFor({ state: "detached" });
    assert.equal(await box.inputValue(), "Ship it @bob ");

    // Esc closes the suggestions without leaving the composer; Tab picks.
    await box.pressSequentially("and @ca");
    await list.waitFor();
    await box.press("Escape");
    await list.waitFor({ state: "detached" });
    // Closed for this @ while it is being typed; a new @ opens them again.
    await box.press("Backspace");
    await box.pressSequentially("a");
    assert.equal(await list.count(), 0);
    for (let i = 0; i < 3; i += 1) await box.press("Backspace");
    await box.pressSequentially("@ca");
    await list.waitFor();
    await box.press("Tab");
    assert.equal(await box.inputValue(), "Ship it @bob and @carol ");
    await box.pressSequentially("today");
    await box.press("Enter");

    const sent = message(alice, "Ship it");
    await sent.locator(".mention").first().waitFor();
    assert.deepEqual(await sent.locator(".mention").allInnerTexts(), ["@bob", "@carol"]);
    assert.equal(await sent.locator(".mention-me").count(), 0);

    // Bob, in another chat, sees the @ badge on Launch; opening it shows his name marked.
    const badge = item(bob, "Launch").getByTestId("mention-badge");
    await badge.waitFor();
    assert.match(await badge.innerText(), /^@/);
    await shot(bob, "mentions-badge.png");
    await openChat(bob, "Launch");
    const mine = message(bob, "Ship it").locator(".mention.mention-me");
    assert.equal(await mine.innerText(), "@bob");
    await badge.waitFor({ state: "detached" });
  });

  scenario("14-2: bold, code blocks, quotes, lists and links are formatted", async () => {
    const box = alice.getByTestId("composer-input");
    await box.fill(
      [
        "**Release notes** for _today_, ~~not~~ `v2.1`",
        "```",
        "npm run build && npm test",
        "```",
        "> Quality is never an accident",
        "",
        "- faster sends",
        "- mentions",
        "",
        "1. deploy",
        "2. announce",
        "",
        "Docs at https://example.com/docs?v=2 and [the guide](https://example.org/guide)",
      ].join("\n"),
    );
    await box.press("Enter");
    await box.fill("🎉");
    await box.press("Enter");

    const notes = message(bob, "Release notes");
    await notes.waitFor();
    const bodyOf = notes.getByTestId("message-body");
    assert.equal(await bodyOf.locator("strong").innerText(), "Release notes");
    assert.equal(await bodyOf.locator("em").innerText(), "today");
    assert.equal(await bodyOf.locator("s").innerText(), "not");
    assert.equal(await bodyOf.locator("p code").innerText(), "v2.1");
    assert.equal((await bodyOf.locator("pre code").innerText()).trim(), "npm run build && npm test");
    const font = await bodyOf.locator("pre code").evaluate((el) => getComputedStyle(el).fontFamily);
    assert.match(font, /mono/i);
    assert.equal((await bodyOf.locator("blockquote").innerText()).trim(), "Quality is never an accident");
    assert.deepEqual(await bodyOf.locator("ul li").allInnerTexts(), ["faster sends", "mentions"]);
    assert.deepEqual(await bodyOf.locator("ol li").allInnerTexts(), ["deploy", "announce"]);
    const links = await bodyOf
      .locator("a")
      .evaluateAll((as) =>
        as.map((a) => [a.getAttribute("href"), a.getAttribute("target"), a.getAttribute("rel"), a.textContent]),
      );
    assert.deepEqual(links, [
      ["https://example.com/docs?v=2", "_blank", "noopener noreferrer nofollow", "https://example.com/docs?v=2"],
      ["https://example.org/guide", "_blank", "noopener noreferrer nofollow", "the guide"],
    ]);
    const party = bob.getByTestId("message-body").filter({ hasText: /^🎉$/ });
    await party.waitFor();
    const size = await party.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    assert.ok(size >= 32, `a lone emoji is drawn large (${size}px)`);
    await shot(bob, "formatting.png");
    await assertAccessible(bob, "formatted messages");
  });

  scenario("14-3: the XSS corpus, sent through the server, renders as inert text", async () => {
    const lab = await createGroupViaApi(base, people.carol.token, "Payloads", [people.bob.id]);
    for (const payload of CORPUS) await postMessage(base, people.carol.token, lab.id, payload);
    await postMessage(base, people.carol.token, lab.id, "end of corpus");
    await openChat(bob, "Payloads");
    await message(bob, "end of corpus").waitFor();
    const list = bob.getByTestId("message-list");
    // Every payload is on the page as a message (older ones loaded by scrolling if needed).
    for (let i = 0; i < 10 && (await list.getByTestId("message").count()) < CORPUS.length + 1; i += 1) {
      await list.evaluate((el) => el.scrollTo(0, 0));
      await bob.waitForTimeout(300);
    }
    assert.equal(await list.getByTestId("message").count(), CORPUS.length + 1);

    // Hover and click what might carry a handler or a link, as a curious reader would.
    for (const el of await list.locator(".message-body *").all()) await el.hover({ force: true }).catch(() => {});
    const found = await bob.evaluate(() => {
      const bad = [];
      for (const el of document.querySelectorAll("*")) {
        for (const attr of el.attributes) {
          const value = attr.value.replace(/[\s\u0000-\u001f]/g, "").toLowerCase();
          if (/^on/i.test(attr.name) && el.closest(".message-body")) bad.push(`${el.tagName} ${attr.name}`);
          if (/(href|src|action|formaction)$/i.test(attr.name) && /^(javascript|data|vbscript):/.test(value))
            bad.push(`${el.tagName} ${attr.name}=${attr.value}`);
        }
      }
      const inBodies = document.querySelectorAll(
        ".message-body script, .message-body img, .message-body svg, .message-body iframe, .message-body style, " +
          ".message-body form, .message-body input, .message-body math, .message-body details",
      );
      for (const el of inBodies) bad.push(`element ${el.tagName}`);
      return { bad, xss: globalThis.__xss ?? null };
    });
    assert.deepEqual(found.bad, []);
    assert.equal(found.xss, null, "no payload ran");
    // The payloads read as the text that was typed.
    assert.ok(
      await list.getByTestId("message-body").filter({ hasText: "<script>window.__xss=1</script>" }).count(),
      "a script tag shows as text",
    );
    await shot(bob, "xss.png");
    await assertAccessible(bob, "the XSS corpus");
    assert.deepEqual(dialogs, [], "no dialog opened");
    assert.deepEqual(cspViolations.flat(), [], "no CSP violation");
    assert.deepEqual(pageErrors, [], "no page error");
  });
});
