// Signing in from a shared office address, with the server's default login limits.
// Run: npm run test:e2e   (see harness.mjs for the environment it reads)
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inCI, launchBrowser, missingPrerequisite, registerViaApi, screenshotDir, startServer } from "./harness.mjs";

const PASSWORD = "correct horse battery";
const missing = missingPrerequisite();
const skip = missing && !inCI ? missing : false;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

describe("sign-in limits in the browser", { skip: Boolean(missing), timeout: 120_000 }, () => {
  let server;
  let browser;

  before(async () => {
    await mkdir(screenshotDir, { recursive: true });
    // The defaults an operator gets: 10 failures per account, 100 per address, per minute.
    server = await startServer({ LOGIN_RATE_LIMIT: "10/minute", LOGIN_ADDRESS_RATE_LIMIT: "100/minute" });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function signIn(page, username, password) {
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
  }

  it("13-12: one person's typos lock their own account, not everyone behind the address", { skip }, async () => {
    await registerViaApi(server.baseURL, "typo", PASSWORD, "Typo Tim");
    await registerViaApi(server.baseURL, "office", PASSWORD, "Office Olga");
    const tim = await browser.newContext({ baseURL: server.baseURL });
    const olga = await browser.newContext({ baseURL: server.baseURL });
    try {
      const timPage = await tim.newPage();
      timPage.setDefaultTimeout(15_000);
      await timPage.goto("/login");
      // Ten wrong passwords, each answered as such; the eleventh try is refused for a while.
      for (let i = 0; i < 10; i += 1) {
        await signIn(timPage, "typo", `wrong password ${i}`);
        await timPage.getByTestId("auth-error").filter({ hasText: "Wrong username or password." }).waitFor();
        await timPage.getByRole("button", { name: "Sign in" }).and(timPage.locator(":enabled")).waitFor();
      }
      await signIn(timPage, "typo", PASSWORD);
      await timPage.getByTestId("auth-error").filter({ hasText: "Too many failed logins for this account" }).waitFor();

      // A colleague at the next desk, same address, signs in at once.
      const olgaPage = await olga.newPage();
      olgaPage.setDefaultTimeout(15_000);
      await olgaPage.goto("/login");
      await signIn(olgaPage, "office", PASSWORD);
      await olgaPage.getByRole("heading", { name: "Chats" }).waitFor();
      await timPage.screenshot({ path: join(screenshotDir, "13-12-own-account-locked.png") });
      await olgaPage.screenshot({ path: join(screenshotDir, "13-12-colleague-signed-in.png") });
    } catch (error) {
      console.error(`--- server log (tail) ---\n${server.log().slice(-4000)}`);
      throw error;
    } finally {
      await tim.close();
      await olga.close();
    }
  });
});
