// The SDK's types, from the declarations that ship with the wasm build (written by hand
// in presence-client/src/web/presence-client.d.ts). Both wasm-pack targets carry the
// same ones; the web target's are used here, as types only, so nothing in this layer
// loads either build.
import type { PresenceClient } from "../pkg/web/presence_client.js";

export type {
  Activity,
  ChosenStatus,
  ConnectionState,
  CustomStatus,
  LastSeenApprox,
  LastSeenPrivacy,
  Me,
  Presence,
  PresenceClientOptions,
  PresenceError,
  PresenceErrorCode,
  PresenceEvents,
  RoomSnapshot,
  Status,
} from "../pkg/web/presence_client.js";

/**
 * What the store and the React hooks use of a client: the public surface of
 * `PresenceClient`, from either build (`presence-client` or `presence-client/web`), or
 * a test double with the same shape.
 */
export type PresenceClientLike = Pick<
  PresenceClient,
  | "connect"
  | "destroy"
  | "setStatus"
  | "setCustomStatus"
  | "setPrivacy"
  | "join"
  | "leave"
  | "watch"
  | "unwatch"
  | "typing"
  | "stopTyping"
  | "on"
  | "connectionState"
  | "room"
  | "user"
  | "me"
>;
