// Profiles as people meet them (issue 15): Alice opens "Profile…", uploads a picture (a PNG
// made here), moves and zooms the square crop, saves; Bob, in a direct chat and a group with
// her, sees her picture appear live in his conversation list, the chat header and beside her
// messages, without a reload. She renames herself and Bob sees the new name live; she
// removes the picture and Bob sees her initials again. Light and dark screenshots of the
// dialog and of Bob's view. One server and one browser for the file; a context per person.
// Run: npx vite build && node --test e2e/profile.e2e.test.mjs
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  accessibilityProblems,
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
const PEOPLE = { alice: "Alice Liddell", bob: "Bob Dylan" };
const missing = missingPrerequisite();
const skip = missing && !inCI ? missing : false;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

describe("profile pictures and names, live", { skip: Boolean(missing), timeout: 120_000 }, () => {
  let server;
  let browser;
  let base;
  const people = {};
  const cspViolations = [];
  const pageErrors = [];
  let alice;
  let bob;

  before(async () => {
    ({ server, browser } = await startScenario());
    base = server.baseURL;
    Object.assign(people, await signUpAll(base, PASSWORD, PEOPLE));
    const direct = await createDirectViaApi(base, people.alice.token, people.bob.id);
    await postMessage(base, people.alice.token, direct.id, "Hi Bob, new picture soon");
    const group = await createGroupViaApi(base, people.bob.token, "Book club", [people.alice.id]);
    await postMessage(base, people.bob.token, group.id, "Who has read Dune?");
    await postMessage(base, people.alice.token, group.id, "I have, twice");
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
    page.on("pageerror", (e) => pageErrors.push(`${username}: ${e}`));
    cspViolations.push(collectCspViolations(page));
    await page.goto("/login");
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Chats" }).waitFor();
    return page;
  }

  const shot = (page, name) => page.screenshot({ path: join(screenshotDir, name) });
  const item = (page, text) => page.getByTestId("conversation-item").filter({ hasText: text });
  const message = (page, text) => page.getByTestId("message").filter({ hasText: text });

  /** The picture inside `scope` once it has loaded: its natural width. */
  async function pictureWidth(scope) {
    const img = scope.locator("img.avatar-img").first();
    await img.waitFor();
    await img.evaluate((el) =>
      el.complete && el.naturalWidth > 0
        ? null
        : new Promise((resolve, reject) => {
            el.addEventListener("load", resolve, { once: true });
            el.addEventListener("error", () => reject(new Error(`picture failed: ${el.src}`)), { once: true });
          }),
    );
    return img.evaluate((el) => el.naturalWidth);
  }

  async function openProfile(page) {
    await page.getByTestId("account-menu").click();
    await page.getByRole("button", { name: "Profile…" }).click();
    const dialog = page.getByRole("dialog", { name: "Profile" });
    await dialog.waitFor();
    // Screenshots after the fade-in: the dialog has slid into place.
    await page.waitForFunction(() => {
      const box = document.querySelector(".modal.show .modal-dialog");
      return box !== null && getComputedStyle(box).transform === "none";
    });
    await page.waitForTimeout(200);
    return dialog;
  }

  async function closeDialog(page) {
    await page.keyboard.press("Escape");
    await page.getByRole("dialog").waitFor({ state: "detached" });
  }

  async function assertAccessible(page, where) {
    const problems = await accessibilityProblems(page);
    assert.deepEqual(problems, [], `accessibility problems on ${where}:\n${problems.join("\n")}`);
  }

  scenario("15-p1: Alice uploads a cropped picture; Bob sees it live everywhere she appears", async () => {
    alice = await signIn("alice");
    bob = await signIn("bob");
    // Bob is in the group, with Alice's message (and its sender avatar) on screen.
    await item(bob, "Book club").click();
    await message(bob, "I have, twice").waitFor();
    await assert.rejects(item(bob, PEOPLE.alice).locator("img.avatar-img").waitFor({ timeout: 500 }));

    const dialog = await openProfile(alice);
    await assertAccessible(alice, "the profile dialog");
    await shot(alice, "15-profile-dialog-light.png");

    await dialog.getByTestId("picture-input").setInputFiles({
      name: "me.png",
      mimeType: "image/png",
      buffer: makePng(400, 300),
    });
    const cropper = dialog.getByTestId("avatar-cropper");
    await cropper.waitFor();
    await dialog.getByRole("slider", { name: "Zoom" }).fill("1.5");
    // Drag the picture left: the crop moves right.
    const box = await cropper.boundingBox();
    await alice.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await alice.mouse.down();
    await alice.mouse.move(box.x + box.width / 2 - 60, box.y + box.height / 2, { steps: 5 });
    await alice.mouse.up();
    await assertAccessible(alice, "the picture cropper");
    await shot(alice, "15-profile-cropper-light.png");

    const sent = alice.waitForRequest((r) => r.method() === "PUT" && r.url().includes("/users/me/avatar"));
    await dialog.getByTestId("picture-save").click();
    const crop = new URL((await sent).url()).searchParams;
    const [x, y, size] = ["x", "y", "size"].map((k) => Number(crop.get(k)));
    // Zoomed 1.5 on a 400x300 image: a 200-pixel square, moved right of centre.
    assert.equal(size, 200);
    assert.ok(x > 100 && x <= 200, `crop x ${x}`);
    assert.ok(y >= 0 && y <= 100, `crop y ${y}`);
    assert.equal(await pictureWidth(dialog), 256);
    await dialog.getByTestId("picture-remove").waitFor();
    await shot(alice, "15-profile-dialog-with-picture-light.png");
    await closeDialog(alice);
    assert.equal(await pictureWidth(alice.getByTestId("account-menu")), 64);

    // Bob, without a reload: the conversation list, beside her message in the group...
    assert.equal(await pictureWidth(item(bob, PEOPLE.alice)), 64);
    assert.equal(await pictureWidth(message(bob, "I have, twice")), 64);
    await shot(bob, "15-bob-sees-picture-light.png");
    // ...and the direct chat's header.
    await item(bob, PEOPLE.alice).click();
    await message(bob, "Hi Bob, new picture soon").waitFor();
    assert.equal(await pictureWidth(bob.locator("main header")), 64);
  });

  scenario("15-p2: Alice renames herself; Bob sees the new name live", async () => {
    const dialog = await openProfile(alice);
    const input = dialog.getByTestId("display-name-input");
    await input.fill("Alice in Wonderland");
    await dialog.getByRole("button", { name: "Save", exact: true }).click();
    await dialog.getByTestId("name-saved").waitFor();
    await closeDialog(alice);
    await alice.getByTestId("account-menu").filter({ hasText: "Alice in Wonderland" }).waitFor();
    await item(bob, "Alice in Wonderland").waitFor();
    await item(bob, "Book club").click();
    await message(bob, "I have, twice").getByText("Alice in Wonderland").waitFor();
    assert.equal(await item(bob, PEOPLE.alice).count(), 0);
  });

  scenario("15-p3: dark mode: the dialog and Bob's view", async () => {
    for (const page of [alice, bob]) await page.getByTestId("theme-toggle").click();
    assert.equal(await alice.locator("html").getAttribute("data-bs-theme"), "dark");
    await bob.mouse.move(900, 300);
    await shot(bob, "15-bob-sees-picture-dark.png");
    await assertAccessible(bob, "Bob's group view (dark)");
    const dialog = await openProfile(alice);
    await pictureWidth(dialog);
    await shot(alice, "15-profile-dialog-dark.png");
    await assertAccessible(alice, "the profile dialog (dark)");
    await dialog.getByTestId("picture-input").setInputFiles({
      name: "other.png",
      mimeType: "image/png",
      buffer: makePng(300, 500),
    });
    await dialog.getByTestId("avatar-cropper").waitFor();
    await alice.waitForTimeout(200); // the picture is drawn on the canvas
    await shot(alice, "15-profile-cropper-dark.png");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.getByTestId("picture-remove").waitFor();
  });

  scenario("15-p4: Alice removes her picture; Bob sees her initials again", async () => {
    const dialog = alice.getByRole("dialog", { name: "Profile" });
    await dialog.getByTestId("picture-remove").click();
    await dialog.getByRole("button", { name: "Upload a picture…" }).waitFor();
    await closeDialog(alice);
    await message(bob, "I have, twice").locator("img.avatar-img").waitFor({ state: "detached" });
    await item(bob, "Alice in Wonderland").locator("img.avatar-img").waitFor({ state: "detached" });
    assert.equal((await item(bob, "Alice in Wonderland").getByTestId("avatar").innerText()).trim(), "AW");
    for (const page of [alice, bob]) await page.getByTestId("theme-toggle").click();
  });

  scenario("15-p5: no CSP violations, no page errors", async () => {
    assert.deepEqual(cspViolations.flat(), []);
    assert.deepEqual(pageErrors, []);
  });
});
