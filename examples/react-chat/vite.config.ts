import { defineConfig } from "vite";
import wasm from "vite-plugin-wasm";

// The presence-server the dev server talks to (`npm run dev`; start it with `--dev`):
// its /dev/token and /v1/ws are proxied, so the app's code is the same in dev and when
// the server itself serves the built app (`presence-server --dev --static-dir dist`).
const server = process.env.PRESENCE_SERVER ?? "http://127.0.0.1:8080";

export default defineConfig({
  // presence-client's default export is wasm-pack's bundler build: a .wasm imported as
  // an ES module, which vite-plugin-wasm provides; its top-level await needs esnext.
  plugins: [wasm()],
  build: { target: "esnext" },
  // JSX through esbuild: no Babel, no React plugin needed.
  esbuild: { jsx: "automatic" },
  // presence-client is linked from ../../npm (file:), which has its own React for its
  // tests: one React for the whole app.
  resolve: { dedupe: ["react", "react-dom"] },
  server: {
    proxy: {
      "/dev/token": server,
      "/v1/ws": { target: server.replace(/^http/, "ws"), ws: true },
    },
  },
});
