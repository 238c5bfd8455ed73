// The packaging test: `npm pack` of npm/ (built first: npm run build), the tarball
// installed into a scratch Vite + React app in a temporary folder, whose code is the
// README's "Use it in React" snippet as written, then:
//   - tsc and `vite build`; the built app served by presence-server and loaded in Chromium;
//   - the Vite dev server (dependency pre-bundling included) loaded in Chromium, its
//     proxy pointed at the same presence-server.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";

import { launchBrowser, root, startServer, withScreenshots } from "./lib/harness.mjs";

const run = promisify(execFile);
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
  assert.ok(blocks.js?.includes("vite-plugin-wasm"), "the section has the vite config");
  assert.ok(blocks.tsx?.includes("presence-client/react"), "the section has the React code");
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

  it("npm pack carries the two wasm builds, dist/ and the types, and nothing else", async () => {
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
    assert.deepEqual(Object.keys(manifest.exports).sort(), [".", "./package.json", "./react", "./web"]);
    assert.ok(manifest.peerDependencies.react, "React is a peer dependency");
  });

  it("installs into a scratch app made of the README's snippet, which type-checks and builds", async () => {
    assert.ok(tarball, "the tarball exists");
    const { js, tsx } = readmeSnippet();
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
            "vite-plugin-wasm": "^3.6.0",
          },
        },
        null,
        2,
      ),
    );
    // The README's config as written, with the proxy aimed at this test's server.
    write("vite.config.js", js.replaceAll("127.0.0.1:8080", server.bound));
    write("src/App.tsx", tsx);
    // The other two entry points resolve, with their types, in the same app.
    write(
      "src/entries.ts",
      'import { PresenceClient, PresenceStore, formatLastSeen, type Presence } from "presence-client";\n' +
        'import init, { PresenceClient as WebClient, typingText } from "presence-client/web";\n' +
        "const offline: Presence | null = null;\n" +
        "export const entries = [PresenceClient, PresenceStore, WebClient, init, formatLastSeen(offline), typingText([])];\n",
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
    page.on("console", (m) => page.logs.push(`[${m.type()}] ${m.text()}`));
    page.on("pageerror", (e) => page.logs.push(`[pageerror] ${e.message}`));
    pages.push(page);
    await page.goto(url);
    await page.getByText("ada: online").waitFor({ timeout: 30_000 });
    await page.locator("input").pressSequentially("hi", { delay: 30 });
    return page;
  }

  it("the built app runs in Chromium, served by presence-server", () =>
    withScreenshots("packaging built", () => pages, async () => {
      await server.stop();
      server.args.push("--static-dir", join(dir, "app/dist"));
      await server.start(server.bound);
      await expectAdaOnline(`${server.url}/`, "built");
    }));

  it("the app runs on the Vite dev server (pre-bundled dependencies, the README's proxy)", () =>
    withScreenshots("packaging dev", () => pages, async () => {
      const app = join(dir, "app");
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
      await expectAdaOnline(url, "dev");
      vite.kill("SIGTERM");
    }));
});
