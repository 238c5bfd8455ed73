import { defineConfig } from "vitest/config";

export default defineConfig({
  // No wasm plugin: the default entries import no .wasm (src/wasm.ts fetches it, or
  // falls back to the base64 copy), and the tests of "presence-client/bundler" replace
  // its build with a fake one.
  esbuild: { jsx: "automatic" },
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.{ts,tsx}"],
    globalSetup: ["test/server.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
