// The packaging matrix: a packed presence-client tarball in fresh apps of every setup
// people use (apps/, one package-lock.json each), each loaded in Debian's Chromium
// against a real presence-server (--dev, in-memory store). The check of every browser
// row: the README's quick start (the tsx block of "Use it in React", as written) shows
// `connection: open` and lists its own user (`ada: online`), with one connection open
// on the server. The Node row imports both entries and renders the same component with
// renderToString.
//
//   node run.mjs --tarball FILE [--only ROW,ROW] [--reuse-install] [--findings FILE] [--readme FILE]
//
// Prints a table (row, result, seconds, gzipped bytes of the JS and wasm the page
// fetched) and writes it to artifacts/results.md. Any failing row makes the exit code 1,
// with its reason: the page's console, the dev server's or build's output, the
// presence-server's log. Every process is started on 127.0.0.1 in a process group of
// its own and stopped by its PGID (servers by their PID, tests/e2e/lib/harness.mjs).
import { spawn } from "node:child_process";
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";

import { freePort, launchBrowser, root, startServer } from "../e2e/lib/harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const apps = join(here, "apps");
const artifacts = join(here, "artifacts");

const { values: opts } = parseArgs({
  options: {
    tarball: { type: "string" },
    only: { type: "string" },
    "reuse-install": { type: "boolean", default: false },
    findings: { type: "string" },
    readme: { type: "string" },
  },
});
if (!opts.tarball) {
  console.error(
    "usage: node run.mjs --tarball FILE [--only ROW,ROW] [--reuse-install] [--findings FILE] [--readme FILE]",
  );
  process.exit(2);
}
const tarball = resolve(opts.tarball);
const readmePath = resolve(opts.readme ?? join(root, "README.md"));

// --- the rows --------------------------------------------------------------------------
// `static`: built into dist/, served by presence-server --static-dir (same origin, the
// quick start's paths as written). `serve`: the app's own server on a port of its own
// (the quick start's URLs made absolute, to the presence-server). `node`: a script.
const next = (bundler) => (bundler === "webpack" ? ["--webpack"] : ["--turbopack"]);
const rows = [
  { name: "node-esm", app: "node", kind: "node", run: ["node", "check.mjs"] },
  ...["turbopack", "webpack"].flatMap((b) => [
    {
      name: `next-${b}-dev`,
      app: "next",
      kind: "serve",
      ssr: true,
      clean: [".next"],
      serve: (port) => ["next", "dev", ...next(b), "-H", "127.0.0.1", "-p", String(port)],
    },
    {
      name: `next-${b}-build`,
      app: "next",
      kind: "serve",
      ssr: true,
      clean: [".next"],
      build: ["next", "build", ...next(b)],
      serve: (port) => ["next", "start", "-H", "127.0.0.1", "-p", String(port)],
    },
  ]),
  ...["vite8", "vite7"].flatMap((app) => [
    {
      name: `${app}-dev`,
      app,
      kind: "serve",
      clean: ["node_modules/.vite", "dist"],
      serve: (port) => ["vite", "--host", "127.0.0.1", "--port", String(port), "--strictPort"],
    },
    {
      name: `${app}-build`,
      app,
      kind: "serve",
      clean: ["node_modules/.vite", "dist"],
      build: ["vite", "build"],
      serve: (port) => ["vite", "preview", "--host", "127.0.0.1", "--port", String(port), "--strictPort"],
    },
  ]),
  { name: "webpack5-build", app: "webpack", kind: "static", clean: ["dist"], build: ["webpack"] },
  { name: "rsbuild2-build", app: "rsbuild", kind: "static", clean: ["dist"], build: ["rsbuild", "build"] },
  {
    name: "parcel2-build",
    app: "parcel",
    kind: "static",
    clean: ["dist", ".parcel-cache"],
    build: ["parcel", "build", "index.html", "--no-autoinstall"],
  },
  { name: "esbuild-bundle", app: "esbuild", kind: "static", clean: ["dist"], build: ["npm", "run", "build"] },
];

const only = opts.only?.split(",").filter(Boolean);
if (only) {
  const unknown = only.filter((n) => !rows.some((r) => r.name === n));
  if (unknown.length) {
    console.error(`unknown rows: ${unknown.join(", ")}; rows: ${rows.map((r) => r.name).join(", ")}`);
    process.exit(2);
  }
}
const selected = rows.filter((r) => !only || only.includes(r.name));

