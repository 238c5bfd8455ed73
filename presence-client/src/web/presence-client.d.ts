/** The connection as the app sees it. */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

/** The status others see. */
export type Status = "online" | "away" | "busy" | "offline";

/** The status a user chooses; it applies to all their devices. */
export type ChosenStatus = "online" | "away" | "busy" | "invisible";

/** How others see this user's last seen. */
export type LastSeenPrivacy = "exact" | "approximate" | "hidden";

/** The coarse last seen shown under `approximate` privacy. */
export type LastSeenApprox = "recently" | "week" | "month" | "long_ago";

/** This device's idle detection result. */
export type Activity = "active" | "idle";

/** A custom status. At least one of `text` (≤ 128 chars) and `emoji` (≤ 16 chars). */
export interface CustomStatus {
  text?: string;
  emoji?: string;
  /** When it disappears by itself (epoch ms). */
  expires_at?: number;
}

/** A user's presence, exactly as the wire protocol shows it. */
export interface Presence {
  readonly user: string;
  readonly name: string;
  readonly status: Status;
  /** When `status` took its current value (epoch ms). */
  readonly since: number;
  readonly custom: CustomStatus | null;
  /** When the user was last online (epoch ms); null while online or unless privacy is `exact`. */
  readonly last_seen: number | null;
  readonly last_seen_approx: LastSeenApprox | null;
  /** Live sessions (0 when offline). */
  readonly devices: number;
}

/** A joined room. The same object is returned until something in it changes. */
export interface RoomSnapshot {
  /** Members, sorted by user id. In a room over 1,000 members only the first 100. */
  readonly members: readonly Presence[];
  readonly count: number;
  /** Ids of the members typing now (never this client's own user). */
  readonly typing: readonly string[];
}

/** This client's own presence as it chose it. */
export interface Me {
  /** Who the server says this is; null before the first connection. */
  readonly user: { readonly id: string; readonly name: string } | null;
  readonly status: ChosenStatus;
  readonly custom: CustomStatus | null;
  readonly privacy: LastSeenPrivacy;
  readonly activity: Activity;
}

export type PresenceErrorCode =
  // from the server
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "not_joined"
  | "rate_limited"
  | "too_many"
  | "internal"
  | "busy"
  | "unknown"
  // from the client
  | "invalid_argument"
  | "destroyed"
  | "token_failed";

/** Every error the client throws or emits is an `Error` with a `code`. */
export interface PresenceError extends Error {
  readonly code: PresenceErrorCode;
  /** The room of a refused `join`. */
  readonly room?: string;
  /** The users of a refused `watch`. */
  readonly users?: string[];
}

export interface PresenceClientOptions {
  /** The server's WebSocket URL, e.g. `wss://presence.example.com/v1/ws`. */
  url: string;
  /** A token from your backend. Give this, `getToken`, or both. */
  token?: string;
  /** Called for a token when there is none and whenever the server refuses one (close 4401). */
  getToken?: () => string | Promise<string>;
  /** A label for this device (web, desktop…), at most 32 characters. */
  device?: string;
  /** Idle after this long without input. Default 300000 (5 min). */
  idleAfterMs?: number;
  /** Idle once the page has been hidden this long. Default 60000. */
  hiddenIdleMs?: number;
  /** `typing: false` after this long without input. Default 1500. */
  typingStopMs?: number;
  /** Reconnect when no pong (or no welcome) comes within this. Default 10000. */
  pongTimeoutMs?: number;
  /** First reconnect window (full jitter). Default 1000. */
  backoffBaseMs?: number;
  /** Largest reconnect window. Default 30000. */
  backoffMaxMs?: number;
  /** A connection that lived this long resets the backoff. Default 10000. */
  stableAfterMs?: number;
}

/** What each event passes to its listeners. */
export interface PresenceEvents {
  connection: { readonly state: ConnectionState };
  /** A room snapshot changed; `snapshot` is null once the room is left or refused. */
  room: { readonly room: string; readonly snapshot: RoomSnapshot | null };
  /** A watched user's presence changed; null once unwatched or refused. */
  presence: { readonly user: string; readonly presence: Presence | null };
  typing: { readonly room: string; readonly user: string; readonly typing: boolean };
  /** This client's own presence (`me`) changed. */
  me: Me;
  error: PresenceError;
}

/**
 * The presence client. Every method may be called before `connect()` or while
 * reconnecting: the client applies (and after every reconnect re-applies) what was asked.
 */
export class PresenceClient {
  /** @throws PresenceError `invalid_argument` for a bad option. */
  constructor(options: PresenceClientOptions);
  /** Connects and stays connected (reconnecting with backoff) until `destroy()`. */
  connect(): void;
  /** Stops typing, leaves every room, closes the socket, removes every listener and timer. */
  destroy(): void;
  setStatus(status: ChosenStatus): void;
  /** `null` clears it. */
  setCustomStatus(custom: CustomStatus | null): void;
  setPrivacy(lastSeen: LastSeenPrivacy): void;
  join(roomId: string): void;
  leave(roomId: string): void;
  watch(userIds: string | string[]): void;
  unwatch(userIds: string | string[]): void;
  /** Call on every input event of a message box; the client debounces. */
  typing(roomId: string): void;
  /** Call when the message is sent. */
  stopTyping(roomId: string): void;
  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof PresenceEvents>(event: K, listener: (payload: PresenceEvents[K]) => void): () => void;
  readonly connectionState: ConnectionState;
  /** The joined room, or null. The same object until it changes. */
  room(roomId: string): RoomSnapshot | null;
  /** A watched user's presence, or null. The same object until it changes. */
  user(userId: string): Presence | null;
  /** The same object until it changes. */
  readonly me: Me;
  /** Frees the wasm memory (also what `destroy()` leaves behind). */
  free(): void;
}
