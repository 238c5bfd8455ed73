// The static import graph of a built module: the package's own files that importing it
// loads (import/export … from "./…"; dynamic import() is not followed, bare specifiers
// such as "react" are left out).
import { readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const staticImport = /(?:^|[;\n])\s*(?:import|export)\s+(?:[^"'`;]*?\s+from\s+)?["'](\.{1,2}\/[^"']+)["']/g;

/** Paths relative to the package root, the entry first. */
export function staticGraph(entry) {
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!file.endsWith(".js")) return;
    const text = readFileSync(join(root, file), "utf8");
    for (const m of text.matchAll(staticImport)) {
      visit(relative(root, normalize(join(root, dirname(file), m[1]))));
    }
  };
  visit(entry);
  return [...seen];
}