// --- processes ---------------------------------------------------------------------------
const groups = new Set();
function killGroups() {
  for (const pid of groups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}
process.on("exit", killGroups);

/** Runs a command in `cwd` (node_modules/.bin first on PATH) in a process group of its own. */
function start(cmd, cwd, env = {}) {
  const child = spawn(cmd[0], cmd.slice(1), {
    cwd,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PATH: `${join(cwd, "node_modules/.bin")}:${process.env.PATH}`,
      NEXT_TELEMETRY_DISABLED: "1",
      NO_COLOR: "1",
      FORCE_COLOR: "0",
      ...env,
    },
  });
  groups.add(child.pid);
  child.output = "";
  const keep = (chunk) => {
    child.output = (child.output + chunk.toString()).slice(-64_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.done = new Promise((resolvePromise) => {
    child.once("exit", (code, signal) => {
      groups.delete(child.pid);
      resolvePromise({ code, signal });
    });
  });
  return child;
}

async function stopGroup(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // gone
    }
  }, 5000);
  await child.done;
  clearTimeout(timer);
  // Workers that outlived their parent (next's) go with the group.
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // gone
  }
}

const tail = (text, lines = 40) => text.trimEnd().split("\n").slice(-lines).join("\n");

/** Runs a command to its end; throws with its output's tail when it fails or overruns. */
async function runToEnd(cmd, cwd, what, timeoutMs) {
  const child = start(cmd, cwd);
  const timer = setTimeout(() => stopGroup(child), timeoutMs);
  const { code, signal } = await child.done;
  clearTimeout(timer);
  if (code !== 0) {
    const why = signal ? `stopped (${signal}) after ${timeoutMs / 1000} s` : `exit ${code}`;
    throw new Failure(`${what} failed (${cmd.join(" ")}: ${why})`, child.output);
  }
  return child.output;
}

class Failure extends Error {
  constructor(message, output = "") {
    super(message);
    this.output = output;
  }
}

/** Waits until something accepts connections on the port, or the process exits. */
async function listening(port, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise((resolvePromise) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolvePromise(true);
      });
      socket.once("error", () => resolvePromise(false));
    });
    if (open) return;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Failure(`the app's server exited (${child.exitCode ?? child.signalCode})`, child.output);
    }
    if (Date.now() > deadline)
      throw new Failure(`nothing listens on ${port} after ${timeoutMs / 1000} s`, child.output);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// --- the app's source ----------------------------------------------------------------------
/**
 * The quick start: the first tsx block of the README's "Use it in React" section, as
 * written (its paths "/dev/token" and "/v1/ws" are what a page on the server's origin
 * uses, and what the matrix rewrites for a page on an origin of its own).
 */
