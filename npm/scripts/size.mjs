// The gzipped (level 9) sizes of what a page downloads from this package: the JS of the
// React entry and of the plain entry (each with the package's modules it imports), the
// .wasm that ready() fetches, and the base64 chunk that replaces it where the .wasm's
// URL fails. docs/benchmarks.md has the figures.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { staticGraph } from "./graph.mjs";

const at = (f) => new URL(`../${f}`, import.meta.url);
const gz = (files) => files.reduce((n, f) => n + gzipSync(readFileSync(at(f)), { level: 9 }).length, 0);
const raw = (files) => files.reduce((n, f) => n + readFileSync(at(f)).length, 0);

const rows = [
  ["JS of presence-client/react", staticGraph("dist/react.js")],
  ["JS of presence-client", staticGraph("dist/index.js")],
  ["wasm (fetched by ready())", ["pkg/web/presence_client_bg.wasm"]],
  ["base64 chunk (only where the .wasm URL fails)", ["pkg/web/presence_client_inline.js"]],
  ["wasm of presence-client/bundler", ["pkg/bundler/presence_client_bg.wasm"]],
];
const sizes = Object.fromEntries(rows.map(([name, files]) => [name, { raw: raw(files), gzip: gz(files) }]));
console.log("presence-client sizes (bytes, gzip -9):");
for (const [name, { raw: r, gzip: g }] of Object.entries(sizes)) {
  console.log(`  ${name.padEnd(48)} ${String(g).padStart(7)} gzipped ${String(r).padStart(8)} raw`);
}
const page = sizes["JS of presence-client/react"].gzip + sizes["wasm (fetched by ready())"].gzip;
const inline = sizes["JS of presence-client/react"].gzip + sizes["base64 chunk (only where the .wasm URL fails)"].gzip;
console.log(`  a React page: ${page} gzipped (JS + wasm); with the base64 fallback instead: ${inline}`);
