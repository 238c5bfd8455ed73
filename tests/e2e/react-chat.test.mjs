// The built React example (examples/react-chat/dist, served by presence-server with
// --static-dir) in two browser contexts of Debian's Chromium: two people, each in a
// context of their own, against one real server in development mode.
//
// Every scenario polls for what the other person must see; the only waits are the
// timers under test (typing stop, idle, custom status expiry, grace period).
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import {
  chooseStatus,
  expectStatus,
  expectText,
  launchBrowser,
  member,
  openUser,
  reactChatDist,
  startServer,
  withScreenshots,
} from "./lib/harness.mjs";

const GRACE_MS = 2000;

describe("React example, one server", () => {
  let server;
  let browser;
  const pages = [];
  const open = async (name, params) => {
    const page = await openUser(browser, server.url, name, params);
    pages.push(page);
    return page;
  };
  const scenario = (name, fn) => it(name, () => withScreenshots(name, () => pages, fn));

  before(async () => {
    server = await startServer([
      "--dev",
      "--grace-ms", String(GRACE_MS),
      "--typing-ttl-ms", "4000",
      "--coalesce-ms", "10",
      "--static-dir", reactChatDist,
    ]);
    browser = await launchBrowser();
  });

  // After the screenshots of a failure: each scenario's people leave with it.
  afterEach(async () => {
    await Promise.all(pages.splice(0).map((page) => page.context().close().catch(() => {})));
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  // Each scenario has people of its own: a previous one's leftovers (a session in its
  // grace period) cannot show up in the next.

  scenario("A joins and B sees A online", async () => {
    const b = await open("Bea Join");
    await expectStatus(b, "Bea Join", "online"); // B sees themselves first
    await open("Avery Join");
    await expectStatus(b, "Avery Join", "online");
    await expectText(b.getByTestId("room-count"), "2 here");
  });

  scenario("A types, B sees “A is typing…”, and it clears by itself", async () => {
    const a = await open("Avery Type");
    const b = await open("Bea Type");
    await expectStatus(b, "Avery Type", "online");
    await a.getByTestId("composer").pressSequentially("Hello there", { delay: 40 });
    await expectText(b.getByTestId("typing-line"), "Avery Type is typing…");
    // No more keys: A's client sends typing:false after 1.5 s without input.
    await expectText(b.getByTestId("typing-line"), "", 8000);
    // A's own screen never shows A typing.
    await expectText(a.getByTestId("typing-line"), "");
  });

  scenario("A goes idle and B sees A away, then back when A moves", async () => {
    const b = await open("Bea Idle");
    const a = await open("Avery Idle", { idle: "3000" });
    // Keep A active until B has seen them online, so the change is observed.
    const keepActive = setInterval(() => a.mouse.move(100 + Math.random() * 50, 200).catch(() => {}), 500);
    try {
      await expectStatus(b, "Avery Idle", "online");
    } finally {
      clearInterval(keepActive);
    }
    await expectStatus(b, "Avery Idle", "away", 15_000);
    await a.mouse.move(300, 300);
    await a.keyboard.press("Shift");
    await expectStatus(b, "Avery Idle", "online");
  });

  scenario("A sets busy, then invisible: B sees busy, then offline", async () => {
    const a = await open("Avery Busy");
    const b = await open("Bea Busy");
    await expectStatus(b, "Avery Busy", "online");
    await chooseStatus(a, "busy");
    await expectStatus(b, "Avery Busy", "busy");
    await chooseStatus(a, "invisible");
    await expectStatus(b, "Avery Busy", "offline");
    await expectText(member(b, "Avery Busy").getByTestId("last-seen"), "last seen just now");
    await expectText(b.getByTestId("room-count"), "1 here");
    // A still sees themselves, marked invisible.
    await expectStatus(a, "Avery Busy", "invisible");
    await chooseStatus(a, "online");
    await expectStatus(b, "Avery Busy", "online");
  });

  scenario("A's custom status expires", async () => {
    const a = await open("Avery Custom", { shortExpiry: "3" });
    const b = await open("Bea Custom");
    await expectStatus(b, "Avery Custom", "online");
    await a.getByTestId("me").click();
    await a.getByTestId("custom-status-open").click();
    await a.getByTestId("custom-text").fill("Out for lunch");
    await a.getByTestId("custom-expiry").selectOption("3s");
    await a.getByTestId("custom-save").click();
    const custom = member(b, "Avery Custom").getByTestId("custom");
    await expectText(custom, "Out for lunch");
    // The server removes it when expires_at passes (3 s after saving).
    await member(b, "Avery Custom").getByTestId("custom").waitFor({ state: "detached", timeout: 10_000 });
    await expectStatus(b, "Avery Custom", "online");
  });

  scenario("A closes the tab; after the grace period B sees A offline, last seen just now", async () => {
    const a = await open("Avery Close");
    const b = await open("Bea Close");
    await expectStatus(b, "Avery Close", "online");
    const closed = Date.now();
    await a.context().close();
    await expectStatus(b, "Avery Close", "offline", GRACE_MS + 10_000);
    const elapsed = Date.now() - closed;
    assert.ok(elapsed >= GRACE_MS - 300, `offline after ${elapsed} ms, before the ${GRACE_MS} ms grace period`);
    await expectText(member(b, "Avery Close").getByTestId("last-seen"), "last seen just now");
    await expectText(b.getByTestId("room-count"), "1 here");
  });

  scenario("the server restarts: both reconnect and resync", async () => {
    const a = await open("Avery Restart", { backoffMax: "1500" });
    const b = await open("Bea Restart", { backoffMax: "1500" });
    await expectStatus(b, "Avery Restart", "online");
    await chooseStatus(a, "busy");
    await expectStatus(b, "Avery Restart", "busy");

    await server.restart();
    // The development-mode secret is new: old tokens are refused (4401) and each
    // client fetches a fresh one from /dev/token, then joins and watches again.
    for (const page of [a, b]) {
      await page.locator('[data-testid="connection"][data-state="open"]').waitFor({ timeout: 30_000 });
    }
    // The in-memory store started empty: what B sees comes from A's client re-sending
    // its status and joins after the reconnect.
    await expectStatus(b, "Avery Restart", "busy", 20_000);
    await expectStatus(a, "Bea Restart", "online", 20_000);
    await expectText(b.getByTestId("room-count"), "2 here");
    await a.getByTestId("composer").pressSequentially("back", { delay: 40 });
    await expectText(b.getByTestId("typing-line"), "Avery Restart is typing…");
  });
});
