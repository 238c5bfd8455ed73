// The gzipped (level 9) sizes of what a page downloads from this package: the JS of the
// React entry and of the plain entry (the package's modules that each imports
// statically, as shipped and minified by esbuild, file by file), the .wasm that ready()
// fetches, and the base64 chunk that replaces it only where the .wasm's URL fails.
// docs/packaging.md ("What a page downloads") has the figures.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { transformSync } from "esbuild";
import { staticGraph } from "./graph.mjs";

const at = (f) => new URL(`../${f}`, import.meta.url);
const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
const minified = (f) => (f.endsWith(".js") ? transformSync(readFileSync(at(f), "utf8"), { minify: true, format: "esm" }).code : readFileSync(at(f)));
const sum = (files, size) => files.reduce((n, f) => n + size(f), 0);
const js = (entry) => staticGraph(entry).filter((f) => f.endsWith(".js"));

const rows = [
  ["JS of presence-client/react", js("dist/react.js")],
  ["JS of presence-client", js("dist/index.js")],
  ["wasm (fetched by ready())", ["pkg/web/presence_client_bg.wasm"]],
  ["base64 chunk (only where the .wasm URL fails)", ["pkg/web/presence_client_inline.js"]],
  ["JS of presence-client/bundler", js("dist/bundler.js")],
];
console.log("presence-client sizes in bytes: gzip -9 of the files as shipped / minified (esbuild) / raw");
const sizes = {};
for (const [name, files] of rows) {
  const s = {
    gzip: sum(files, (f) => gz(readFileSync(at(f)))),
    min: sum(files, (f) => gz(minified(f))),
    raw: sum(files, (f) => readFileSync(at(f)).length),
  };
  sizes[name] = s;
  console.log(`  ${name.padEnd(48)} ${String(s.gzip).padStart(7)} ${String(s.min).padStart(7)} ${String(s.raw).padStart(8)}`);
}
const react = sizes["JS of presence-client/react"].min;
const wasm = sizes["wasm (fetched by ready())"].gzip;
const inline = sizes["base64 chunk (only where the .wasm URL fails)"].min;
console.log(`  a React page downloads ${react + wasm} gzipped (minified JS ${react} + wasm ${wasm});`);
console.log(`  where the .wasm URL fails, ${react + inline} (JS + base64 chunk ${inline}: +${Math.round(((inline - wasm) / wasm) * 100)}% over the wasm)`);
