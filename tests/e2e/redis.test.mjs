// Two presence-server nodes on one Redis (a redis-server of our own on a free port),
// sharing a JWT secret and handing out dev tokens (--dev-tokens). Each node serves the
// built React example: A's page comes from node 1, B's from node 2, so everything B sees
// of A crossed Redis.
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
  startRedis,
  startServer,
  withScreenshots,
} from "./lib/harness.mjs";

const GRACE_MS = 2000;

describe("React example, two server nodes on Redis", () => {
  let redis;
  const nodes = [];
  let browser;
  const pages = [];
  const scenario = (name, fn) => it(name, () => withScreenshots(name, () => pages, fn));

  before(async () => {
    redis = await startRedis();
    const flags = [
      "--store", "redis",
      "--redis-url", redis.url,
      "--redis-prefix", `e2e-${process.pid}`,
      "--jwt-secret", "presence-e2e-secret-0123456789abcdef",
      "--dev-tokens",
      "--grace-ms", String(GRACE_MS),
      "--typing-ttl-ms", "4000",
      "--coalesce-ms", "10",
      "--static-dir", reactChatDist,
    ];
    nodes.push(await startServer(flags, { name: "node 1" }));
    nodes.push(await startServer(flags, { name: "node 2" }));
    browser = await launchBrowser();
  });

  afterEach(async () => {
    await Promise.all(pages.splice(0).map((page) => page.context().close().catch(() => {})));
  });

  after(async () => {
    await browser?.close();
    for (const node of nodes) await node.stop();
    await redis?.stop();
  });

  scenario("A on node 1 and B on node 2: online, typing, busy, invisible, and offline after A closes the tab", async () => {
    const [one, two] = nodes;
    assert.notEqual(one.url, two.url);
    const b = await openUser(browser, two.url, "Bea Redis");
    pages.push(b);
    const a = await openUser(browser, one.url, "Avery Redis");
    pages.push(a);

    await expectStatus(b, "Avery Redis", "online");
    await expectStatus(a, "Bea Redis", "online");

    await a.getByTestId("composer").pressSequentially("across nodes", { delay: 40 });
    await expectText(b.getByTestId("typing-line"), "Avery Redis is typing…");
    await expectText(b.getByTestId("typing-line"), "", 8000);

    await chooseStatus(a, "busy");
    await expectStatus(b, "Avery Redis", "busy");
    await chooseStatus(a, "invisible");
    await expectStatus(b, "Avery Redis", "offline");
    await chooseStatus(a, "online");
    await expectStatus(b, "Avery Redis", "online");

    const closed = Date.now();
    await a.context().close();
    await expectStatus(b, "Avery Redis", "offline", GRACE_MS + 15_000);
    assert.ok(Date.now() - closed >= GRACE_MS - 300, "offline only after the grace period");
    await expectText(member(b, "Avery Redis").getByTestId("last-seen"), "last seen just now");
  });

  scenario("a node restarts: its users reconnect (to it) and the other node's users see them again", async () => {
    const [one, two] = nodes;
    const a = await openUser(browser, one.url, "Avery Failover", { backoffMax: "1500" });
    pages.push(a);
    const b = await openUser(browser, two.url, "Bea Failover");
    pages.push(b);
    await expectStatus(b, "Avery Failover", "online");
    await chooseStatus(a, "busy");
    await expectStatus(b, "Avery Failover", "busy");
    await one.restart();
    // The secret is shared and stays: A's token is still good after the restart.
    await a.locator('[data-testid="connection"][data-state="open"]').waitFor({ timeout: 30_000 });
    await expectStatus(b, "Avery Failover", "busy", 20_000);
    await a.getByTestId("composer").pressSequentially("still here", { delay: 40 });
    await expectText(b.getByTestId("typing-line"), "Avery Failover is typing…");
  });
});
