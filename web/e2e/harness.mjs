// End-to-end harness: a real chatapi server on a free port with a throwaway
// database and media folder, and Debian's Chromium driven by playwright-core.
//
// Environment:
//   CHATAPI_BIN    the `chatapi` command (default: ../.venv/bin/chatapi from web/)
//   CHROMIUM_PATH  the browser (default: /usr/bin/chromium)
//   CI             when set, a missing browser or server fails the run instead of skipping
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import { chromium } from "playwright-core";

export const webDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const repoDir = resolve(webDir, "..");
export const screenshotDir = join(webDir, "e2e", "screenshots");
export const chatapiBin = process.env.CHATAPI_BIN
  ? resolve(process.env.CHATAPI_BIN)
  : join(repoDir, ".venv", "bin", "chatapi");
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const inCI = Boolean(process.env.CI);

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

/** Why the suite cannot run here, or null. In CI the caller turns a reason into a failure. */
export function missingPrerequisite() {
  if (!existsSync(chromiumPath)) {
    return `Chromium not found at ${chromiumPath} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
  }
  if (!existsSync(chatapiBin)) {
    return `chatapi not found at ${chatapiBin} (make install, or set CHATAPI_BIN)`;
  }
  if (!existsSync(join(webDir, "dist", "index.html"))) {
    return "web/dist is not built (npm run build)";
  }
  return null;
}

export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

function run(cmd, args, env, cwd) {
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolveRun(output) : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${output}`)),
    );
  });
}

/** Migrate a fresh SQLite database and start `chatapi serve`; resolves once /readyz answers. */
export async function startServer(extraEnv = {}) {
  const dir = await mkdtemp(join(tmpdir(), "chatapi-e2e-"));
  await mkdir(join(dir, "media"), { recursive: true });
  const port = await freePort();
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite+aiosqlite:///${join(dir, "e2e.db")}`,
    MEDIA_DIR: join(dir, "media"),
    VAR_DIR: join(dir, "var"),
    WEB_DIST_DIR: join(webDir, "dist"),
    SECRET_KEY: `e2e-${Math.random().toString(36).slice(2)}-${Date.now()}`,
    ENVIRONMENT: "test",
    // Every browser context signs in from 127.0.0.1.
    LOGIN_RATE_LIMIT: "1000/minute",
    REDIS_URL: "",
    LOG_LEVEL: "warning",
    ...extraEnv,
  };
  await run(chatapiBin, ["migrate"], env, repoDir);
  let serving = await serveOn(env, port);
  let earlierLog = "";
  return {
    baseURL: serving.baseURL,
    port,
    /** Run a `chatapi` command (e.g. `admin grant NAME admin`) against this server's database. */
    command: (args) => run(chatapiBin, args, env, repoDir),
    log: () => earlierLog + serving.log(),
    /** Stop the server; with keepData the database and media stay for start() or restart(). */
    async stop({ keepData = false, signal = "SIGTERM" } = {}) {
      await serving.stop(signal);
      if (!keepData) await rm(dir, { recursive: true, force: true });
    },
    /** Serve again on the same port with the same database, after stop({ keepData: true }). */
    async start() {
      earlierLog += serving.log();
      serving = await serveOn(env, port);
    },
    /** Stop, stay down for downMs, start again on the same port and database. */
    async restart({ downMs = 0, signal = "SIGTERM" } = {}) {
      await this.stop({ keepData: true, signal });
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      await this.start();
    },
  };
}

const AXE = join(webDir, "node_modules", "axe-core", "axe.min.js");

/**
 * Accessibility check of what the page shows now (axe-core, WCAG 2 A/AA rules).
 * Returns the serious and critical violations as readable lines.
 */
export async function accessibilityProblems(page) {
  // Evaluated through the DevTools protocol, not added as an inline <script>: the page's
  // Content-Security-Policy (rightly) refuses inline scripts.
  await page.evaluate(readFileSync(AXE, "utf8"));
  const violations = await page.evaluate(async () => {
    const result = await globalThis.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.slice(0, 5).map((n) => `${n.target.join(" ")}: ${n.failureSummary ?? ""}`.slice(0, 300)),
    }));
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.targets.join("\n    ")}`);
}

/**
 * Every Content-Security-Policy violation the page reports on its console (Chromium logs
 * "Refused to load/execute ... because it violates the following Content Security
 * Policy directive"). The caller asserts the list stays empty.
 */
export function collectCspViolations(page) {
  const violations = [];
  page.on("console", (msg) => {
    if (/Content Security Policy/i.test(msg.text())) violations.push(`${msg.type()}: ${msg.text()}`);
  });
  return violations;
}

/** The web client is served with its strict Content-Security-Policy (no inline code). */
export function assertStrictCsp(response) {
  const csp = response?.headers()["content-security-policy"] ?? "";
  for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"]) {
    if (!csp.includes(directive)) throw new Error(`the page's CSP lacks "${directive}": ${csp}`);
  }
  if (csp.includes("unsafe-inline") || csp.includes("unsafe-eval"))
    throw new Error(`the CSP allows inline code: ${csp}`);
}

