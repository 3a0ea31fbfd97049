// Trust and safety as people meet it (issue 18): someone reports a message, a moderator
// finds it in the review queue with the messages around it and suspends the sender, whose
// open tab is signed out at once; the admin's audit log shows it. A direct chat from a
// stranger arrives as a message request, its attachment and link held back until it is
// accepted. One server and one browser for the file; one context per person.
// Run: npx vite build && node --test e2e/moderation.e2e.test.mjs
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  accessibilityProblems,
  apiCall,
  collectCspViolations,
  createDirectViaApi,
  createGroupViaApi,
  inCI,
  makePng,
  missingPrerequisite,
  postMessage,
  screenshotDir,
  signUpAll,
  startScenario,
} from "./harness.mjs";

const PASSWORD = "correct horse battery";
const PEOPLE = { alice: "Alice Liddell", mallory: "Mallory Spammer", mod: "Maude Moderator", carol: "Carol Stranger" };
const missing = missingPrerequisite();
const skip = missing && !inCI ? missing : false;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

describe("moderation in the browser", { skip: Boolean(missing), timeout: 120_000 }, () => {
  let server;
  let browser;
  let base;
  /** name -> { id, token } */
  const people = {};
  const cspViolations = [];
  let group;

  before(async () => {
    ({ server, browser } = await startScenario());
    base = server.baseURL;
    Object.assign(people, await signUpAll(base, PASSWORD, PEOPLE));
    // The first admin is made on the command line, as on a real server.
    await server.command(["admin", "grant", "mod", "admin"]);
    group = await createGroupViaApi(base, people.alice.token, "Book club", [people.mallory.id]);
    await postMessage(base, people.alice.token, group.id, "Next book: Middlemarch?");
    await postMessage(base, people.mallory.token, group.id, "Sounds good");
    await postMessage(base, people.mallory.token, group.id, "CHEAP WATCHES!!! buy now at watches.example");
    await postMessage(base, people.alice.token, group.id, "Mallory, what?");
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

  async function signIn(username, colorScheme = "light") {
    const context = await browser.newContext({ baseURL: base, viewport: { width: 1100, height: 760 }, colorScheme });
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
    return { page, errors };
  }

  async function openChat(page, title) {
    await page.getByTestId("conversation-item").filter({ hasText: title }).click();
    await page.getByTestId("conversation-title").filter({ hasText: title }).waitFor();
  }

  const message = (page, text) => page.getByTestId("message").filter({ hasText: text });
  const shot = (page, name) => page.screenshot({ path: join(screenshotDir, name) });

  async function bothModes(page, name) {
    // Bootstrap's buttons fade their colours (0.15 s): shoot once they have settled.
    const settle = () => page.waitForTimeout(400);
    await page.mouse.move(1, 700);
    await page.emulateMedia({ colorScheme: "light" });
    await settle();
    await shot(page, `${name}-light.png`);
    await page.emulateMedia({ colorScheme: "dark" });
    await page.locator('html[data-bs-theme="dark"]').waitFor();
    await settle();
    await shot(page, `${name}-dark.png`);
    await page.emulateMedia({ colorScheme: "light" });
    await page.locator('html[data-bs-theme="light"]').waitFor();
    await settle();
  }

  async function assertAccessible(page, where) {
    const problems = await accessibilityProblems(page);
    assert.deepEqual(problems, [], `accessibility problems on ${where}:\n${problems.join("\n")}`);
  }

  scenario("18-r: a report reaches the queue; the moderator suspends the sender, whose tab is signed out", async () => {
    const spam = "CHEAP WATCHES!!! buy now at watches.example";
    const mallory = await signIn("mallory");
    await openChat(mallory.page, "Book club");
    await message(mallory.page, spam).waitFor();

    // Alice reports the message from its menu; she gets a confirmation.
    const alice = await signIn("alice");
    await openChat(alice.page, "Book club");
    await message(alice.page, spam)
      .getByRole("button", { name: /Actions for message/ })
      .click();
    await alice.page.getByRole("button", { name: "Report…" }).click();
    const dialog = alice.page.getByRole("dialog", { name: /Report/ });
    await dialog.getByLabel(/Spam/).check();
    await dialog.getByLabel(/Details/).fill("Selling watches in our book club");
    await assertAccessible(alice.page, "the report dialog");
    await bothModes(alice.page, "18-report-dialog");
    await dialog.getByRole("button", { name: "Send report" }).click();
    await alice.page.getByTestId("report-confirmation").waitFor();
    assert.match(await alice.page.getByTestId("report-confirmation").innerText(), /moderators/);
    await dialog.getByRole("button", { name: "Done" }).click();

    // The moderator opens the review queue from the account menu.
    const mod = await signIn("mod");
    await mod.page.getByRole("button", { name: /account menu/ }).click();
    await mod.page
      .getByRole("button", { name: "Review queue" })
      .or(mod.page.getByRole("link", { name: "Review queue" }))
      .click();
    const item = mod.page.getByTestId("queue-item").filter({ hasText: "Mallory Spammer" });
    await item.waitFor();
    const context = await item.getByTestId("queue-context").locator("li").allInnerTexts();
    assert.equal(context.length, 4, context.join("\n"));
    assert.match(await item.locator('[data-reported="true"]').innerText(), /CHEAP WATCHES/);
    assert.match(await item.innerText(), /Selling watches in our book club/);
    await assertAccessible(mod.page, "the review queue");
    await bothModes(mod.page, "18-review-queue");

    // Suspend for a day: the sender's open tab is signed out at once.
    await item.getByLabel("Reason for the action").fill("Spam in a book club");
    await item.getByLabel("Suspend for").selectOption({ label: "1 day" });
    await item.getByRole("button", { name: "Suspend" }).click();
    await mod.page.getByTestId("queue-empty").waitFor();
    await mallory.page.waitForURL(/\/login/, { timeout: 10_000 });
    await mallory.page.getByTestId("session-ended").waitFor();
    await shot(mallory.page, "18-suspended-signed-out.png");
    // And cannot sign in again.
    await mallory.page.getByLabel("Username").fill("mallory");
    await mallory.page.getByLabel("Password").fill(PASSWORD);
    await mallory.page.getByRole("button", { name: "Sign in" }).click();
    await mallory.page.getByText(/suspended/).waitFor();
    await shot(mallory.page, "18-suspended-sign-in.png");

    // The admin's audit log says who did what, to whom, and why.
    await mod.page.getByRole("link", { name: "Audit log" }).click();
    const log = mod.page.getByTestId("audit-log");
    await log.waitFor();
    const rows = await log.locator("tbody tr").allInnerTexts();
    assert.ok(
      rows.some(
        (r) =>
          /Maude Moderator/.test(r) && /suspended Mallory Spammer for 24 h/.test(r) && /Spam in a book club/.test(r),
      ),
      rows.join("\n"),
    );
    assert.ok(
      rows.some((r) => /command line/.test(r) && /granted a role to Maude Moderator/.test(r)),
      rows.join("\n"),
    );
    // The admin makes Alice a moderator, and an invite link, from the same page.
    await mod.page.getByLabel("Username").fill("alice");
    await mod.page.getByLabel("Role").selectOption("moderator");
    await mod.page.getByRole("button", { name: "Set role" }).click();
    await mod.page.getByText("@alice is now moderator.").waitFor();
    await log.locator("tbody tr").filter({ hasText: "granted a role to Alice Liddell (moderator)" }).waitFor();
    await mod.page.getByRole("button", { name: /Make a link/ }).click();
    assert.match(await mod.page.getByTestId("invite-link").inputValue(), /\/register\?invite=/);
    await assertAccessible(mod.page, "the audit log");
    await bothModes(mod.page, "18-audit-log");
    assert.deepEqual([...alice.errors, ...mod.errors], []);
  });

  scenario("18-m: a message request arrives, attachments and links held back until accepted", async () => {
    // Carol shares no conversation with Alice.
    const direct = await createDirectViaApi(base, people.carol.token, people.alice.id);
    const form = new FormData();
    form.append("file", new Blob([makePng(160, 100)], { type: "image/png" }), "slides.png");
    const r = await fetch(`${base}/api/v1/media`, {
      method: "POST",
      headers: { Authorization: `Bearer ${people.carol.token}` },
      body: form,
    });
    const media = await r.json();
    assert.equal(r.status, 201, JSON.stringify(media));
    await apiCall(base, people.carol.token, "POST", `/conversations/${direct.id}/messages`, {
      body: "Hi Alice, we met at the conference: https://slides.example/talk",
      attachment_ids: [media.id],
    });

    const alice = await signIn("alice");
    const entry = alice.page.getByTestId("conversation-item").filter({ hasText: "Carol Stranger" });
    await entry.getByTestId("request-badge").waitFor();
    await openChat(alice.page, "Carol Stranger");
    const banner = alice.page.getByTestId("request-banner");
    await banner.waitFor();
    const text = "we met at the conference";
    await message(alice.page, text).getByTestId("attachment-withheld").waitFor();
    assert.equal(await message(alice.page, text).locator("img").count(), 0);
    assert.equal(await message(alice.page, text).locator("a").count(), 0);
    await assertAccessible(alice.page, "a message request");
    await bothModes(alice.page, "18-message-request");

    await banner.getByRole("button", { name: "Accept" }).click();
    await banner.waitFor({ state: "detached" });
    await message(alice.page, text).getByTestId("image-thumbnail").waitFor();
    await message(alice.page, text).locator('a[href="https://slides.example/talk"]').waitFor();
    assert.equal(await entry.getByTestId("request-badge").count(), 0);
    await shot(alice.page, "18-message-request-accepted.png");
    assert.deepEqual(alice.errors, []);
  });

  scenario("18-b: blocking from the menu collapses the person's messages; settings list and unblock", async () => {
    const bookClub = "Next book: Middlemarch?";
    const alice = await signIn("alice");
    await openChat(alice.page, "Book club");
    await message(alice.page, bookClub).waitFor();
    // Alice blocks Mallory from one of Mallory's messages.
    await message(alice.page, "Sounds good")
      .getByRole("button", { name: /Actions for message/ })
      .click();
    await alice.page.getByRole("button", { name: "Block sender" }).click();
    const collapsed = alice.page.locator('[data-blocked="true"]');
    await collapsed.first().waitFor();
    assert.equal(await message(alice.page, "Sounds good").count(), 0);
    await bothModes(alice.page, "18-blocked-collapsed");
    await collapsed.first().getByRole("button", { name: "show" }).click();
    await message(alice.page, "Sounds good").waitFor();

    await alice.page.getByRole("button", { name: /account menu/ }).click();
    await alice.page.getByRole("button", { name: "Blocked people…" }).click();
    const list = alice.page.getByTestId("blocked-list");
    await list.getByText("Mallory Spammer").waitFor();
    await shot(alice.page, "18-blocked-people.png");
    await assertAccessible(alice.page, "the blocked people");
    await list.getByRole("button", { name: "Unblock" }).click();
    await alice.page.getByTestId("no-blocks").waitFor();
    assert.deepEqual(alice.errors, []);
  });

  it("no Content-Security-Policy violations", { skip }, () => {
    assert.deepEqual(cspViolations.flat(), []);
  });
});
