import { defineConfig } from "vite";

// The presence-server the dev server talks to (`npm run dev`; start it with `--dev`):
// its /dev/token and /v1/ws are proxied, so the app's code is the same in dev and when
// the server itself serves the built app (`presence-server --dev --static-dir dist`).
const server = process.env.PRESENCE_SERVER ?? "http://127.0.0.1:8080";

export default defineConfig({
  // Nothing for presence-client itself: it imports no .wasm (it fetches it, or uses its
  // inlined copy in the dev server's pre-bundled dependencies).
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