/** The browser for a test file; `extraArgs` add to CHROMIUM_ARGS (e.g. FAKE_MEDIA_ARGS). */
export async function launchBrowser(extraArgs = []) {
  return chromium.launch({ executablePath: chromiumPath, args: [...CHROMIUM_ARGS, ...extraArgs], headless: true });
}

/**
 * A fake camera (a moving test pattern, 640×480) and microphone (a beep), allowed without a
 * prompt; with them getDisplayMedia also picks a fake screen (1280 wide) on its own, headless.
 */
export const FAKE_MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"];

/** Register through the API (for people the test does not drive through the UI). */
/** What every browser scenario runs its server with: many sign-ups and messages, and cheap
 * password hashes (sign-ins are not what most files test). */
export const SCENARIO_ENV = {
  REGISTER_RATE_LIMIT: "1000/hour",
  MESSAGE_RATE_LIMIT: "1000/minute",
  PASSWORD_HASH_TIME_COST: "1",
  PASSWORD_HASH_MEMORY_KIB: "1024",
};

/** A file's one server (SCENARIO_ENV and `extraEnv`) and one browser, started together,
 * with the screenshot folder made. */
export async function startScenario(extraEnv = {}, browserArgs = []) {
  await mkdir(screenshotDir, { recursive: true });
  const [server, browser] = await Promise.all([
    startServer({ ...SCENARIO_ENV, ...extraEnv }),
    launchBrowser(browserArgs),
  ]);
  return { server, browser };
}

/** Register and sign in everyone through the API, at once. `who` is `{username: display
 * name}`, or a list of usernames (shown capitalized); answers `{username: {id, token}}`. */
export async function signUpAll(baseURL, password, who) {
  const displays = Array.isArray(who)
    ? Object.fromEntries(who.map((name) => [name, name[0].toUpperCase() + name.slice(1)]))
    : who;
  const entries = await Promise.all(
    Object.entries(displays).map(async ([name, display]) => {
      const user = await registerViaApi(baseURL, name, password, display);
      return [name, { id: user.id, token: await loginViaApi(baseURL, name, password) }];
    }),
  );
  return Object.fromEntries(entries);
}

export async function registerViaApi(baseURL, username, password, displayName) {
  const r = await fetch(`${baseURL}/api/v1/auth/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password, display_name: displayName }),
  });
  if (r.status !== 201) throw new Error(`register ${username}: ${r.status} ${await r.text()}`);
  return r.json();
}

export async function loginViaApi(baseURL, username, password) {
  const r = await fetch(`${baseURL}/api/v1/auth/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username, password }),
  });
  if (!r.ok) throw new Error(`login ${username}: ${r.status} ${await r.text()}`);
  return (await r.json()).access_token;
}

export async function postMessage(baseURL, token, conversationId, body) {
  const r = await fetch(`${baseURL}/api/v1/conversations/${conversationId}/messages`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ body }),
  });
  if (r.status !== 201) throw new Error(`post message: ${r.status} ${await r.text()}`);
  return r.json();
}

// --- a real PNG, made here (no fixtures to ship) -------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A width×height RGB PNG with a diagonal gradient. */
export function makePng(width = 320, height = 200) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < height; y += 1) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x += 1) {
      row[1 + x * 3] = Math.round((x / width) * 255);
      row[2 + x * 3] = Math.round((y / height) * 255);
      row[3 + x * 3] = 160;
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

// --- a server that can stop and come back (outages) -----------------------------------------

/** Run `chatapi serve` on `port`; resolves once /readyz answers. Used by startServer. */
async function serveOn(env, port) {
  const child = spawn(chatapiBin, ["serve", "--host", "127.0.0.1", "--port", String(port)], {
    env,
    cwd: repoDir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const baseURL = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`chatapi serve exited ${child.exitCode}:\n${log}`);
    try {
      const r = await fetch(`${baseURL}/readyz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`chatapi serve did not become ready in 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    baseURL,
    log: () => log,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill("SIGKILL");
          r(undefined);
        }, 8_000);
        child.once("exit", () => {
          clearTimeout(t);
          r(undefined);
        });
      });
    },
  };
}

// --- REST shortcuts for the people a test does not drive through the UI ----------------------

/** One JSON request as `token`'s user; throws unless the status is 2xx. Resolves to the body (or null). */
export async function apiCall(baseURL, token, method, path, body) {
  const r = await fetch(`${baseURL}/api/v1${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
}

export function createGroupViaApi(baseURL, token, title, memberIds) {
  return apiCall(baseURL, token, "POST", "/conversations", { kind: "group", title, member_ids: memberIds });
}

export function createDirectViaApi(baseURL, token, userId) {
  return apiCall(baseURL, token, "POST", "/conversations", { kind: "direct", member_ids: [userId] });
}

/** Remove `userId` from a group (or leave it, when it is the token's own user). */
export function removeMemberViaApi(baseURL, token, conversationId, userId) {
  return apiCall(baseURL, token, "DELETE", `/conversations/${conversationId}/members/${userId}`);
}

/** The members of a conversation as `token`'s user sees them (read and delivered markers included). */
export function membersViaApi(baseURL, token, conversationId) {
  return apiCall(baseURL, token, "GET", `/conversations/${conversationId}/members`);
}
