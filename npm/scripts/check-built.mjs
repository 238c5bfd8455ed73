// `npm pack` runs this first: the tarball must carry the wasm builds and dist/.
import { existsSync } from "node:fs";

const needed = [
  "dist/index.js",
  "dist/web.js",
  "dist/react.js",
  "pkg/bundler/presence_client_bg.wasm",
  "pkg/web/presence_client_bg.wasm",
];
const missing = needed.filter((f) => !existsSync(new URL(`../${f}`, import.meta.url)));
if (missing.length > 0) {
  console.error(`presence-client is not built (missing ${missing.join(", ")}): run npm run build first`);
  process.exit(1);
}
