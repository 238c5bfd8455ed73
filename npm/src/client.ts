// The seam between the wasm builds and the layers above them, which know neither. The
// entries that carry a build, "presence-client" (wasm-pack's `bundler` target) and
// "presence-client/web" (the `web` target), each bind their `PresenceClient` class here
// when they are imported; `<PresenceProvider options>` creates its client from the
// class bound, so a React app uses the build of the entry it imported.
import type { PresenceClientLike, PresenceClientOptions } from "./types.js";

/** A `PresenceClient` class: either build's, or a test double's. */
export type PresenceClientClass = new (options: PresenceClientOptions) => PresenceClientLike;

/** The two builds: `bundler` is ready once imported, `web` only after its `init()`. */
export type Build = "bundler" | "web";

const bound: Partial<Record<Build, PresenceClientClass>> = {};

/** Called once by the entry of each build, on import, with that build's class. */
export function bindClientClass(build: Build, cls: PresenceClientClass): void {
  bound[build] = cls;
}

/**
 * The class to create clients from: the bundler build's when its entry was imported
 * (it needs no `init()`, so an app that imports both entries, whatever the order, gets
 * a client that works at once), else the web build's, else null.
 */
export function boundClientClass(): PresenceClientClass | null {
  return bound.bundler ?? bound.web ?? null;
}
