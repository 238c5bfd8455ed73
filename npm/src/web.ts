// presence-client/web: the same as "presence-client" (wasm-pack's `web` target, loaded
// lazily by `ready()`), under the name and the `init()` it had before:
//
//   import init, { PresenceClient } from "presence-client/web";
//   await init();            // = ready(); init(urlOrBytes) loads the module you give it
//   const client = new PresenceClient({ url, getToken });
import { ready, readySync } from "./wasm.js";

export default ready;
export { readySync as initSync };
export * from "./index.js";
