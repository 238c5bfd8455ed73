// What every entry point exports besides its client: the framework-free store, the text
// helpers, the selector equality helpers and the SDK's types. One list, re-exported by
// index.ts, web.ts and react.ts.
export { PresenceStore, EMPTY_ROOM } from "./store.js";
export { formatLastSeen, typingText } from "./format.js";
export { sameMembers, samePresence, shallowEqualArrays } from "./compare.js";
export type { FormatLastSeenOptions, TypingTextOptions } from "./format.js";
export type * from "./types.js";
