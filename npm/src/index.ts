// presence-client: the SDK for apps built with a bundler (Vite with vite-plugin-wasm,
// webpack 5 with asyncWebAssembly…): wasm-pack's `bundler` target, which loads the
// WebAssembly module on import, plus the framework-free store and the text helpers.
//
//   import { PresenceClient } from "presence-client";
//   const client = new PresenceClient({ url, getToken });
//
// Pages without a bundler use "presence-client/web" (with `await init()` first); React
// apps use the hooks of "presence-client/react".
import { PresenceClient } from "../pkg/bundler/presence_client.js";
import { bindClientClass } from "./client.js";

// <PresenceProvider options> creates its clients from this build.
bindClientClass("bundler", PresenceClient);

export { PresenceClient };
export * from "./shared.js";
