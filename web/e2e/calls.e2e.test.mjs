// Voice and video calls as people meet them (issue 16): Alice video-calls Bob, whose two
// tabs both ring until one answers; each sees and hears the other (real WebRTC between two
// Chromium contexts with a fake camera and microphone); muting, the camera and sharing the
// screen reach the other side's real tracks; hanging up leaves the call's line in both
// timelines; calling someone already in a call says they are busy. One server and one
// browser (with fake media devices) for the file; a context per tab.
// Run: npm run build && node --test --test-concurrency=1 e2e/calls.e2e.test.mjs
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  accessibilityProblems,
  collectCspViolations,
  createDirectViaApi,
  createGroupViaApi,
  FAKE_MEDIA_ARGS,
  inCI,
  missingPrerequisite,
  postMessage,
  screenshotDir,
  signUpAll,
  startScenario,
} from "./harness.mjs";

const PASSWORD = "correct horse battery";
const RING_SECONDS = 15;
const PEOPLE = { alice: "Alice Liddell", bob: "Bob Dylan", carol: "Carol King", dave: "Dave Brubeck" };
const missing = missingPrerequisite();
const skip = missing && !inCI ? missing : false;

if (missing && inCI) {
  it("e2e prerequisites are installed", () => assert.fail(`e2e prerequisites missing: ${missing}`));
}

/** Every RTCPeerConnection and AudioContext (the ringtone) the page makes, kept for the checks below. */
function recordPeerConnections() {
  const NativePc = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends NativePc {
    constructor(...args) {
      super(...args);
      window.__pcs.push(this);
    }
  };
  const NativeAudio = window.AudioContext;
  window.__audio = [];
  window.AudioContext = class extends NativeAudio {
    constructor(...args) {
      super(...args);
      window.__audio.push(this);
    }
  };
}

/** Whether the page makes a sound now: a running AudioContext (the ringtone). */
const ringtonePlays = (page) => page.evaluate(() => window.__audio.some((c) => c.state === "running"));

