// Signing in from a shared office address, with the server's default login limits.
// Run: npm run test:e2e   (see harness.mjs for the environment it reads)
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { spawn } from "node:child_process";
import {
  accessibilityProblems,
  freePort,
  inCI,
  launchBrowser,
  missingPrerequisite,
  registerViaApi,
  repoDir,
  screenshotDir,
  startServer,
} from "./harness.mjs";

/**
 * A real SMTP server on loopback (aiosmtpd's debugging handler, from the project's venv):
 * every mail it receives is printed, and `mails()` is all it printed so far.
 */
async function startSmtp() {
  const port = await freePort();
  let out = "";
  const child = spawn(
    join(repoDir, ".venv", "bin", "python"),
    ["-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Debugging", "-l", `127.0.0.1:${port}`],
    { env: { ...process.env, PYTHONUNBUFFERED: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout.on("data", (chunk) => (out += chunk));
  child.stderr.on("data", (chunk) => (out += chunk));
  return { url: `smtp://127.0.0.1:${port}`, mails: () => out, stop: () => child.kill() };
}

const PASSWORD = "correct horse battery";
const missing = missingPrerequisite();
const skip = missing && !inCI ? missing : false;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

describe("signing in, and the account's security, in the browser", { skip: Boolean(missing), timeout: 120_000 }, () => {
  let server;
  let browser;
  let smtp;

  before(async () => {
    await mkdir(screenshotDir, { recursive: true });
    // The defaults an operator gets: 10 failures per account, 100 per address, per minute.
    smtp = await startSmtp();
    server = await startServer({
      LOGIN_RATE_LIMIT: "10/minute",
      LOGIN_ADDRESS_RATE_LIMIT: "100/minute",
      SMTP_URL: smtp.url,
      MAIL_FROM: "chatapi <chat@example.com>",
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    smtp?.stop();
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

  it(
    "15: a password change from the laptop signs the phone out; the phone is listed, then gone",
    { skip },
    async () => {
      await registerViaApi(server.baseURL, "sam", PASSWORD, "Sam Secure");
      const laptop = await browser.newContext({
        baseURL: server.baseURL,
        userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
      });
      const phone = await browser.newContext({
        baseURL: server.baseURL,
        userAgent:
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        viewport: { width: 390, height: 844 },
      });
      try {
        const phonePage = await phone.newPage();
        phonePage.setDefaultTimeout(15_000);
        await phonePage.goto("/login");
        await signIn(phonePage, "sam", PASSWORD);
        await phonePage.getByRole("heading", { name: "Chats" }).waitFor();

        const page = await laptop.newPage();
        page.setDefaultTimeout(15_000);
        await page.goto("/login");
        await signIn(page, "sam", PASSWORD);
        await page.getByRole("heading", { name: "Chats" }).waitFor();
        await page.getByRole("button", { name: /account menu/ }).click();
        await page.getByRole("button", { name: "Security…" }).click();
        const dialog = page.getByRole("dialog", { name: "Security" });
        const rows = dialog.getByTestId("session-row");
        await rows.filter({ hasText: "Mobile Safari 17 on iOS" }).waitFor();
        await rows.filter({ hasText: "Firefox 133 on Windows" }).filter({ hasText: "This device" }).waitFor();
        assert.deepEqual(await accessibilityProblems(page), []);

        await dialog.getByLabel("Current password").fill(PASSWORD);
        await dialog.getByLabel("New password", { exact: true }).fill("an even better passphrase");
        await dialog.getByLabel("New password again").fill("an even better passphrase");
        await dialog.getByRole("button", { name: "Change password" }).click();
        await dialog.getByTestId("password-changed").waitFor();
        // The phone is signed out at once (its socket closes 4401, its refresh is refused)...
        await phonePage.getByRole("button", { name: "Sign in" }).waitFor();
        assert.match(phonePage.url(), /\/login/);
        // ...and leaves the laptop's list; the laptop stays signed in.
        await rows.filter({ hasText: "Mobile Safari" }).waitFor({ state: "detached" });
        assert.equal(await rows.count(), 1);
        await page.screenshot({ path: join(screenshotDir, "15-security-password-changed.png") });
        await phonePage.screenshot({ path: join(screenshotDir, "15-phone-signed-out.png") });
        // The old password no longer signs in; the new one does.
        await signIn(phonePage, "sam", PASSWORD);
        await phonePage.getByTestId("auth-error").waitFor();
        await signIn(phonePage, "sam", "an even better passphrase");
        await phonePage.getByRole("heading", { name: "Chats" }).waitFor();
      } catch (error) {
        console.error(`--- server log (tail) ---\n${server.log().slice(-4000)}`);
        throw error;
      } finally {
        await laptop.close();
        await phone.close();
      }
    },
  );

  it("15: forgot password: the mailed link sets a new one, once", { skip }, async () => {
    const context = await browser.newContext({ baseURL: server.baseURL });
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      await page.goto("/register");
      await page.getByLabel("Username").fill("forgetful");
      await page.getByLabel(/E-mail address/).fill("forgetful@example.com");
      await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
      await page.getByRole("button", { name: "Create account" }).click();
      await page.getByRole("heading", { name: "Chats" }).waitFor();
      await page.getByRole("button", { name: /account menu/ }).click();
      await page.getByRole("button", { name: "Sign out" }).click();

      await page.getByRole("link", { name: "Forgot your password?" }).click();
      await page.getByLabel("Username or e-mail address").fill("forgetful@example.com");
      await page.getByRole("button", { name: "Send the link" }).click();
      await page.getByTestId("reset-sent").waitFor();
      assert.deepEqual(await accessibilityProblems(page), []);
      await page.screenshot({ path: join(screenshotDir, "15-reset-link-sent.png") });
      let link = null;
      for (let i = 0; i < 100 && !link; i += 1) {
        link = /http:\/\/127\.0\.0\.1:\d+\/reset-password#token=[\w-]+/.exec(smtp.mails())?.[0] ?? null;
        if (!link) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(link, `no reset mail arrived:\n${smtp.mails()}`);
      assert.match(smtp.mails(), /To: forgetful@example\.com/);

      await page.goto(link);
      await page.getByLabel("New password", { exact: true }).fill("my new passphrase");
      assert.doesNotMatch(page.url(), /token=/); // the secret leaves the address bar
      await page.getByLabel("New password again").fill("my new passphrase");
      await page.getByRole("button", { name: "Set the new password" }).click();
      await page.getByTestId("reset-done").waitFor();
      await page.screenshot({ path: join(screenshotDir, "15-reset-done.png") });
      await page.getByRole("link", { name: "Sign in" }).click();
      await signIn(page, "forgetful", "my new passphrase");
      await page.getByRole("heading", { name: "Chats" }).waitFor();
      // The link works once.
      const again = await context.newPage();
      await again.goto(link);
      await again.getByLabel("New password", { exact: true }).fill("another passphrase");
      await again.getByLabel("New password again").fill("another passphrase");
      await again.getByRole("button", { name: "Set the new password" }).click();
      await again.getByTestId("reset-error").filter({ hasText: "not valid" }).waitFor();
    } catch (error) {
      console.error(`--- server log (tail) ---\n${server.log().slice(-4000)}\n--- smtp ---\n${smtp.mails()}`);
      throw error;
    } finally {
      await context.close();
    }
  });
});
