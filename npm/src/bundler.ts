// presence-client/bundler: wasm-pack's `bundler` target, for whoever wants it: the .wasm
// is a static ES module import, instantiated when this module is imported. It needs a
// bundler that supports that (webpack 5 with `experiments.asyncWebAssembly`, Vite with
// vite-plugin-wasm); the default entry "presence-client" needs nothing.
//
//   import { PresenceClient } from "presence-client/bundler";
//   const client = new PresenceClient({ url, getToken });
import { PresenceClient as WasmPresenceClient } from "../pkg/bundler/presence_client.js";
import { bindClientClass } from "./client.js";
import type { PresenceClientOptions } from "./types.js";
import { resolveUrl } from "./url.js";

/** The client of the bundler build: ready on import; `url` may be a path. */
export class PresenceClient extends WasmPresenceClient {
  constructor(options: PresenceClientOptions) {
    super(typeof options?.url === "string" ? { ...options, url: resolveUrl(options.url) } : options);
  }
}

// <PresenceProvider options> creates its clients from this build once it is imported.
bindClientClass(PresenceClient);

/** Always ready (the module was instantiated on import): for code written for both builds. */
export function ready(): Promise<void> {
  return Promise.resolve();
}

/** A new client of this build (not yet connected: call `connect()`). */
export async function createClient(options: PresenceClientOptions): Promise<PresenceClient> {
  return new PresenceClient(options);
}

export { resolveUrl };
export * from "./shared.js";