function quickStart() {
  const readme = readFileSync(readmePath, "utf8");
  const start = readme.indexOf("## Use it in React");
  if (start < 0) throw new Error(`${readmePath} has no "## Use it in React" section`);
  const rest = readme.slice(start + 3);
  const end = rest.search(/\n## /);
  const block = /```tsx\n([\s\S]*?)```/.exec(end < 0 ? rest : rest.slice(0, end))?.[1];
  if (!block) throw new Error(`the "Use it in React" section of ${readmePath} has no tsx block`);
  for (const needed of ['"/dev/token"', '"/v1/ws"', "useConnectionState", "connection: {state}"]) {
    if (!block.includes(needed)) throw new Error(`the README's quick start has no ${needed}, which the matrix needs`);
  }
  return block;
}

/** Copies the quick start into the app; `server` (http://…) makes its two paths absolute. */
function writeSource(row, server) {
  const dir = join(apps, row.app);
  mkdirSync(join(dir, "src"), { recursive: true });
  let app = quickStart();
  if (server) {
    app = app
      .replaceAll('"/dev/token"', JSON.stringify(`${server}/dev/token`))
      .replaceAll('"/v1/ws"', JSON.stringify(`${server.replace(/^http/, "ws")}/v1/ws`));
  }
  writeFileSync(join(dir, "src/App.tsx"), app);
  if (row.app !== "next") copyFileSync(join(here, "app/index.tsx"), join(dir, "src/index.tsx"));
}

/** presence_connections of the server's /metrics, once it settles on 1 (or after 10 s). */
async function openConnections(server) {
  let open = NaN;
  for (let i = 0; i < 50; i++) {
    const text = await fetch(`${server.url}/metrics`).then((r) => r.text());
    open = Number(/^presence_connections (\S+)$/m.exec(text)?.[1] ?? NaN);
    if (open === 1) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return open;
}

// --- the browser check ---------------------------------------------------------------------
/** Loads the page; resolves with the gzipped bytes of the JS and wasm it fetched. */
async function check(browser, url, server, failure, ssr) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const logs = [];
  page.on("console", (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`));
  page.on("requestfailed", (r) => logs.push(`[requestfailed] ${r.url()} ${r.failure()?.errorText ?? ""}`));
  const bodies = [];
  page.on("response", (response) => {
    const type = response.headers()["content-type"] ?? "";
    const path = new URL(response.url()).pathname;
    const wasmUrl = /\.wasm$/.test(path) || type.includes("application/wasm");
    const js = !wasmUrl && (response.request().resourceType() === "script" || /javascript/.test(type));
    if (!wasmUrl && !js) return;
    if (response.status() >= 300) logs.push(`[response ${response.status()}] ${response.url()}`);
    bodies.push(
      response
        .body()
        .then((body) => {
          // A .wasm URL that answers something else (a dev server's HTML) is not wasm:
          // the package then falls back to its inlined copy, a JS chunk.
          const wasm = wasmUrl && body.subarray(0, 4).equals(Buffer.from("\0asm"));
          if (wasmUrl && !wasm) logs.push(`[not wasm] ${response.url()} (${type || "no content type"})`);
          return { wasm, js, gz: wasm || js ? gzipSync(body, { level: 9 }).length : 0 };
        })
        .catch(() => ({ wasm: false, js, gz: 0 })),
    );
  });
  failure.logs = logs;
  try {
    const loaded = await page.goto(url, { timeout: 180_000 });
    if (!loaded?.ok()) throw new Failure(`GET ${url}: HTTP ${loaded?.status()}`, (await loaded?.text()) ?? "");
    // Server rendering stays on: the HTML already holds the quick start's first render.
    // (React marks the seam between two text nodes with <!-- -->.)
    if (ssr && !(await loaded.text()).replaceAll("<!-- -->", "").includes("connection: connecting")) {
      throw new Failure(
        `the server-rendered HTML of ${url} does not show "connection: connecting"`,
        await loaded.text(),
      );
    }
    try {
      await page.getByText("connection: open").waitFor({ timeout: 60_000 });
      await page.getByText("ada: online").waitFor({ timeout: 30_000 });
    } catch (e) {
      const shown = (
        await page
          .locator("body")
          .innerText()
          .catch(() => "")
      )
        .trim()
        .slice(0, 400);
      throw new Failure(
        `the page did not show "connection: open" and "ada: online"; it shows ${JSON.stringify(shown)} (${e.message.split("\n")[0]})`,
      );
    }
    // Errors the page threw, and React's hydration errors (the server's HTML and the
    // first render in the browser must match), fail the row even when it connected.
    const errors = logs.filter((l) => l.startsWith("[pageerror]") || (l.startsWith("[error]") && /hydrat/i.test(l)));
    if (errors.length) throw new Failure(`the page connected but logged errors: ${errors[0].slice(0, 300)}`);
    // StrictMode mounts the provider twice in development: still one connection open.
    const open = await openConnections(server);
    if (open !== 1)
      throw new Failure(`presence-server has ${open} connections open for the one page (presence_connections)`);
    const fetched = await Promise.all(bodies);
    const sum = (key) => fetched.filter((f) => f[key]).reduce((n, f) => n + f.gz, 0);
    return { js: sum("js"), wasm: sum("wasm") };
  } finally {
    await context.close();
  }
}

// --- a row -----------------------------------------------------------------------------------
async function runRow(row, browser) {
  const dir = join(apps, row.app);
  const failure = { logs: [] };
  let server;
  let app;
  try {
    if (row.kind === "node") {
      await runToEnd(row.run, dir, "the node check", 60_000);
      return { ok: true };
    }
    for (const c of row.clean ?? []) rmSync(join(dir, c), { recursive: true, force: true });
    // Static rows: the page and the server share an origin, so the quick start's paths
    // stay as written; the server starts once there is a dist/ to serve.
    if (row.kind === "serve") server = await startServer(["--dev"], { name: "presence-server" });
    writeSource(row, server?.url ?? "");
    if (row.build) {
      failure.step = "build";
      await runToEnd(row.build, dir, "the build", 300_000);
    }
    let url;
    if (row.kind === "static") {
      server = await startServer(["--dev", "--static-dir", join(dir, "dist")], { name: "presence-server" });
      url = `${server.url}/`;
    } else {
      const port = await freePort();
      failure.step = "serve";
      app = start(row.serve(port), dir);
      await listening(port, app, 120_000);
      url = `http://127.0.0.1:${port}/`;
    }
    failure.step = "browser";
    const bytes = await check(browser, url, server, failure, row.ssr);
    return { ok: true, bytes };
  } catch (error) {
    const parts = [error.message];
    if (error.output) parts.push(`--- output (tail)\n${tail(error.output)}`);
    if (app && error.output !== app.output && app.output)
      parts.push(`--- the app's server (tail)\n${tail(app.output)}`);
    if (failure.logs.length) parts.push(`--- browser console\n${failure.logs.slice(-30).join("\n")}`);
    if (server?.log) parts.push(`--- presence-server (tail)\n${tail(server.log, 15)}`);
    return { ok: false, reason: error.message, detail: parts.join("\n") };
  } finally {
    await stopGroup(app);
    await server?.stop();
  }
}

// --- install -------------------------------------------------------------------------------
/** `npm ci` from the app's lockfile, then the tarball on top without touching the lockfile. */
async function install(app) {
  const dir = join(apps, app);
  const flags = ["--no-audit", "--no-fund", "--loglevel=error"];
  if (!(opts["reuse-install"] && existsSync(join(dir, "node_modules")))) {
    await runToEnd(["npm", "ci", ...flags], dir, `npm ci in apps/${app}`, 600_000);
  }
  // A tarball of the same name and other contents is installed again all the same.
  rmSync(join(dir, "node_modules/presence-client"), { recursive: true, force: true });
  await runToEnd(
    ["npm", "install", "--no-save", ...flags, tarball],
    dir,
    `installing the tarball in apps/${app}`,
    300_000,
  );
}

// --- main --------------------------------------------------------------------------------------
const results = [];
const seconds = (t0) => ((performance.now() - t0) / 1000).toFixed(0);
const kb = (n) => (n / 1024).toFixed(1);

const browser = await launchBrowser();
try {
  const installed = new Map();
  for (const row of selected) {
    if (!installed.has(row.app)) {
      const t0 = performance.now();
      let result;
      try {
        await install(row.app);
        result = { ok: true };
      } catch (error) {
        result = { ok: false, reason: error.message, detail: `${error.message}\n${tail(error.output ?? "")}` };
      }
      installed.set(row.app, result);
      results.push({ name: `install ${row.app}`, ...result, seconds: seconds(t0) });
      console.log(`${result.ok ? "ok  " : "FAIL"} install ${row.app} (${seconds(t0)} s)`);
    }
    if (!installed.get(row.app).ok) {
      results.push({ name: row.name, ok: false, reason: `apps/${row.app} did not install`, seconds: "-" });
      continue;
    }
    const t0 = performance.now();
    const result = await runRow(row, browser);
    results.push({ name: row.name, ...result, seconds: seconds(t0) });
    console.log(
      `${result.ok ? "ok  " : "FAIL"} ${row.name} (${seconds(t0)} s)${result.ok ? "" : `\n${result.detail}\n`}`,
    );
  }
} finally {
  await browser.close();
}

// --- the table -------------------------------------------------------------------------------
const size = (r) =>
  r.bytes
    ? `${kb(r.bytes.js + r.bytes.wasm)} KB (JS ${kb(r.bytes.js)} + ${r.bytes.wasm ? `wasm ${kb(r.bytes.wasm)}` : "no .wasm: the inlined copy"})`
    : "";
const lines = [
  `presence-client tarball: ${tarball.split("/").pop()}`,
  "",
  "| row | result | time | gzipped JS + wasm the page fetched |",
  "|---|---|---|---|",
  ...results.map(
    (r) =>
      `| ${r.name} | ${r.ok ? "pass" : `**FAIL**: ${r.reason.replaceAll("|", "\\|").split("\n")[0]}`} | ${r.seconds} s | ${size(r)} |`,
  ),
  "",
  "Time: the row's build, server start and check (an app's install is its own row). Sizes: each response gzipped at level 9, dev servers' unminified code included.",
];
const table = lines.join("\n");
mkdirSync(artifacts, { recursive: true });
writeFileSync(join(artifacts, "results.md"), `${table}\n`);
console.log(`\n${table}\n\n(written to ${join(artifacts, "results.md")})`);

const failed = results.filter((r) => !r.ok);
if (failed.length && opts.findings) {
  const when = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  appendFileSync(
    opts.findings,
    `\n## ${when}: ${failed.length} failing row(s) with ${tarball}\n\n` +
      failed.map((r) => `### ${r.name}\n\n\`\`\`\n${r.detail ?? r.reason}\n\`\`\`\n`).join("\n"),
  );
}
process.exit(failed.length ? 1 : 0);
