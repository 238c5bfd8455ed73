// The WebAssembly module of the default entries ("presence-client", "/web", "/react"):
// wasm-pack's `web` target, instantiated lazily by `ready()`, never on import. Importing
// this module touches no wasm, no `window` and no `document`, so it is safe in Node, in
// SSR and in React Server Components.
//
// `ready()` first fetches presence_client_bg.wasm from
// `new URL("../pkg/web/presence_client_bg.wasm", import.meta.url)`, the asset pattern that
// current bundlers (webpack 5, Turbopack, Vite build, Rsbuild, Parcel) copy and rewrite.
// Where that URL does not deliver wasm (Vite's dev pre-bundling moves the module away
// from the file, esbuild copies no assets, Node cannot fetch a file: URL), it imports
// a base64 copy of the same bytes from a separate module (pkg/web/presence_client_inline.js),
// which bundlers split into a chunk of its own that only such pages download.
import initWasm, { initSync as initWasmSync, PresenceClient as WasmPresenceClient } from "../pkg/web/presence_client.js";
import type { InitInput, InitOutput, SyncInitInput } from "../pkg/web/presence_client.js";

import type { PresenceClientOptions } from "./types.js";
import { resolveUrl } from "./url.js";

export type { InitInput, InitOutput, SyncInitInput };
export { resolveUrl };

/** How the module was instantiated: from its URL, from the inlined copy, or as given. */
export type WasmSource = "url" | "inline" | "given";

let loading: Promise<InitOutput> | null = null;
let output: InitOutput | null = null;
let source: WasmSource | null = null;

/** Whether the WebAssembly module is instantiated (`ready()` has resolved). */
export function isReady(): boolean {
  return output !== null;
}

/** Where the module came from once ready (`url` or `inline`), else null. For tests. */
export function wasmSource(): WasmSource | null {
  return source;
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d]; // "\0asm"

function isWasm(bytes: ArrayBuffer): boolean {
  const head = new Uint8Array(bytes, 0, Math.min(4, bytes.byteLength));
  return head.length === 4 && WASM_MAGIC.every((b, i) => head[i] === b);
}

/** The module from its URL next to the package's files, or null when that fails. */
async function fromUrl(): Promise<InitOutput | null> {
  try {
    const url = new URL("../pkg/web/presence_client_bg.wasm", import.meta.url);
    const response = await fetch(url);
    if (!response.ok) return null;
    if (response.headers.get("content-type")?.split(";")[0]?.trim() === "application/wasm") {
      // Compiled while it downloads.
      return await initWasm({ module_or_path: response });
    }
    // A server that types wasm otherwise, or an HTML page where the file is missing.
    const bytes = await response.arrayBuffer();
    if (!isWasm(bytes)) return null;
    return await initWasm({ module_or_path: bytes });
  } catch {
    // No fetch, a file: URL in Node, a refused request, a module that does not compile.
    return null;
  }
}

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function fromInline(): Promise<InitOutput> {
  const { default: base64 } = await import("../pkg/web/presence_client_inline.js");
  return initWasm({ module_or_path: decodeBase64(base64) });
}

async function load(input: InitInput | Promise<InitInput> | undefined): Promise<InitOutput> {
  if (input !== undefined) {
    source = "given";
    return initWasm({ module_or_path: input });
  }
  const fetched = await fromUrl();
  if (fetched) {
    source = "url";
    return fetched;
  }
  source = "inline";
  return fromInline();
}

/**
 * Instantiates the WebAssembly module, once: every call returns the same promise (a
 * failed load is tried again by the next call). Clients can be created once it has
 * resolved. `<PresenceProvider>` calls it by itself; plain JS awaits it (or uses
 * `createClient`). `input` replaces the packaged module: a URL, a `Response`, bytes or a
 * `WebAssembly.Module`.
 */
export function ready(input?: InitInput | Promise<InitInput>): Promise<InitOutput> {
  if (output) return Promise.resolve(output);
  loading ??= load(input).then(
    (done) => {
      output = done;
      return done;
    },
    (error: unknown) => {
      loading = null;
      source = null;
      throw error;
    },
  );
  return loading;
}

/** Instantiates the module at once from bytes or a `WebAssembly.Module` you have. */
export function readySync(input: SyncInitInput | { module: SyncInitInput }): InitOutput {
  if (output) return output;
  if (loading) {
    // Two instances would each take over the glue: the clients of the first would break.
    throw new Error("presence-client: readySync() while ready() is loading the module: await ready() instead");
  }
  output = initWasmSync(input instanceof Object && "module" in input ? input : { module: input });
  source = "given";
  return output;
}

const NOT_READY =
  "presence-client: the WebAssembly module is not loaded yet: `await ready()` (or use " +
  "`await createClient(options)`) before `new PresenceClient(options)`. " +
  "<PresenceProvider options> does this by itself.";

/**
 * The SDK's client. Create it after `ready()` has resolved (or with `createClient`);
 * before that the constructor throws. The `url` option may be a path, resolved against
 * the page.
 */
export class PresenceClient extends WasmPresenceClient {
  constructor(options: PresenceClientOptions) {
    if (!isReady()) throw new Error(NOT_READY);
    super(typeof options?.url === "string" ? { ...options, url: resolveUrl(options.url) } : options);
  }
}

/** `await ready()`, then a new client (not yet connected: call `connect()`). */
export async function createClient(options: PresenceClientOptions): Promise<PresenceClient> {
  await ready();
  return new PresenceClient(options);
}
