// The seam between the explicit bundler build and the React layer. "presence-client/
// bundler" (wasm-pack's `bundler` target) binds its `PresenceClient` class here when it
// is imported; `<PresenceProvider options>` then creates its clients from it at once.
// Otherwise the provider uses the default build (wasm.ts) once `ready()` has resolved.
import type { PresenceClientLike, PresenceClientOptions } from "./types.js";

/** A `PresenceClient` class: either build's, or a test double's. */
export type PresenceClientClass = new (options: PresenceClientOptions) => PresenceClientLike;

let bound: PresenceClientClass | null = null;

/** Called once by "presence-client/bundler" on import, with that build's class. */
export function bindClientClass(cls: PresenceClientClass): void {
  bound = cls;
}

/** The class of "presence-client/bundler" when it was imported, else null. */
export function boundClientClass(): PresenceClientClass | null {
  return bound;
}
