import { defineConfig } from "vitest/config";
import wasm from "vite-plugin-wasm";

export default defineConfig({
  // "presence-client" (src/index.ts) imports the bundler build of the SDK, a .wasm as an
  // ES module, as an app's bundler would.
  plugins: [wasm()],
  esbuild: { jsx: "automatic" },
  test: {
    environment: "jsdom",
    include: ["test/**/*.test.{ts,tsx}"],
    globalSetup: ["test/server.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
