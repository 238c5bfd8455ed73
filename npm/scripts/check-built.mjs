// `npm run build` ends with this and `npm pack` runs it first: the tarball must carry
// the wasm builds and dist/, the React entry must start with "use client", and no
// default entry ("presence-client", "/web", "/react") may import a .wasm statically,
// directly or through the modules it imports (only "presence-client/bundler" does).
import { existsSync, readFileSync } from "node:fs";
import { staticGraph } from "./graph.mjs";

const at = (f) => new URL(`../${f}`, import.meta.url);
const needed = [
  "dist/index.js",
  "dist/web.js",
  "dist/react.js",
  "dist/bundler.js",
  "dist/wasm.js",
  "pkg/bundler/presence_client_bg.wasm",
  "pkg/web/presence_client_bg.wasm",
  "pkg/web/presence_client_inline.js",
  "react/package.json",
  "web/package.json",
  "bundler/package.json",
];
const missing = needed.filter((f) => !existsSync(at(f)));
if (missing.length > 0) {
  console.error(`presence-client is not built (missing ${missing.join(", ")}): run npm run build first`);
  process.exit(1);
}

const problems = [];
const react = readFileSync(at("dist/react.js"), "utf8");
if (!/^(\s*(\/\/[^\n]*\n|\/\*[\s\S]*?\*\/))*\s*"use client";/.test(react)) {
  problems.push('dist/react.js does not start with "use client"');
}
for (const entry of ["dist/index.js", "dist/web.js", "dist/react.js"]) {
  for (const file of staticGraph(entry)) {
    if (file.endsWith(".wasm")) problems.push(`${entry} imports ${file} statically`);
    if (file.includes("inline")) problems.push(`${entry} imports the inlined wasm (${file}) statically`);
  }
}
if (problems.length > 0) {
  console.error(`presence-client: ${problems.join("; ")}`);
  process.exit(1);
}
