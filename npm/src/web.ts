// presence-client/web: the SDK for pages without a bundler: wasm-pack's `web` target.
// Call `init()` once (it fetches presence_client_bg.wasm next to the module, or what you
// pass it) before creating a client:
//
//   import init, { PresenceClient } from "presence-client/web";
//   await init();
//   const client = new PresenceClient({ url, getToken });
import { PresenceClient } from "../pkg/web/presence_client.js";
import { bindClientClass } from "./client.js";

// <PresenceProvider options> creates its clients from this build (render it after
// `init()`), unless the app imported "presence-client" too.
bindClientClass("web", PresenceClient);

export { PresenceClient };
export { default, initSync } from "../pkg/web/presence_client.js";
export type { InitInput, InitOutput, SyncInitInput } from "../pkg/web/presence_client.js";
export * from "./shared.js";
