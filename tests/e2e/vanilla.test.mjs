// examples/vanilla: one HTML page, no bundler, presence-client/web through an import map,
// served by presence-server itself (--static-dir examples/vanilla, after `npm install`
// there links the built package).
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { expectText, launchBrowser, root, startServer, withScreenshots } from "./lib/harness.mjs";

describe("vanilla example (web target, no bundler)", () => {
  let server;
  let browser;
  const pages = [];

  before(async () => {
    server = await startServer(["--dev", "--coalesce-ms", "10", "--static-dir", join(root, "examples/vanilla")]);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function join_(name) {
    const page = await (await browser.newContext()).newPage();
    page.userName = name;
    page.logs = [];
    page.on("console", (m) => page.logs.push(`[${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => page.logs.push(`[pageerror] ${e.message}`));
    pages.push(page);
    await page.goto(`${server.url}/`);
    await page.locator("#name").fill(name);
    await page.locator("#signin button").click();
    await page.locator('#state[data-state="open"]').waitFor({ timeout: 20_000 });
    return page;
  }

  it("two people see each other and each other's typing", () =>
    withScreenshots("vanilla", () => pages, async () => {
      const a = await join_("Ada");
      const b = await join_("Grace");
      await b.locator('li[data-user="ada"][data-status="online"]').waitFor({ timeout: 15_000 });
      await a.locator('li[data-user="grace"][data-status="online"]').waitFor({ timeout: 15_000 });
      await a.locator("#message").pressSequentially("hi", { delay: 40 });
      await expectText(b.locator("#typing"), "Ada is typing…");
      await a.locator("#status").selectOption("busy");
      await b.locator('li[data-user="ada"][data-status="busy"]').waitFor({ timeout: 15_000 });
    }));
});
