// The packaging test: `npm pack` of npm/ (built first: npm run build), the tarball
// installed into a scratch Vite + React app in a temporary folder with no configuration
// at all (no vite.config, no wasm plugin), whose code is the README's "Use it in React"
// snippet, then:
//   - tsc and `vite build`; the built app served by presence-server and loaded in
//     Chromium, the snippet as written ("/dev/token" and "/v1/ws" on the page's origin);
//     the page fetches the .wasm file;
//   - the Vite dev server (dependency pre-bundling included) loaded in Chromium, the
//     snippet's paths replaced by the presence-server's URLs (another origin: /dev/token's
//     CORS for loopback pages); the pre-bundled package loads the inlined module.
// (tests/packaging/ runs the same snippet in more bundlers and frameworks.)
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";

import { launchBrowser, root, startServer, withScreenshots } from "./lib/harness.mjs";

const run = promisify(execFile);
const write = (dir, file, text) => writeFileSync(join(dir, file), text);
const npmDir = join(root, "npm");

/** The fenced blocks of README.md's "Use it in React" section, by language. */
function readmeSnippet() {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const start = readme.indexOf("## Use it in React");
  assert.ok(start >= 0, "README.md has a “Use it in React” section");
  const rest = readme.slice(start + 3);
  const section = rest.slice(0, rest.search(/\n## /) === -1 ? undefined : rest.search(/\n## /));
  const blocks = {};
  for (const m of section.matchAll(/```(\w+)\n([\s\S]*?)```/g)) blocks[m[1]] ??= m[2];
  assert.ok(blocks.tsx?.includes("presence-client/react"), "the section has the React code");
  for (const lang of ["js", "mjs", "ts"]) assert.equal(blocks[lang], undefined, `no ${lang} block: no bundler config`);
  assert.ok(blocks.tsx.includes('"/dev/token"') && blocks.tsx.includes('url: "/v1/ws"'), "paths on the page's origin");
  return blocks;
}

describe("packaging: the tarball in a fresh Vite + React app", () => {
  let dir;
  let server;
  let browser;
  let vite;
  const pages = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "presence-pack-"));
    server = await startServer(["--dev", "--coalesce-ms", "10"]); // static dir comes later
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    if (vite && vite.exitCode === null) {
      vite.kill("SIGTERM");
    }
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let tarball;

  it("npm pack carries the two wasm builds, the inlined copy, dist/, the types and the stub package.json files, and nothing else", async () => {
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", dir], { cwd: npmDir });
    const [info] = JSON.parse(stdout);
    tarball = join(dir, info.filename);
    const files = info.files.map((f) => f.path).sort();
    for (const needed of [
      "package.json",
      "README.md",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/web.js",
      "dist/web.d.ts",
      "dist/react.js",
      "dist/react.d.ts",
      "dist/bundler.js",
      "dist/bundler.d.ts",
      "react/package.json",
      "web/package.json",
      "bundler/package.json",
      "pkg/web/presence_client_inline.js",
      "pkg/bundler/presence_client.js",
      "pkg/bundler/presence_client_bg.js",
      "pkg/bundler/presence_client_bg.wasm",
      "pkg/bundler/presence_client.d.ts",
      "pkg/web/presence_client.js",
      "pkg/web/presence_client_bg.wasm",
      "pkg/web/presence_client.d.ts",
    ]) {
      assert.ok(files.includes(needed), `${needed} is in the tarball`);
    }
    const stray = files.filter((f) => /^(src|test|scripts|node_modules)\/|\.tgz$|tsconfig|vitest/.test(f));
    assert.deepEqual(stray, [], "no sources, tests or build files in the tarball");
    const manifest = JSON.parse(readFileSync(join(npmDir, "package.json"), "utf8"));
    assert.deepEqual(Object.keys(manifest.exports).sort(), [".", "./bundler", "./package.json", "./react", "./web"]);
    for (const [entry, target] of Object.entries(manifest.exports)) {
      if (typeof target === "object") assert.equal(Object.keys(target)[0], "types", `${entry}: types first`);
    }
    assert.ok(manifest.peerDependencies.react, "React is a peer dependency");
  });

  it("installs into a scratch app made of the README's snippet, which type-checks and builds", async () => {
    assert.ok(tarball, "the tarball exists");
    const { tsx } = readmeSnippet();
    const app = join(dir, "app");
    mkdirSync(join(app, "src"), { recursive: true });
    const write = (file, text) => writeFileSync(join(app, file), text);
    write(
      "package.json",
      JSON.stringify(
        {
          name: "scratch-presence-app",
          private: true,
          type: "module",
          dependencies: {
            "presence-client": `file:${tarball}`,
            react: "^19.2.0",
            "react-dom": "^19.2.0",
          },
          devDependencies: {
            "@types/react": "^19.2.0",
            "@types/react-dom": "^19.2.0",
            typescript: "^5.9.3",
            vite: "^7.3.8",
          },
        },
        null,
        2,
      ),
    );
    // The README's snippet as written: no vite.config, no plugin.
    write("src/App.tsx", tsx);
    // The other entry points resolve, with their types, in the same app (the bundler
    // build's as types only: importing it needs a wasm plugin, by design).
    write(
      "src/entries.ts",
      'import { PresenceClient, PresenceStore, createClient, formatLastSeen, ready, type Presence } from "presence-client";\n' +
        'import init, { PresenceClient as WebClient, typingText } from "presence-client/web";\n' +
        'import type { PresenceClient as BundlerClient } from "presence-client/bundler";\n' +
        "const offline: Presence | null = null;\n" +
        "export const later: BundlerClient | null = null;\n" +
        "export const entries = [PresenceClient, PresenceStore, WebClient, init, ready, createClient, formatLastSeen(offline), typingText([])];\n",
    );
    write(
      "src/main.tsx",
      'import { StrictMode } from "react";\nimport { createRoot } from "react-dom/client";\nimport App from "./App";\n' +
        'import { entries } from "./entries";\n\n' +
        "console.log(`entries: ${entries.length}`);\n" +
        'createRoot(document.getElementById("root")!).render(<StrictMode><App /></StrictMode>);\n',
    );
    write(
      "index.html",
      '<!doctype html>\n<html><head><meta charset="utf-8"><title>scratch</title></head>\n' +
        '<body><div id="root"></div><script type="module" src="/src/main.tsx"></script></body></html>\n',
    );
    write(
      "tsconfig.json",
      JSON.stringify({
        compilerOptions: {
          target: "es2022",
          module: "esnext",
          moduleResolution: "bundler",
          lib: ["es2022", "dom"],
          jsx: "react-jsx",
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: [],
        },
        include: ["src"],
      }),
    );
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], {
      cwd: app,
      maxBuffer: 16 << 20,
    });
    await run(join(app, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], { cwd: app });
    await run(join(app, "node_modules/.bin/vite"), ["build", "--logLevel", "warn"], { cwd: app });
  });

  async function expectAdaOnline(url, name) {
    const page = await (await browser.newContext()).newPage();
    page.userName = name;
    page.logs = [];
    page.requested = [];
    page.on("request", (r) => page.requested.push(r.url()));
    page.on("console", (m) => page.logs.push(`[${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => page.logs.push(`[pageerror] ${e.message}`));
    pages.push(page);
    await page.goto(url);
    await page.getByText("ada: online").waitFor({ timeout: 30_000 });
    await page.getByText("connection: open").waitFor({ timeout: 10_000 });
    await page.locator("input").pressSequentially("hi", { delay: 30 });
    return page;
  }

  it("the built app runs in Chromium, served by presence-server", () =>
    withScreenshots("packaging built", () => pages, async () => {
      await server.stop();
      server.args.push("--static-dir", join(dir, "app/dist"));
      await server.start(server.bound);
      const page = await expectAdaOnline(`${server.url}/`, "built");
      assert.ok(page.requested.some((u) => u.endsWith(".wasm")), `the .wasm was fetched: ${page.requested.join(" ")}`);
      assert.ok(!page.requested.some((u) => u.includes("inline")), "the inlined copy was not needed");
    }));

  it("the app runs on the Vite dev server (pre-bundled dependencies, the server on another origin)", () =>
    withScreenshots("packaging dev", () => pages, async () => {
      const app = join(dir, "app");
      // The README's other form: the server's URLs, from a page on the dev server's origin.
      const { tsx } = readmeSnippet();
      write(app, "src/App.tsx", tsx
        .replaceAll('"/dev/token"', JSON.stringify(`${server.url}/dev/token`))
        .replaceAll('"/v1/ws"', JSON.stringify(`${server.url.replace(/^http/, "ws")}/v1/ws`)));
      vite = spawn(join(app, "node_modules/.bin/vite"), ["--host", "127.0.0.1", "--port", "0", "--strictPort"], {
        cwd: app,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      const url = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`vite did not start:\n${out}`)), 30_000);
        const read = (chunk) => {
          out += chunk.toString();
          // eslint-disable-next-line no-control-regex
          const m = /Local:\s+(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out.replace(/\x1b\[[0-9;]*m/g, ""));
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        };
        vite.stdout.on("data", read);
        vite.stderr.on("data", read);
        vite.once("exit", (code) => reject(new Error(`vite exited (${code}):\n${out}`)));
      });
      const page = await expectAdaOnline(url, "dev");
      assert.ok(page.requested.some((u) => u.includes("presence_client_inline")), "the pre-bundled package used the inlined module");
      vite.kill("SIGTERM");
    }));
});
