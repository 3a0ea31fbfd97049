// The whole chat flow in a real browser against a real server.
// Run: npm run test:e2e   (see harness.mjs for the environment it reads)
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  accessibilityProblems,
  assertStrictCsp,
  collectCspViolations,
  inCI,
  loginViaApi,
  postMessage,
  launchBrowser,
  makePng,
  missingPrerequisite,
  registerViaApi,
  screenshotDir,
  startServer,
} from "./harness.mjs";

const PASSWORD = "correct horse battery";
const missing = missingPrerequisite();
// Locally a missing browser or server skips; in CI it is a failure, never a silent skip.
const skip = missing && !inCI ? missing : false;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

describe("chat in the browser", { skip: Boolean(missing), timeout: 240_000 }, () => {
  let server;
  let browser;
  const pages = [];
  const cspViolations = [];

  before(async () => {
    await mkdir(screenshotDir, { recursive: true });
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    // Leave evidence of a failure: every open page as a screenshot, and the server log.
    let i = 0;
    for (const page of pages) {
      i += 1;
      if (!page.isClosed())
        await page.screenshot({ path: join(screenshotDir, `last-page-${i}.png`) }).catch(() => undefined);
    }
    await browser?.close();
    await server?.stop();
  });

  async function openPage(context, errors) {
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    pages.push(page);
    page.on("pageerror", (e) => errors.push(String(e)));
    cspViolations.push(collectCspViolations(page));
    return page;
  }

  async function newPage(viewport = { width: 1280, height: 800 }, colorScheme = "light") {
    const context = await browser.newContext({ baseURL: server.baseURL, viewport, colorScheme });
    const errors = [];
    const page = await openPage(context, errors);
    return { context, page, errors };
  }

  async function registerInUi(page, username, displayName) {
    await page.goto("/register");
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Display name").fill(displayName);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { name: "Chats" }).waitFor();
  }

  const message = (page, text) => page.getByTestId("message").filter({ hasText: text });
  // A message whose body is exactly `text` ("history 7" at 08:50 reads "history 708:50 PM",
  // which a substring match of "history 70" also finds).
  const exactMessage = (page, text) =>
    page.getByTestId("message").filter({ has: page.getByTestId("message-body").getByText(text, { exact: true }) });

  async function send(page, text) {
    const input = page.getByTestId("composer-input");
    await input.fill(text);
    await input.press("Enter");
    await message(page, text).first().waitFor();
  }

  async function statusOf(page, text) {
    return message(page, text).first().getByTestId("message-status").getAttribute("data-status");
  }

  async function waitForStatus(page, text, wanted) {
    const deadline = Date.now() + 15_000;
    let last;
    while (Date.now() < deadline) {
      last = await statusOf(page, text).catch(() => null);
      if (wanted.includes(last)) return last;
      await page.waitForTimeout(100);
    }
    assert.fail(`status of "${text}" stayed ${last}, wanted ${wanted.join(" or ")}`);
  }

  async function assertAccessible(page, where) {
    const problems = await accessibilityProblems(page);
    assert.deepEqual(problems, [], `accessibility problems on ${where}:\n${problems.join("\n")}`);
  }

  async function noHorizontalOverflow(page) {
    const { scroll, client } = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
    }));
    assert.ok(scroll <= client, `page overflows horizontally: ${scroll} > ${client}`);
  }

  it("two people chat, see typing, ticks and images; groups; dark mode; phone layout", { skip }, async () => {
    try {
      await wholeFlow();
    } catch (error) {
      console.error(`--- server log (tail) ---\n${server.log().slice(-6000)}`);
      throw error;
    }
  });

  async function wholeFlow() {
    await registerViaApi(server.baseURL, "carol", PASSWORD, "Carol");
    const alice = await newPage();
    const bob = await newPage();

    // The app is served with its strict policy, and runs under it.
    assertStrictCsp(await alice.page.goto("/login"));

    // Registration errors are spelled out.
    await registerInUi(alice.page, "alice", "Alice");
    const dup = await newPage();
    await dup.page.goto("/register");
    await dup.page.getByLabel("Username").fill("alice");
    await dup.page.getByLabel("Password").fill(PASSWORD);
    await dup.page.getByRole("button", { name: "Create account" }).click();
    await dup.page.getByTestId("auth-error").filter({ hasText: "taken" }).waitFor();
    await dup.context.close();

    await registerInUi(bob.page, "bob", "Bob");

    // Alice finds Bob and starts a direct chat.
    await alice.page.getByPlaceholder("Search people to message").fill("bo");
    await alice.page.getByRole("button", { name: "Message Bob" }).click();
    await alice.page.getByTestId("conversation-title").filter({ hasText: "Bob" }).waitFor();
    await send(alice.page, "Hello Bob!");
    await waitForStatus(alice.page, "Hello Bob!", ["sent", "delivered", "read"]);

    // Bob sees the conversation with an unread badge, opens it, reads it.
    const bobItem = bob.page.getByTestId("conversation-item").filter({ hasText: "Alice" });
    await bobItem.getByTestId("unread-badge").filter({ hasText: "1" }).waitFor();
    await bobItem.click();
    await message(bob.page, "Hello Bob!").waitFor();
    await waitForStatus(alice.page, "Hello Bob!", ["read"]);
    await alice.page.getByTestId("conversation-item").filter({ hasText: "Bob" }).getByTestId("online-dot").waitFor();
    await alice.page.getByTestId("conversation-subtitle").filter({ hasText: "online" }).waitFor();

    // Typing shows on the other side; Shift+Enter makes a new line; Enter sends.
    const bobInput = bob.page.getByTestId("composer-input");
    await bobInput.pressSequentially("Hi Alice", { delay: 30 });
    await alice.page.getByTestId("typing-indicator").filter({ hasText: "Bob is typing…" }).waitFor();
    await bobInput.press("Shift+Enter");
    await bobInput.pressSequentially("how are you?");
    await bobInput.press("Enter");
    await message(alice.page, "how are you?").waitFor();
    const body = await message(alice.page, "how are you?").getByTestId("message-body").innerText();
    assert.equal(body, "Hi Alice\nhow are you?");
    await alice.page.getByTestId("typing-indicator").filter({ hasText: /^$/ }).waitFor();

    // Reply, then edit and delete my own messages.
    await message(alice.page, "how are you?")
      .getByRole("button", { name: /Actions for message/ })
      .click();
    await alice.page.getByRole("button", { name: "Reply" }).click();
    await alice.page.getByTestId("reply-preview").waitFor();
    await send(alice.page, "Great, thanks");
    await message(bob.page, "Great, thanks").getByTestId("reply-quote").filter({ hasText: "how are you?" }).waitFor();

    await send(alice.page, "Typo mesage");
    await message(alice.page, "Typo mesage")
      .getByRole("button", { name: /Actions for message/ })
      .click();
    await alice.page.getByRole("button", { name: "Edit" }).click();
    const aliceInput = alice.page.getByTestId("composer-input");
    await aliceInput.fill("Fixed message");
    await aliceInput.press("Enter");
    await message(bob.page, "Fixed message").filter({ hasText: "edited" }).waitFor();

    await message(alice.page, "Fixed message")
      .getByRole("button", { name: /Actions for message/ })
      .click();
    await alice.page.getByRole("button", { name: "Delete" }).click();
    await alice.page.getByRole("dialog", { name: "Delete message?" }).getByRole("button", { name: "Delete" }).click();
    await message(bob.page, "message deleted").waitFor();

    // An image: upload with progress, then the thumbnail on Bob's side opens full size.
    await alice.page
      .getByTestId("file-input")
      .setInputFiles({ name: "sunset.png", mimeType: "image/png", buffer: makePng() });
    await alice.page.getByTestId("upload-done").waitFor();
    await alice.page.getByTestId("send-button").click();
    const thumb = bob.page.getByTestId("image-thumbnail").first();
    await thumb.waitFor();
    await bob.page.waitForFunction(
      () => {
        const img = document.querySelector('[data-testid="image-thumbnail"]');
        return img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0;
      },
      undefined,
      { timeout: 15_000 },
    );
    await thumb.click();
    await bob.page.getByRole("dialog").locator("img").waitFor();
    await bob.page.keyboard.press("Escape");
    await bob.page.getByRole("dialog").waitFor({ state: "detached" });

    await alice.page.screenshot({ path: join(screenshotDir, "light.png") });
    await assertAccessible(alice.page, "a direct chat (light)");

    // Offline: the banner shows, a message written meanwhile goes out once on reconnect.
    await alice.context.setOffline(true);
    await alice.page.getByTestId("connection-banner").waitFor();
    await alice.page.getByTestId("composer-input").fill("Sent while offline");
    await alice.page.getByTestId("composer-input").press("Enter");
    await waitForStatus(alice.page, "Sent while offline", ["pending"]);
    await send(bob.page, "Missed while offline");
    await alice.context.setOffline(false);
    await message(alice.page, "Missed while offline").waitFor();
    await message(bob.page, "Sent while offline").waitFor();
    await waitForStatus(alice.page, "Sent while offline", ["sent", "delivered", "read"]);
    await alice.page.getByTestId("connection-banner").waitFor({ state: "detached" });
    await bob.page.waitForTimeout(1000);
    assert.equal(await message(bob.page, "Sent while offline").count(), 1);
    assert.equal(await message(alice.page, "Sent while offline").count(), 1);

    // Unsent messages survive closing the tab: written offline, sent when the app is opened again.
    await alice.context.setOffline(true);
    await alice.page.getByTestId("connection-banner").waitFor();
    await alice.page.getByTestId("composer-input").fill("Written before closing");
    await alice.page.getByTestId("composer-input").press("Enter");
    await waitForStatus(alice.page, "Written before closing", ["pending"]);
    const chatUrl = alice.page.url();
    await alice.page.close();
    await alice.context.setOffline(false);
    alice.page = await openPage(alice.context, alice.errors);
    await alice.page.goto(chatUrl);
    await message(bob.page, "Written before closing").waitFor();
    await waitForStatus(alice.page, "Written before closing", ["sent", "delivered", "read"]);
    await bob.page.waitForTimeout(500);
    assert.equal(await message(bob.page, "Written before closing").count(), 1);
    assert.equal(await message(alice.page, "Written before closing").count(), 1);

    // A document shows as a chip with its name and size.
    await alice.page.getByTestId("file-input").setInputFiles({
      name: "notes.txt",
      mimeType: "text/plain",
      buffer: Buffer.from("Packing list: boots, water, map.\n".repeat(40)),
    });
    await alice.page.getByTestId("upload-done").waitFor();
    await alice.page.getByTestId("composer-input").fill("The list");
    await alice.page.getByTestId("composer-input").press("Enter");
    await bob.page.getByTestId("document-chip").filter({ hasText: "notes.txt" }).filter({ hasText: "KB" }).waitFor();

    // A slow upload shows its progress and can be cancelled.
    const cdp = await alice.context.newCDPSession(alice.page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 20,
      downloadThroughput: -1,
      uploadThroughput: 100 * 1024,
    });
    await alice.page.getByTestId("file-input").setInputFiles({
      name: "archive.zip",
      mimeType: "application/zip",
      buffer: randomBytes(2_000_000),
    });
    await alice.page.waitForFunction(() => {
      const bar = document.querySelector('[data-testid="upload"] [role="progressbar"]');
      return bar !== null && Number(bar.getAttribute("aria-valuenow")) > 0;
    });
    await alice.page.getByRole("button", { name: "Cancel upload of archive.zip" }).click();
    await alice.page.getByTestId("upload").waitFor({ state: "detached" });
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    await cdp.detach();

    // Drag and drop attaches too.
    const dropped = await alice.page.evaluateHandle((b64) => {
      const dt = new DataTransfer();
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
      return dt;
    }, makePng(120, 90).toString("base64"));
    const chat = alice.page.locator("section").filter({ has: alice.page.getByTestId("composer-input") });
    await chat.dispatchEvent("dragover", { dataTransfer: dropped });
    await chat.dispatchEvent("drop", { dataTransfer: dropped });
    await alice.page.getByTestId("upload").filter({ hasText: "dropped.png" }).getByTestId("upload-done").waitFor();
    await alice.page.getByTestId("send-button").click();
    await bob.page.getByRole("button", { name: "Open image dropped.png" }).waitFor();

    // History: scrolling up loads older pages until the beginning.
    const directUrl = alice.page.url();
    const conversationId = directUrl.split("/c/")[1];
    const bobToken = await loginViaApi(server.baseURL, "bob", PASSWORD);
    for (let i = 1; i <= 70; i += 1) {
      await postMessage(server.baseURL, bobToken, conversationId, `history ${i}`);
    }
    await alice.page.reload();
    await exactMessage(alice.page, "history 70").waitFor();
    const list = alice.page.getByTestId("message-list");
    for (
      let i = 0;
      i < 10 && !(await alice.page.getByText("This is the beginning of the conversation.").isVisible());
      i += 1
    ) {
      await list.evaluate((el) => el.scrollTo(0, 0));
      await alice.page.waitForTimeout(300);
    }
    await message(alice.page, "Hello Bob!").waitFor();
    assert.equal(await message(alice.page, /^history \d+/).count(), 70);

    // A group of three.
    await alice.page.getByRole("button", { name: "New group" }).click();
    await alice.page.getByLabel("Group name").fill("Weekend plans");
    const picker = alice.page.getByPlaceholder("Add people by username");
    await picker.fill("bob");
    await alice.page.getByRole("button", { name: "Add Bob" }).click();
    await picker.fill("car");
    await alice.page.getByRole("button", { name: "Add Carol" }).click();
    await alice.page.getByRole("button", { name: "Create group" }).click();
    await alice.page.getByRole("dialog").waitFor({ state: "detached" });
    await alice.page.getByTestId("conversation-title").filter({ hasText: "Weekend plans" }).waitFor();
    await alice.page.getByTestId("conversation-subtitle").filter({ hasText: "3 members" }).waitFor();
    await send(alice.page, "Saturday hike?");
    await bob.page.getByTestId("conversation-item").filter({ hasText: "Weekend plans" }).click();
    await message(bob.page, "Saturday hike?").waitFor();
    await alice.page.getByTestId("seen-by").filter({ hasText: "Bob" }).waitFor();

    // Dark mode, remembered across a reload that also keeps Alice signed in.
    await alice.page.getByTestId("theme-toggle").click();
    assert.equal(await alice.page.locator("html").getAttribute("data-bs-theme"), "dark");
    await alice.page.reload();
    await alice.page.getByTestId("conversation-title").filter({ hasText: "Weekend plans" }).waitFor();
    assert.equal(await alice.page.locator("html").getAttribute("data-bs-theme"), "dark");
    await message(alice.page, "Saturday hike?").waitFor();
    await alice.page.screenshot({ path: join(screenshotDir, "dark.png") });
    await assertAccessible(alice.page, "a group chat (dark)");

    // Group settings: rename, change a role, remove someone; Bob then leaves.
    await alice.page.getByRole("button", { name: "Group settings" }).click();
    const settings = alice.page.getByRole("dialog");
    await settings.getByLabel("Group name").fill("Hiking club");
    await settings.getByRole("button", { name: "Rename" }).click();
    await bob.page.getByTestId("conversation-title").filter({ hasText: "Hiking club" }).waitFor();
    await settings.getByLabel("Role of Carol").selectOption("admin");
    await alice.page.waitForFunction(() => {
      const select = document.querySelector('select[aria-label="Role of Carol"]');
      return select instanceof HTMLSelectElement && select.value === "admin";
    });
    await settings.getByRole("button", { name: "Remove Carol" }).click();
    await settings.getByTestId("member-row").filter({ hasText: "Carol" }).waitFor({ state: "detached" });
    await alice.page.getByTestId("conversation-subtitle").filter({ hasText: "2 members" }).waitFor();
    await settings.getByPlaceholder("Search people to add").fill("car");
    await settings.getByRole("button", { name: "Add Carol to the group" }).click();
    await settings.getByTestId("member-row").filter({ hasText: "Carol" }).waitFor();
    await alice.page.keyboard.press("Escape");
    await settings.waitFor({ state: "detached" });
    await alice.page.getByTestId("conversation-subtitle").filter({ hasText: "3 members" }).waitFor();
    await bob.page.getByRole("button", { name: "Group settings" }).click();
    await bob.page.getByRole("dialog").getByRole("button", { name: "Leave group" }).click();
    await bob.page
      .getByRole("dialog", { name: "Leave group?" })
      .getByRole("button", { name: "Leave", exact: true })
      .click();
    // Leaving keeps the chat, read-only (timeline.e2e.test.mjs covers it in full).
    await bob.page.getByTestId("former-banner").filter({ hasText: "You left" }).waitFor();
    await alice.page.getByTestId("conversation-subtitle").filter({ hasText: "2 members" }).waitFor();

    // Phone size: Bob signs in on a phone (a wrong password first).
    const phone = await newPage({ width: 360, height: 740 });
    await phone.page.goto("/login");
    await assertAccessible(phone.page, "the sign-in page");
    await phone.page.getByLabel("Username").fill("bob");
    await phone.page.getByLabel("Password").fill("not the password");
    await phone.page.getByRole("button", { name: "Sign in" }).click();
    await phone.page.getByTestId("auth-error").filter({ hasText: "Wrong username or password." }).waitFor();
    await phone.page.getByLabel("Password").fill(PASSWORD);
    await phone.page.getByRole("button", { name: "Sign in" }).click();
    await phone.page.getByRole("heading", { name: "Chats" }).waitFor();
    await noHorizontalOverflow(phone.page);
    await phone.page.getByTestId("conversation-item").filter({ hasText: "Alice" }).click();
    await exactMessage(phone.page, "history 70").waitFor();
    assert.equal(await phone.page.getByRole("heading", { name: "Chats" }).isVisible(), false);
    await noHorizontalOverflow(phone.page);
    await phone.page.screenshot({ path: join(screenshotDir, "phone.png") });
    await assertAccessible(phone.page, "a chat on a phone");
    await send(phone.page, "Sent from my phone");
    const aliceBob = alice.page.getByTestId("conversation-item").filter({ hasText: "Bob" });
    await aliceBob.getByTestId("conversation-preview").filter({ hasText: "Sent from my phone" }).waitFor();
    await aliceBob.getByTestId("unread-badge").waitFor();
    await noHorizontalOverflow(phone.page);
    await phone.page.getByRole("link", { name: "Back to conversations" }).click();
    await phone.page.getByRole("heading", { name: "Chats" }).waitFor();

    // Signing out ends the session for good: a reload stays on the sign-in page.
    await phone.page.getByRole("button", { name: "Bob: account menu" }).click();
    await phone.page.getByRole("button", { name: "Sign out" }).click();
    await phone.page.getByRole("heading", { name: "Sign in to chatapi" }).waitFor();
    assert.equal(await phone.page.evaluate(() => localStorage.getItem("chatapi.refresh_token")), null);
    await phone.page.reload();
    await phone.page.getByRole("heading", { name: "Sign in to chatapi" }).waitFor();

    for (const p of [alice, bob, phone]) assert.deepEqual(p.errors, [], "uncaught errors in the page");
    // The strict Content-Security-Policy broke nothing the flow used (images, previews,
    // the socket, Bootstrap's styles and icons, dark mode, the axe check).
    assert.deepEqual(cspViolations.flat(), [], "Content Security Policy violations in the console");
    await Promise.all([alice.context.close(), bob.context.close(), phone.context.close()]);
  }
});
