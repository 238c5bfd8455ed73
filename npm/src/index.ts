// presence-client: the SDK for any app, with or without a bundler, in the browser and in
// Node (SSR). Importing it loads no WebAssembly: `ready()` does, once, from the .wasm
// file next to this package (or from an inlined copy where that file cannot be
// fetched); see wasm.ts.
//
//   import { createClient } from "presence-client";
//   const client = await createClient({ url: "/v1/ws", getToken });
//   client.connect();
//
// or `await ready()` and then `new PresenceClient(options)`. React apps use the hooks of
// "presence-client/react", which need neither.
export { PresenceClient, createClient, isReady, ready, readySync, resolveUrl } from "./wasm.js";
export type { InitInput, InitOutput, SyncInitInput } from "./wasm.js";
export * from "./shared.js";
