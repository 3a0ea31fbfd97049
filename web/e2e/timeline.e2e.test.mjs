// The conversation timeline as people meet it (issue 13): names of people who left, the
// timeline's own events as system lines, read-only history after a removal, delivered
// ticks for messages fetched later, unread counts across tabs, reading only what was on
// screen, and drafts. One server and one browser for the file; one context per person.
// Run: npm run build && node --test --test-concurrency=1 e2e/timeline.e2e.test.mjs
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
  membersViaApi,
  missingPrerequisite,
  postMessage,
  removeMemberViaApi,
  screenshotDir,
  signUpAll,
  startScenario,
} from "./harness.mjs";

const PASSWORD = "correct horse battery";
const PEOPLE = ["alice", "bob", "carol", "dave", "erin", "grace", "henry", "ivy"];
const missing = missingPrerequisite();
const skip = missing && !inCI ? missing : false;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

describe("the timeline in the browser", { skip: Boolean(missing), timeout: 110_000 }, () => {
  let server;
  let browser;
  let base;
  /** name -> { id, token } */
  const people = {};
  const opened = [];
  const cspViolations = [];

  before(async () => {
    ({ server, browser } = await startScenario());
    base = server.baseURL;
    Object.assign(people, await signUpAll(base, PASSWORD, PEOPLE));
  });

  after(async () => {
    let i = 0;
    for (const page of opened) {
      i += 1;
      if (!page.isClosed())
        await page.screenshot({ path: join(screenshotDir, `timeline-last-page-${i}.png`) }).catch(() => undefined);
    }
    await browser?.close();
    await server?.stop();
  });

  /** A scenario; on failure the server log's tail is printed. */
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

  async function newTab(context) {
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    opened.push(page);
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    cspViolations.push(collectCspViolations(page));
    return { page, errors };
  }

  /** A person signed in through the sign-in page, in a browser context of their own. */
  async function signIn(username, viewport = { width: 1100, height: 760 }) {
    const context = await browser.newContext({ baseURL: base, viewport });
    const { page, errors } = await newTab(context);
    await page.goto("/login");
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Chats" }).waitFor();
    return { context, page, errors };
  }

  const item = (page, title) => page.getByTestId("conversation-item").filter({ hasText: title });
  const message = (page, text) => page.getByTestId("message").filter({ hasText: text });
  const body = (page, text) =>
    page
      .getByTestId("message-body")
      .filter({ hasText: new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) });
  const systemLine = (page, text) => page.getByTestId("system-line").filter({ hasText: text });

  async function openChat(page, title) {
    await item(page, title).click();
    await page.getByTestId("conversation-title").filter({ hasText: title }).waitFor();
  }

  /** What the message list shows, top to bottom: message bodies and system lines. */
  async function timelineTexts(page) {
    return page
      .getByTestId("message-list")
      .locator('[data-testid="message-body"], [data-testid="system-line-text"]')
      .allInnerTexts();
  }

  async function titleIs(page, want) {
    const title = await page.title();
    return title === want || title;
  }

  /** Whether a message's body is inside the visible part of the message list. */
  function onScreen(page, text) {
    return body(page, text).evaluate((el) => {
      const list = el.closest('[data-testid="message-list"]');
      const a = el.getBoundingClientRect();
      const b = list.getBoundingClientRect();
      return a.bottom > b.top && a.top < b.bottom;
    });
  }

  async function until(what, check, timeout = 10_000) {
    const deadline = Date.now() + timeout;
    let last;
    while (Date.now() < deadline) {
      last = await check();
      if (last === true) return;
      await new Promise((r) => setTimeout(r, 150));
    }
    assert.fail(`${what} (last: ${JSON.stringify(last)})`);
  }

  async function markersOf(conversationId, asWho, whose) {
    const members = await membersViaApi(base, people[asWho].token, conversationId);
    const m = members.find((x) => x.user.id === people[whose].id);
    return { read: m.last_read_seq, delivered: m.last_delivered_seq };
  }

  async function assertAccessible(page, where) {
    const problems = await accessibilityProblems(page);
    assert.deepEqual(problems, [], `accessibility problems on ${where}:\n${problems.join("\n")}`);
  }

  const shot = (page, name) => page.screenshot({ path: join(screenshotDir, name) });

  let bookClub;
  let dave;

  scenario("13-1: the messages of people who left keep their names", async () => {
    const { alice, bob, carol } = people;
    bookClub = await createGroupViaApi(base, alice.token, "Book club", [bob.id, carol.id, people.dave.id]);
    await postMessage(base, alice.token, bookClub.id, "Chapter one for Thursday?");
    await postMessage(base, bob.token, bookClub.id, "I loved chapter one");
    await postMessage(base, carol.token, bookClub.id, "Chapter two was slow");
    dave = await signIn("dave");
    await openChat(dave.page, "Book club");
    await message(dave.page, "Chapter two was slow").waitFor();

    // Bob is removed and Carol leaves while Dave has the chat open.
    await removeMemberViaApi(base, alice.token, bookClub.id, bob.id);
    await removeMemberViaApi(base, carol.token, bookClub.id, carol.id);
    await dave.page.getByTestId("conversation-subtitle").filter({ hasText: "2 members" }).waitFor();

    async function namesStay() {
      const bobsRow = message(dave.page, "I loved chapter one");
      const carolsRow = message(dave.page, "Chapter two was slow");
      await bobsRow.getByTestId("message-sender").filter({ hasText: "Bob" }).waitFor();
      await carolsRow.getByTestId("message-sender").filter({ hasText: "Carol" }).waitFor();
      assert.equal((await bobsRow.locator(".avatar").innerText()).trim(), "BO");
      assert.equal((await carolsRow.locator(".avatar").innerText()).trim(), "CA");
      assert.equal(await dave.page.getByTestId("message-list").getByText("Unknown").count(), 0);
    }
    await namesStay();
    // And after a reload, when nothing of the old member list is left in memory.
    await dave.page.reload();
    await message(dave.page, "Chapter two was slow").waitFor();
    await namesStay();
    await shot(dave.page, "13-1-departed-names.png");
  });

  scenario("13-2: renames, members added, removed or leaving and role changes are lines in the timeline", async () => {
    const { alice, erin } = people;
    // The removal and the leaving of 13-1 are already there, after the messages they followed.
    await systemLine(dave.page, "Alice removed Bob").waitFor();
    await systemLine(dave.page, "Carol left").waitFor();

    // Live: Dave has the chat open while Alice renames it, adds Erin and makes her an admin.
    await apiCall(base, alice.token, "PATCH", `/conversations/${bookClub.id}`, { title: "Readers" });
    await apiCall(base, alice.token, "POST", `/conversations/${bookClub.id}/members`, { user_id: erin.id });
    await apiCall(base, alice.token, "PATCH", `/conversations/${bookClub.id}/members/${erin.id}`, {
      role: "admin",
    });
    await postMessage(base, erin.token, bookClub.id, "Thanks for having me");
    await systemLine(dave.page, "Alice made Erin an admin").waitFor();
    await message(dave.page, "Thanks for having me").waitFor();
    const expected = [
      "Chapter one for Thursday?",
      "I loved chapter one",
      "Chapter two was slow",
      "Alice removed Bob",
      "Carol left",
      "Alice renamed the group to “Readers”",
      "Alice added Erin",
      "Alice made Erin an admin",
      "Thanks for having me",
    ];
    assert.deepEqual(await timelineTexts(dave.page), expected);
    // Each line says when it happened.
    const when = await systemLine(dave.page, "Alice added Erin").locator("time").getAttribute("datetime");
    assert.ok(when && !Number.isNaN(Date.parse(when)), `a time on the system line: ${when}`);
    await shot(dave.page, "13-2-system-lines.png");
    await assertAccessible(dave.page, "a group with system lines");

    // From history: the lines sit between the right messages in older pages too, with no gap.
    for (let i = 1; i <= 60; i += 1) await postMessage(base, erin.token, bookClub.id, `filler ${i}`);
    await dave.page.reload();
    await message(dave.page, "filler 60").waitFor();
    const list = dave.page.getByTestId("message-list");
    for (
      let i = 0;
      i < 10 && !(await dave.page.getByText("This is the beginning of the conversation.").isVisible());
      i += 1
    ) {
      await list.evaluate((el) => el.scrollTo(0, 0));
      await dave.page.waitForTimeout(300);
    }
    // The names of people who left are looked up once their lines are loaded.
    await systemLine(dave.page, "Alice removed Bob").waitFor();
    await systemLine(dave.page, "Carol left").waitFor();
    const texts = await timelineTexts(dave.page);
    assert.deepEqual(texts.slice(0, expected.length), expected);
    assert.equal(texts.length, expected.length + 60);
    assert.deepEqual(dave.errors, []);
  });

  scenario("13-3: a removed member keeps the history, read-only", async () => {
    const { alice, bob, carol } = people;
    const climbing = await createGroupViaApi(base, alice.token, "Climbing", [bob.id, carol.id]);
    await postMessage(base, alice.token, climbing.id, "Gym on Friday at six");
    await postMessage(base, bob.token, climbing.id, "Count me in");
    const trail = await createGroupViaApi(base, alice.token, "Trail runners", [bob.id]);
    await postMessage(base, alice.token, trail.id, "Sunday long run?");
    const b = await signIn("bob");
    await openChat(b.page, "Climbing");
    await message(b.page, "Count me in").waitFor();

    // Removed while looking at it: the chat turns read-only in place.
    await removeMemberViaApi(base, alice.token, climbing.id, bob.id);
    await b.page.getByTestId("former-banner").filter({ hasText: "You were removed by Alice" }).waitFor();
    await systemLine(b.page, "Alice removed you").waitFor();
    assert.equal(await b.page.getByTestId("composer-input").count(), 0);
    await message(b.page, "Gym on Friday at six").waitFor();
    assert.equal(await b.page.getByText("Conversation not found").count(), 0);
    // What happens after the removal stays out of sight.
    await postMessage(base, carol.token, climbing.id, "Bob is not coming then");

    // After a reload it is still in the list and opens read-only, with its history.
    await b.page.reload();
    await item(b.page, "Climbing").waitFor();
    await b.page.getByTestId("former-banner").filter({ hasText: "You were removed by Alice" }).waitFor();
    await message(b.page, "Count me in").waitFor();
    assert.equal(await b.page.getByTestId("composer-input").count(), 0);
    assert.equal(await message(b.page, "Bob is not coming then").count(), 0);
    await shot(b.page, "13-3-removed-readonly.png");
    await assertAccessible(b.page, "a read-only chat after a removal");

    // Leaving on purpose: the same, with "You left".
    await openChat(b.page, "Trail runners");
    await b.page.getByRole("button", { name: "Group settings" }).click();
    await b.page.getByRole("dialog").getByRole("button", { name: "Leave group" }).click();
    await b.page
      .getByRole("dialog", { name: "Leave group?" })
      .getByRole("button", { name: "Leave", exact: true })
      .click();
    await b.page.getByTestId("former-banner").filter({ hasText: "You left" }).waitFor();
    await message(b.page, "Sunday long run?").waitFor();
    await item(b.page, "Trail runners").waitFor();

    // "Delete chat" takes it off the list for good.
    await openChat(b.page, "Climbing");
    await b.page.getByRole("button", { name: "Delete chat" }).click();
    await b.page.getByRole("dialog", { name: "Delete chat?" }).getByRole("button", { name: "Delete" }).click();
    await item(b.page, "Climbing").waitFor({ state: "detached" });
    await b.page.reload();
    await item(b.page, "Trail runners").waitFor();
    assert.equal(await item(b.page, "Climbing").count(), 0);
    assert.deepEqual(b.errors, []);
    await b.context.close();
  });

  scenario("13-4: messages fetched after signing in count as delivered", async () => {
    const { alice, grace } = people;
    const direct = await createDirectViaApi(base, alice.token, grace.id);
    const a = await signIn("alice");
    await openChat(a.page, "Grace");
    for (const text of ["Are you coming tonight?", "Call me when you land"]) {
      await a.page.getByTestId("composer-input").fill(text);
      await a.page.getByTestId("composer-input").press("Enter");
    }
    const tick = (text) => message(a.page, text).getByTestId("message-status");
    await tick("Call me when you land").and(a.page.locator('[data-status="sent"]')).waitFor();
    // Grace answers from another device, which does not report deliveries: her own
    // message is now the newest one in the chat.
    await postMessage(base, grace.token, direct.id, "Landing at nine");
    await message(a.page, "Landing at nine").waitFor();
    await a.page.waitForTimeout(500);
    assert.equal(await tick("Call me when you land").getAttribute("data-status"), "sent");

    // Grace signs in on the web and only sees her chat list: Alice's messages reached her.
    const g = await signIn("grace");
    await item(g.page, "Alice").getByTestId("unread-badge").filter({ hasText: "2" }).waitFor();
    for (const text of ["Are you coming tonight?", "Call me when you land"]) {
      await tick(text).and(a.page.locator('[data-status="delivered"]')).waitFor();
    }
    const markers = await markersOf(direct.id, "alice", "grace");
    assert.equal(markers.read, 0, "listing is not reading");
    await shot(a.page, "13-4-delivered-ticks.png");
    await g.context.close();
    await a.context.close();
  });

  scenario("13-5: reading in one tab clears the unread count in the other", async () => {
    const { alice, henry } = people;
    const direct = await createDirectViaApi(base, alice.token, henry.id);
    const first = await signIn("henry");
    const second = await newTab(first.context);
    await second.page.goto("/");
    await second.page.getByRole("heading", { name: "Chats" }).waitFor();
    await postMessage(base, alice.token, direct.id, "Lunch?");
    await postMessage(base, alice.token, direct.id, "Thai place at one");
    for (const tab of [first.page, second.page]) {
      await item(tab, "Alice").getByTestId("unread-badge").filter({ hasText: "2" }).waitFor();
      await until("the title counts 2 unread", () => titleIs(tab, "(2) chatapi"));
    }
    await openChat(first.page, "Alice");
    await message(first.page, "Thai place at one").waitFor();
    await item(second.page, "Alice").getByTestId("unread-badge").waitFor({ state: "detached" });
    await until("the other tab's title has no count", () => titleIs(second.page, "chatapi"));
    await shot(second.page, "13-5-second-tab-unread.png");
    await first.context.close();
  });

  let ivy;
  let ivyDirect;

  scenario("13-9: only what was on screen is read; a divider marks where the new messages start", async () => {
    const { alice } = people;
    ivyDirect = await createDirectViaApi(base, alice.token, people.ivy.id);
    await createGroupViaApi(base, alice.token, "Weekend group", [people.ivy.id]);
    for (let i = 1; i <= 5; i += 1) await postMessage(base, alice.token, ivyDirect.id, `earlier ${i}`);
    ivy = await signIn("ivy");
    await openChat(ivy.page, "Alice");
    await message(ivy.page, "earlier 5").waitFor();
    await until("Ivy has read the first five", async () => (await markersOf(ivyDirect.id, "alice", "ivy")).read === 5);
    await openChat(ivy.page, "Weekend group");

    for (let i = 1; i <= 40; i += 1) await postMessage(base, alice.token, ivyDirect.id, `news ${i}`);
    await item(ivy.page, "Alice").getByTestId("unread-badge").filter({ hasText: "40" }).waitFor();
    await openChat(ivy.page, "Alice");
    // The chat opens at the first unread message, under an "N new messages" divider.
    const divider = ivy.page.getByTestId("new-messages-divider");
    await divider.filter({ hasText: "40 new messages" }).waitFor();
    await body(ivy.page, "news 1").waitFor();
    assert.ok(await onScreen(ivy.page, "news 1"), "the first unread message is on screen");
    assert.ok(!(await onScreen(ivy.page, "news 40")), "the newest is below, not on screen");
    const jump = ivy.page.getByTestId("jump-to-newest");
    await jump.waitFor();
    await ivy.page.waitForTimeout(1200);
    const seen = (await markersOf(ivyDirect.id, "alice", "ivy")).read;
    assert.ok(seen >= 6 && seen < 45, `read up to what was on screen, not the newest (read ${seen})`);
    const below = Number(await jump.getByTestId("jump-count").innerText());
    assert.equal(below, 45 - seen, "the jump button counts the new messages below");
    await shot(ivy.page, "13-9-new-messages-divider.png");
    await assertAccessible(ivy.page, "a chat opened at the first unread message");

    await jump.click();
    await until("reading to the end", async () => (await markersOf(ivyDirect.id, "alice", "ivy")).read === 45);
    await item(ivy.page, "Alice").getByTestId("unread-badge").waitFor({ state: "detached" });

    // A message arriving while Ivy reads far up is not read until she scrolls down to it.
    const list = ivy.page.getByTestId("message-list");
    await list.evaluate((el) => el.scrollTo(0, 0));
    await ivy.page.waitForTimeout(300);
    await postMessage(base, alice.token, ivyDirect.id, "Are you there?");
    await jump.getByTestId("jump-count").filter({ hasText: "1" }).waitFor();
    await ivy.page.waitForTimeout(1000);
    assert.equal((await markersOf(ivyDirect.id, "alice", "ivy")).read, 45);
    await jump.click();
    await until("reading the new one", async () => (await markersOf(ivyDirect.id, "alice", "ivy")).read === 46);
  });

  scenario("13-10: a draft is kept per conversation, across switching and reloads", async () => {
    const page = ivy.page;
    const input = page.getByTestId("composer-input");
    await input.fill("half a thought");
    await openChat(page, "Weekend group");
    assert.equal(await input.inputValue(), "");
    await item(page, "Alice")
      .getByTestId("conversation-preview")
      .filter({ hasText: "Draft: half a thought" })
      .waitFor();
    await input.fill("another idea");
    await openChat(page, "Alice");
    assert.equal(await input.inputValue(), "half a thought");
    await page.reload();
    await page.getByTestId("conversation-title").filter({ hasText: "Alice" }).waitFor();
    await until("the draft is back after a reload", async () => (await input.inputValue()) === "half a thought");
    await item(page, "Weekend group")
      .getByTestId("conversation-preview")
      .filter({ hasText: "Draft: another idea" })
      .waitFor();
    await input.fill("half a thought, finished");
    await input.press("Enter");
    await message(page, "half a thought, finished").waitFor();
    await openChat(page, "Weekend group");
    await item(page, "Alice")
      .getByTestId("conversation-preview")
      .filter({ hasText: "You: half a thought, finished" })
      .waitFor();
    assert.deepEqual(ivy.errors, []);
  });

  scenario("no Content Security Policy violations", async () => {
    assert.deepEqual(cspViolations.flat(), []);
  });
});
