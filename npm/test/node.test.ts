// The built package (dist/, as it ships) in plain Node, as SSR frameworks, React Router,
// Astro and test runners in node mode import it: the three default entries import with
// no .wasm loader, no window and no document; renderToString renders "connecting"; and
// ready() then instantiates the real module (Node cannot fetch the .wasm's file: URL,
// so from the inlined copy). The package is imported by its own name (self-reference
// through "exports"). Needs `npm run build` first (scripts/test-npm.sh does it).
// @vitest-environment node
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { describe, expect, it } from "vitest";

const npmDir = fileURLToPath(new URL("..", import.meta.url));
const script = `
  import { createElement } from "react";
  import { renderToString } from "react-dom/server";
  const index = await import("presence-client");
  const react = await import("presence-client/react");
  const web = await import("presence-client/web");
  const seen = [typeof window, typeof document, index.isReady()];
  const Probe = () => createElement("p", null, react.useConnectionState() + " " + react.useRoom("a").count);
  const html = renderToString(createElement(react.PresenceProvider, { options: { url: "/v1/ws", token: "t" } }, createElement(Probe)));
  let before = "";
  try { new index.PresenceClient({ url: "ws://127.0.0.1:1/v1/ws", token: "t" }); } catch (e) { before = e.message; }
  await web.default();
  const client = new index.PresenceClient({ url: "ws://127.0.0.1:1/v1/ws", token: "t" });
  console.log(JSON.stringify({ seen, html, before, ready: react.isReady(), state: client.connectionState }));
  client.destroy();
`;

describe("the built package in Node", () => {
  it("imports, renders on the server, and instantiates the module on ready()", async () => {
    expect(existsSync(new URL("../dist/react.js", import.meta.url)), "npm run build first").toBe(true);
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      cwd: npmDir,
    });
    const out = JSON.parse(stdout.trim().split("\n").pop()!);
    expect(out.seen).toEqual(["undefined", "undefined", false]);
    expect(out.html).toBe("<p>connecting 0</p>");
    expect(out.before).toMatch(/await ready\(\)/);
    expect(out.ready).toBe(true);
    expect(out.state).toBe("closed");
  });
});
