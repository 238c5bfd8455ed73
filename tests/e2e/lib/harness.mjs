// What the end-to-end tests start and drive: presence-server processes, a redis-server,
// Debian's Chromium through playwright-core, and pages of the built React example.
// Every process is started here, on 127.0.0.1 with a port the kernel picks, and stopped
// by its PID.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, "../../..");
export const artifacts = join(root, "tests/e2e/artifacts");
export const reactChatDist = join(root, "examples/react-chat/dist");

const serverBin = process.env.PRESENCE_SERVER_BIN ?? join(root, "target/debug/presence-server");

/** Every child still running, so that a crashed test run kills them on the way out. */
const children = new Set();
function reap() {
  for (const child of children) {
    try {
      process.kill(child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
process.on("exit", reap);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    reap();
    process.exit(130);
  });
}

function track(child) {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

async function stopChild(child, timeoutMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/**
 * A presence-server. `args` are its flags (the bind address is added: 127.0.0.1:0 the
 * first time, the same port on `restart()`). Resolves once it listens.
 */
export async function startServer(args, { name = "server" } = {}) {
  if (!existsSync(serverBin)) {
    throw new Error(`no presence-server at ${serverBin}: cargo build -p presence-server`);
  }
  const server = { name, args, bound: "", url: "", child: null, log: "" };
  server.start = async (bind = "127.0.0.1:0") => {
    const child = track(
      spawn(serverBin, ["--bind", bind, ...args], {
        env: { ...process.env, RUST_LOG: "info" },
        stdio: ["ignore", "ignore", "pipe"],
      }),
    );
    server.child = child;
    server.log = "";
    server.bound = await new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${server.log}`)), 30_000);
      child.stderr.on("data", (chunk) => {
        server.log += chunk.toString();
        const m = /presence-server listening.*bound=([0-9.:]+)/.exec(server.log);
        if (m) {
          clearTimeout(timer);
          resolvePromise(m[1]);
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code}):\n${server.log}`));
      });
    });
    server.url = `http://${server.bound}`;
    return server;
  };
  server.stop = () => (server.child ? stopChild(server.child) : Promise.resolve());
  /** Stops it (SIGTERM: sockets close with 1012) and starts it again on the same port. */
  server.restart = async () => {
    const bind = server.bound;
    await server.stop();
    // The port was ours a moment ago; retry briefly should the kernel not have it back.
    for (let attempt = 0; ; attempt++) {
      try {
        return await server.start(bind);
      } catch (e) {
        if (attempt >= 20) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  await server.start();
  return server;
}

export function freePort() {
  return new Promise((resolvePromise, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolvePromise(port));
    });
  });
}

/** A redis-server of our own on a free port, without persistence; `stop()` kills it by PID. */
export async function startRedis() {
  const dir = mkdtempSync(join(tmpdir(), "presence-e2e-redis-"));
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = track(
      spawn(
        "redis-server",
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
        { stdio: ["ignore", "pipe", "pipe"] },
      ),
    );
    let log = "";
    const ready = await new Promise((resolvePromise) => {
      const timer = setTimeout(() => resolvePromise(false), 10_000);
      child.stdout.on("data", (chunk) => {
        log += chunk.toString();
        if (/Ready to accept connections/.test(log)) {
          clearTimeout(timer);
          resolvePromise(true);
        }
      });
      child.once("exit", () => {
        clearTimeout(timer);
        resolvePromise(false);
      });
    });
    if (ready) {
      child.stdout.resume();
      return {
        url: `redis://127.0.0.1:${port}`,
        pid: child.pid,
        stop: async () => {
          await stopChild(child);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await stopChild(child); // the port was taken meanwhile: try another
  }
  throw new Error("redis-server did not start");
}

/** Debian's Chromium, headless; never a downloaded browser. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      // Pages in other contexts must keep their timers running at full speed.
      "--disable-background-timer-throttling",
      "--disable-renderer-backgrounding",
      "--disable-backgrounding-occluded-windows",
    ],
  });
}

/**
 * Signs a user in to the React example in a browser context of its own (its own
 * session storage: another person). `params` go to the page's URL (idle, shortExpiry…).
 */
export async function openUser(browser, baseUrl, name, params = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.logs = [];
  page.on("console", (m) => page.logs.push(`[${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => page.logs.push(`[pageerror] ${e.message}`));
  page.userName = name;
  const query = new URLSearchParams({ name, ...params });
  await page.goto(`${baseUrl}/?${query}`);
  await page.locator('[data-testid="connection"][data-state="open"]').waitFor({ timeout: 20_000 });
  return page;
}

export const userId = (name) => name.toLowerCase().replace(/[^a-z0-9]+/g, "-");

/** The row of `name` in `page`'s member list. */
export function member(page, name) {
  return page.getByTestId(`member-${userId(name)}`);
}

/** Waits until `page` shows `name` with the status (data-status of the member row). */
export async function expectStatus(page, name, status, timeout = 15_000) {
  await page
    .locator(`[data-testid="member-${userId(name)}"][data-status="${status}"]`)
    .waitFor({ timeout });
}

/** Waits until the text of the element matches (a string: equal after trimming). */
export async function expectText(locator, expected, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  let last = "";
  for (;;) {
    last = ((await locator.textContent({ timeout }).catch(() => "")) ?? "").trim();
    if (typeof expected === "string" ? last === expected : expected.test(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`expected ${expected} but the page shows ${JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Opens the status menu of `page` and picks a status. */
export async function chooseStatus(page, status) {
  await page.getByTestId("me").click();
  await page.getByTestId(`status-${status}`).click();
  await page.locator(`[data-testid="me"][data-status="${status}"]`).waitFor();
}

/**
 * Runs a scenario; when it fails, saves a screenshot of every page still open to
 * tests/e2e/artifacts/ (and prints their console) before failing.
 */
export async function withScreenshots(name, pages, scenario) {
  try {
    await scenario();
  } catch (error) {
    mkdirSync(artifacts, { recursive: true });
    const slug = name.replace(/[^a-z0-9]+/gi, "-").toLowerCase();
    for (const page of pages()) {
      if (page.isClosed()) continue;
      const file = join(artifacts, `${slug}--${userId(page.userName ?? "page")}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`screenshot: ${file}\n${(page.logs ?? []).slice(-30).join("\n")}`);
    }
    throw error;
  }
}
