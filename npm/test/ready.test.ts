// ready() on the real module: one load for every caller, and readySync() refused while
// that load is under way (two instances would each take over the glue).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import { isReady, ready, readySync } from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));

describe("ready()", () => {
  it("loads the module once for every caller; readySync() waits its turn", async () => {
    const first = ready();
    expect(ready()).toBe(first);
    const bytes = readFileSync(join(here, "../pkg/web/presence_client_bg.wasm"));
    expect(() => readySync(bytes)).toThrow(/await ready\(\) instead/);
    const output = await first;
    expect(isReady()).toBe(true);
    expect(readySync(bytes)).toBe(output);
    expect(await ready()).toBe(output);
  });
});
