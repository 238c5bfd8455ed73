// Loads the release build's test page (index.html beside this file, served by
// presence-server) in Debian's Chromium through playwright-core, and checks what the
// page reports. Usage: NODE_PATH=.tools/node_modules node run.cjs http://127.0.0.1:PORT/
"use strict";
const { chromium } = require("playwright-core");

async function main() {
  const url = process.argv[2];
  if (!url) throw new Error("usage: run.cjs <page url>");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run",
    ],
  });
  try {
    const page = await browser.newPage();
    const logs = [];
    page.on("console", (m) => logs.push(`[${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`));
    await page.goto(url);
    await page.waitForFunction(() => window.__result, null, { timeout: 30000 });
    const r = await page.evaluate(() => window.__result);
    const problems = [];
    const expect = (cond, what) => { if (!cond) problems.push(what); };
    expect(r.ok, "the page finished: " + (r.error || ""));
    if (r.ok) {
      expect(r.fetched === 1, `getToken called once after the refused token (got ${r.fetched})`);
      expect(r.me && r.me.user && r.me.user.id === "release", "welcome named the user");
      expect(JSON.stringify(r.members) === '["release"]', "room_state lists the user");
      expect(r.sameSnapshot === true, "snapshots are stable objects");
      expect(r.errorCode === "invalid_argument", "errors are Errors with a code");
      expect(r.closed === "closed", "destroy() closes");
      expect(r.states.at(-1) === "closed" && r.states.includes("open"), "connection events");
    }
    console.log(JSON.stringify(r));
    if (problems.length) {
      console.error("release build test FAILED:\n  " + problems.join("\n  "));
      console.error(logs.join("\n"));
      process.exit(1);
    }
    console.log("release build test: 1 passed, 0 failed");
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
