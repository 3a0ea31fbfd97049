import { startServer, launchBrowser, registerViaApi } from "./harness.mjs";
const server = await startServer();
const browser = await launchBrowser();
try {
  for (const u of ["alice", "bob", "carol"]) await registerViaApi(server.baseURL, u, "correct horse battery", u[0].toUpperCase() + u.slice(1));
  const ctx = await browser.newContext({ baseURL: server.baseURL, viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(8000);
  page.on("console", (m) => console.log("console:", m.type(), m.text()));
  page.on("pageerror", (e) => console.log("pageerror:", e));
  page.on("response", (r) => { if (r.url().includes("/api/")) console.log("resp", r.status(), r.request().method(), r.url().replace(server.baseURL, "")); });
  page.on("websocket", (ws) => { ws.on("framesent", (f) => console.log("WS>", String(f.payload).slice(0, 200))); ws.on("framereceived", (f) => console.log("WS<", String(f.payload).slice(0, 300))); });
  await page.goto("/login");
  await page.getByLabel("Username").fill("alice");
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Chats" }).waitFor();
  await page.getByRole("button", { name: "New group" }).click();
  await page.getByLabel("Group name").fill("Weekend plans");
  const picker = page.getByPlaceholder("Add people by username");
  await picker.fill("bob");
  await page.getByRole("button", { name: "Add Bob" }).click();
  await page.getByRole("button", { name: "Create group" }).click();
  await page.getByTestId("conversation-title").filter({ hasText: "Weekend plans" }).waitFor();
  await page.waitForTimeout(1000);
  console.log("---- typing");
  const input = page.getByTestId("composer-input");
  await input.fill("Saturday hike?");
  await input.press("Enter");
  await page.waitForTimeout(1500);
  await page.screenshot({ path: "/tmp/scratch/group.png" });
} finally {
  await browser.close();
  await server.stop();
}