describe("calls in the browser", { skip: Boolean(missing), timeout: 150_000 }, () => {
  let server;
  let browser;
  let base;
  /** name -> { id, token } */
  const people = {};
  const cspViolations = [];
  const consoleLog = [];
  let alice;
  let bob;
  let bob2;

  before(async () => {
    ({ server, browser } = await startScenario(
      {
        // Unanswered calls end as missed sooner than 45 s; every call here is answered well within it.
        CALL_RING_TIMEOUT_SECONDS: String(RING_SECONDS),
      },
      FAKE_MEDIA_ARGS,
    ));
    base = server.baseURL;
    Object.assign(people, await signUpAll(base, PASSWORD, PEOPLE));
    people.bob.withAlice = await createDirectViaApi(base, people.alice.token, people.bob.id);
    await createDirectViaApi(base, people.alice.token, people.carol.id);
    people.carol.withDave = await createDirectViaApi(base, people.carol.token, people.dave.id);
    await createGroupViaApi(base, people.alice.token, "Trio", [people.bob.id, people.carol.id]);
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
        console.error(`--- browser console (tail) ---\n${consoleLog.slice(-40).join("\n")}`);
        throw error;
      }
    });
  }

  async function signIn(username, chatWith, colorScheme = "light") {
    const context = await browser.newContext({ baseURL: base, viewport: { width: 1100, height: 760 }, colorScheme });
    await context.addInitScript(recordPeerConnections);
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => consoleLog.push(`${username}: ${m.type()}: ${m.text()}`));
    page.on("websocket", (ws) =>
      ws.on("framereceived", (f) => {
        const text = String(f.payload);
        if (text.includes('"call.') || text.includes('"error"')) consoleLog.push(`${username} < ${text.slice(0, 300)}`);
      }),
    );
    cspViolations.push(collectCspViolations(page));
    await page.goto("/login");
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Chats" }).waitFor();
    if (chatWith) await openChat(page, chatWith);
    return { page, errors };
  }

  async function openChat(page, title) {
    await page.getByTestId("conversation-item").filter({ hasText: title }).click();
    await page.getByTestId("conversation-title").filter({ hasText: title }).waitFor();
  }

  const ringing = (page) => page.getByRole("dialog", { name: /is calling/ });
  const shot = (page, name) => page.screenshot({ path: join(screenshotDir, name) });

  async function assertAccessible(page, where) {
    const problems = await accessibilityProblems(page);
    assert.deepEqual(problems, [], `accessibility problems on ${where}:\n${problems.join("\n")}`);
  }

  /** The remote <video> plays: it has a size, and its clock moves. */
  async function remoteVideoPlays(page) {
    await page.waitForFunction(() => {
      const v = document.querySelector('[data-testid="remote-video"]');
      return v && v.videoWidth > 0 && v.currentTime > 0;
    });
    const t0 = await page.evaluate(() => document.querySelector('[data-testid="remote-video"]').currentTime);
    await page.waitForFunction(
      (start) => document.querySelector('[data-testid="remote-video"]').currentTime > start + 0.5,
      t0,
    );
  }

  /** What arrives from the other side over the connected link, by kind (the receiver's real stats). */
  function inbound(page, kind) {
    return page.evaluate(async (kind) => {
      const pc = window.__pcs.filter((p) => p.connectionState === "connected").at(-1);
      if (!pc) return null;
      for (const s of (await pc.getStats()).values()) {
        if (s.type === "inbound-rtp" && s.kind === kind)
          return { energy: s.totalAudioEnergy ?? 0, frames: s.framesDecoded ?? 0, width: s.frameWidth ?? 0 };
      }
      return null;
    }, kind);
  }

  /** How much of `field` arrives from the other side over `ms`. */
  async function arriving(page, kind, field, ms = 2000) {
    const a = await inbound(page, kind);
    await page.waitForTimeout(ms);
    const b = await inbound(page, kind);
    return (b?.[field] ?? 0) - (a?.[field] ?? 0);
  }

  /** My own sender's track of a kind, as the peer connection sends it. */
  function sentTrack(page, kind) {
    return page.evaluate((kind) => {
      const pc = window.__pcs.filter((p) => p.connectionState === "connected").at(-1);
      const t = pc?.getTransceivers().find((x) => x.receiver.track.kind === kind);
      const track = t?.sender.track ?? null;
      return track
        ? { enabled: track.enabled, state: track.readyState, width: track.getSettings().width ?? 0, label: track.label }
        : null;
    }, kind);
  }

  /** Wait until my sender's track of a kind passes `check` (replacing a track takes a moment). */
  async function untilSent(page, kind, check, what) {
    let last;
    for (let i = 0; i < 50; i += 1) {
      last = await sentTrack(page, kind);
      if (check(last)) return last;
      await page.waitForTimeout(100);
    }
    assert.fail(`${what}: the ${kind} sender has ${JSON.stringify(last)}`);
  }

  scenario("16-1: a video call rings every tab of the person called, until one answers", async () => {
    alice = await signIn("alice", PEOPLE.bob);
    bob = await signIn("bob", PEOPLE.alice, "dark");
    bob2 = await signIn("bob");

    await alice.page.getByRole("button", { name: "Start a video call" }).click();
    await alice.page.getByTestId("call-status").filter({ hasText: "Ringing…" }).waitFor();
    for (const tab of [bob, bob2]) {
      await ringing(tab.page).waitFor();
      assert.match(await ringing(tab.page).innerText(), /Alice Liddell is calling[\s\S]*Video call/);
    }
    // It rings aloud on both tabs.
    for (const tab of [bob, bob2])
      await tab.page.waitForFunction(() => window.__audio.some((c) => c.state === "running"));
    // The Accept button has the focus: Enter answers, Escape declines.
    await bob2.page.waitForFunction(() => document.activeElement?.textContent?.trim() === "Accept");
    await shot(bob2.page, "calls-ringing.png");
    await shot(bob.page, "calls-ringing-dark.png");
    await assertAccessible(bob2.page, "the ringing dialog");

    await ringing(bob.page).getByRole("button", { name: "Accept", exact: true }).click();
    // Answered on one tab: the other stops ringing.
    await ringing(bob2.page).waitFor({ state: "detached" });
    assert.equal(await bob2.page.getByTestId("call-stage").count(), 0);
    // And the sound stops on both.
    for (const tab of [bob, bob2])
      await tab.page.waitForFunction(() => !window.__audio.some((c) => c.state === "running"));
    assert.equal(await ringtonePlays(bob2.page), false);
    await bob.page.getByTestId("call-stage").waitFor();
  });

  scenario("16-2: each side sees the other's video, and a timer runs", async () => {
    await remoteVideoPlays(alice.page);
    await remoteVideoPlays(bob.page);
    for (const page of [alice.page, bob.page]) {
      await page
        .getByTestId("call-status")
        .filter({ hasText: /^\d+:\d\d$/ })
        .waitFor();
      // The other's sound plays from an <audio> element that stays when the chat is left.
      await page.waitForFunction(() => {
        const a = document.querySelector('[data-testid="remote-audio"]');
        return a && a.srcObject && a.srcObject.getAudioTracks().length > 0 && !a.paused;
      });
    }
    assert.ok((await arriving(bob.page, "audio", "energy")) > 0, "Bob hears Alice");
    await shot(alice.page, "calls-in-call.png");
    await shot(bob.page, "calls-in-call-dark.png");
    // On a phone the call stays usable: the stage above the chat, the controls in reach.
    await alice.page.setViewportSize({ width: 390, height: 844 });
    await alice.page.getByRole("button", { name: "Hang up" }).waitFor();
    await shot(alice.page, "calls-phone.png");
    await alice.page.setViewportSize({ width: 1100, height: 760 });
    await assertAccessible(alice.page, "a call in progress");
  });

  scenario("16-3: mute and the camera reach the other side", async () => {
    const loud = await arriving(bob.page, "audio", "energy");
    assert.ok(loud > 0, `Bob hears Alice before she mutes (energy ${loud})`);
    await alice.page.getByRole("button", { name: "Mute" }).click();
    await untilSent(alice.page, "audio", (t) => t?.enabled === false && t.state === "live", "muted");
    // Bob's page shows it, and what reaches him is silence.
    await bob.page.getByTestId("call-tile").filter({ hasText: "Alice" }).getByTestId("tile-muted").waitFor();
    await alice.page.waitForTimeout(500);
    const quiet = await arriving(bob.page, "audio", "energy");
    assert.ok(quiet < loud / 10, `Bob hears (almost) nothing while Alice is muted (${quiet} vs ${loud})`);
    await alice.page.getByRole("button", { name: "Unmute" }).click();
    // Another microphone: the new one is sent, and still unmuted.
    await alice.page.getByRole("button", { name: "Switch devices" }).click();
    await alice.page.getByRole("button", { name: "Fake Audio Input 1" }).click();
    await untilSent(
      alice.page,
      "audio",
      (t) => t?.label === "Fake Audio Input 1" && t.enabled && t.state === "live",
      "the other microphone",
    );
    await bob.page.getByTestId("call-tile").filter({ hasText: "Alice" }).getByTestId("tile-muted").waitFor({
      state: "detached",
    });

    assert.ok((await arriving(bob.page, "video", "frames", 1000)) > 5, "Alice's video reaches Bob");
    await alice.page.getByRole("button", { name: "Turn camera off" }).click();
    // The camera is released, nothing is sent, and Bob's frames stop.
    await untilSent(alice.page, "video", (t) => t === null, "camera off");
    await bob.page.locator('[data-testid="remote-video"].invisible').waitFor({ state: "attached" });
    await bob.page.waitForTimeout(500);
    assert.equal(await arriving(bob.page, "video", "frames", 1500), 0, "no frames while Alice's camera is off");
    await alice.page.getByRole("button", { name: "Turn camera on" }).click();
    await bob.page.locator('[data-testid="remote-video"]:not(.invisible)').waitFor();
    assert.ok((await arriving(bob.page, "video", "frames", 1500)) > 5, "frames again once the camera is back");
  });

  scenario("16-4: sharing the screen replaces the video the other side gets", async () => {
    await untilSent(alice.page, "video", (t) => t?.width === 640 && t.state === "live", "the camera");
    await alice.page.getByRole("button", { name: "Share the screen" }).click();
    await alice.page.getByRole("button", { name: "Stop sharing the screen" }).waitFor();
    await untilSent(alice.page, "video", (t) => t?.width > 640, "the screen is sent instead of the camera");
    await bob.page.waitForFunction(() => document.querySelector('[data-testid="remote-video"]')?.videoWidth > 640);
    await bob.page.getByTestId("call-tile").filter({ hasText: "sharing the screen" }).waitFor();
    await shot(bob.page, "calls-screen-share-dark.png");
    await alice.page.getByRole("button", { name: "Stop sharing the screen" }).click();
    await bob.page.waitForFunction(() => document.querySelector('[data-testid="remote-video"]')?.videoWidth === 640);
  });

  scenario("16-5: away from the chat a call bar remains; hanging up leaves the call in the timeline", async () => {
    await openChat(alice.page, PEOPLE.carol);
    const bar = alice.page.getByTestId("call-bar");
    await bar.waitFor();
    assert.match(await bar.innerText(), /Bob Dylan/);
    await shot(alice.page, "calls-bar.png");
    await bar.getByRole("link", { name: "Return to call" }).click();
    await alice.page.getByTestId("call-stage").waitFor();

    await bob.page.getByRole("button", { name: "Hang up" }).click();
    for (const page of [alice.page, bob.page]) {
      await page.getByTestId("call-stage").waitFor({ state: "detached" });
      await page
        .getByTestId("system-line-text")
        .filter({ hasText: /^Video call · \d+ s$/ })
        .waitFor();
    }
    // Bob's other tab has the line too.
    await openChat(bob2.page, PEOPLE.alice);
    await bob2.page
      .getByTestId("system-line-text")
      .filter({ hasText: /^Video call · / })
      .waitFor();
    await shot(alice.page, "calls-timeline.png");
    await shot(bob.page, "calls-timeline-dark.png");
    await assertAccessible(bob.page, "the call's line in the timeline (dark)");
  });

  scenario("16-7: Escape declines on one tab; every tab stops ringing and the timelines say so", async () => {
    await openChat(alice.page, PEOPLE.bob);
    await alice.page.getByRole("button", { name: "Start a voice call" }).click();
    await ringing(bob.page).waitFor();
    await ringing(bob2.page).waitFor();
    assert.match(await ringing(bob2.page).innerText(), /Voice call/);
    await bob2.page.waitForFunction(() => document.activeElement?.textContent?.trim() === "Accept");
    await bob2.page.keyboard.press("Escape");
    await ringing(bob2.page).waitFor({ state: "detached" });
    await ringing(bob.page).waitFor({ state: "detached" });
    await alice.page.getByTestId("call-notice").filter({ hasText: "Bob Dylan declined" }).waitFor();
    for (const page of [alice.page, bob.page, bob2.page])
      await page.getByTestId("system-line-text").filter({ hasText: "Declined voice call" }).waitFor();
    assert.equal(await alice.page.getByTestId("call-stage").count(), 0);
  });

  scenario("16-8: a group call: everyone sees everyone, in a grid", async () => {
    const carol = await signIn("carol", "Trio");
    await openChat(alice.page, "Trio");
    await alice.page.getByRole("button", { name: "Start a video call" }).click();
    for (const page of [bob.page, bob2.page, carol.page]) {
      await ringing(page).waitFor();
      assert.match(await ringing(page).innerText(), /Alice Liddell is calling[\s\S]*Video call · Trio/);
    }
    await ringing(bob.page).getByRole("button", { name: "Accept", exact: true }).click();
    await ringing(bob2.page).waitFor({ state: "detached" });
    // Bob answered, Carol is still rung; she joins.
    assert.equal(await ringing(carol.page).count(), 1);
    await ringing(carol.page).getByRole("button", { name: "Accept", exact: true }).click();
    // Bob has another chat open: a call bar takes him back to the call.
    await bob.page.getByTestId("call-bar").getByRole("link", { name: "Return to call" }).click();
    for (const page of [alice.page, bob.page, carol.page]) {
      await page.waitForFunction(() => {
        const videos = [...document.querySelectorAll('[data-testid="remote-video"]')];
        return videos.length === 2 && videos.every((v) => v.videoWidth > 0 && v.currentTime > 0);
      });
      assert.equal(await page.getByTestId("call-tile").count(), 3);
    }
    await shot(carol.page, "calls-group.png");
    // Carol leaves: the others go on, two of them.
    await carol.page.getByRole("button", { name: "Hang up" }).click();
    for (const page of [alice.page, bob.page])
      await page.locator('[data-testid="remote-video"]').nth(1).waitFor({ state: "detached" });
    await alice.page.getByRole("button", { name: "Hang up" }).click();
    await bob.page.getByRole("button", { name: "Hang up" }).click();
    for (const page of [alice.page, bob.page, carol.page])
      await page
        .getByTestId("system-line-text")
        .filter({ hasText: /^Video call · \d+ s$/ })
        .waitFor();
    assert.deepEqual(carol.errors, []);
    await carol.page.context().close();
  });

  scenario("16-9: a reload in a call offers Rejoin, and the call comes back", async () => {
    await openChat(alice.page, PEOPLE.bob);
    await openChat(bob.page, PEOPLE.alice);
    await alice.page.getByRole("button", { name: "Start a voice call" }).click();
    await ringing(bob.page).getByRole("button", { name: "Accept with video" }).click();
    await ringing(bob2.page).waitFor({ state: "detached" });
    await remoteVideoPlays(alice.page);

    await alice.page.reload();
    const bar = alice.page.getByRole("region", { name: "Call" });
    await bar.getByRole("button", { name: "Rejoin" }).click();
    await alice.page.getByTestId("call-stage").waitFor();
    // Alice offers again from her new socket; Bob's side takes it up: sound both ways, Bob's video to Alice.
    await remoteVideoPlays(alice.page);
    assert.ok((await arriving(alice.page, "audio", "energy")) > 0, "Alice hears Bob after rejoining");
    assert.ok((await arriving(bob.page, "audio", "energy")) > 0, "Bob hears Alice after she rejoined");
    await bob.page.getByRole("button", { name: "Hang up" }).click();
    await alice.page.getByTestId("call-stage").waitFor({ state: "detached" });
    await alice.page
      .getByTestId("system-line-text")
      .filter({ hasText: /^Voice call · \d+ s$/ })
      .waitFor();
  });

  scenario("16-6: calling someone who is in another call says they are busy", async () => {
    // Carol is in a call with Dave, from a plain socket of another client (a page of her own).
    const context = await browser.newContext({ baseURL: base });
    const carol = await context.newPage();
    await carol.goto("/login");
    const call = await carol.evaluate(
      ({ token, conversationId }) =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(`${location.origin.replace("http", "ws")}/api/v1/ws`);
          window.carolSocket = ws;
          ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token }));
          ws.onmessage = (m) => {
            const frame = JSON.parse(m.data);
            if (frame.type === "ready")
              ws.send(JSON.stringify({ type: "call.invite", conversation_id: conversationId, video: false }));
            if (frame.type === "call.ringing") resolve(frame.call);
            if (frame.type === "error") reject(new Error(m.data));
          };
          setTimeout(() => reject(new Error("no call.ringing")), 10_000);
        }),
      { token: people.carol.token, conversationId: people.carol.withDave.id },
    );
    try {
      await openChat(alice.page, PEOPLE.carol);
      await alice.page.getByRole("button", { name: "Start a voice call" }).click();
      await alice.page.getByTestId("call-notice").filter({ hasText: "Carol King is busy" }).waitFor();
      await alice.page.getByTestId("system-line-text").filter({ hasText: "Voice call · busy" }).waitFor();
      await shot(alice.page, "calls-busy.png");
      assert.equal(await alice.page.getByTestId("call-stage").count(), 0);
    } finally {
      await carol.evaluate(
        (id) => window.carolSocket.send(JSON.stringify({ type: "call.hangup", call_id: id })),
        call.id,
      );
      await context.close();
    }
    assert.deepEqual([...alice.errors, ...bob.errors, ...bob2.errors], []);
  });

  scenario("16-10: a call nobody answers stops ringing and is a missed call", async () => {
    await openChat(alice.page, PEOPLE.bob);
    await openChat(bob.page, PEOPLE.alice);
    const started = Date.now();
    await alice.page.getByRole("button", { name: "Start a video call" }).click();
    await ringing(bob.page).waitFor();
    await ringing(bob2.page).waitFor();
    // Nobody answers: after the ring timeout every tab stops ringing, the caller's call is over.
    const timeout = { timeout: (RING_SECONDS + 10) * 1000 };
    await ringing(bob.page).waitFor({ state: "detached", ...timeout });
    await ringing(bob2.page).waitFor({ state: "detached", ...timeout });
    assert.ok(Date.now() - started >= (RING_SECONDS - 1) * 1000, "it rang until the timeout");
    await alice.page.getByTestId("call-stage").waitFor({ state: "detached" });
    await alice.page.getByTestId("system-line-text").filter({ hasText: "Video call · no answer" }).waitFor();
    await bob.page.getByTestId("system-line-text").filter({ hasText: "Missed video call" }).waitFor();
    await shot(bob.page, "calls-missed-dark.png");
    // Loaded from history (after a reload, with a newer message): the lines are still among the messages.
    await postMessage(base, people.bob.token, people.bob.withAlice.id, "Sorry, missed you");
    await bob.page.reload();
    await bob.page.getByTestId("message").filter({ hasText: "Sorry, missed you" }).waitFor();
    const lines = await bob.page.getByTestId("system-line-text").allInnerTexts();
    assert.deepEqual(
      lines.map((t) => t.replace(/\d+ s$/, "N s")),
      ["Video call · N s", "Declined voice call", "Voice call · N s", "Missed video call"],
    );
    assert.deepEqual([...alice.errors, ...bob.errors, ...bob2.errors], []);
  });

  scenario("no Content Security Policy violations", async () => {
    assert.deepEqual(cspViolations.flat(), []);
  });
});
