// A framework-free store over one client: keyed subscriptions with stable snapshots (what
// React's useSyncExternalStore, or any other view layer, needs) and reference-counted
// interest in rooms and users, so that many components can share one `join` or `watch`.
import type {
  ConnectionState,
  Me,
  Presence,
  PresenceClientLike,
  PresenceError,
  PresenceErrorCode,
  RoomSnapshot,
} from "./types.js";

type Listener = () => void;
type Unsubscribe = () => void;

/** The room snapshot of a room that is not joined (yet): no members, nobody typing. */
export const EMPTY_ROOM: RoomSnapshot = Object.freeze({
  members: Object.freeze([]) as readonly Presence[],
  count: 0,
  typing: Object.freeze([]) as readonly string[],
});

/** Room and user ids, as the server accepts them. */
const ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Keyed listeners, with the one client listener that feeds them attached while any exists. */
class Channel<K> {
  private readonly byKey = new Map<K, Set<Listener>>();
  private detach: Unsubscribe | null = null;

  constructor(private readonly attach: (notify: (key: K) => void) => Unsubscribe) {}

  subscribe(key: K, listener: Listener): Unsubscribe {
    let set = this.byKey.get(key);
    if (!set) {
      set = new Set();
      this.byKey.set(key, set);
    }
    // A listener passed twice must be unsubscribed as often: wrap it in a fresh one.
    const entry = () => listener();
    set.add(entry);
    if (!this.detach) this.detach = this.attach((k) => this.notify(k));
    return () => {
      const current = this.byKey.get(key);
      if (!current?.delete(entry)) return;
      if (current.size === 0) this.byKey.delete(key);
      if (this.byKey.size === 0 && this.detach) {
        const detach = this.detach;
        this.detach = null;
        detach();
      }
    };
  }

  private notify(key: K): void {
    const set = this.byKey.get(key);
    if (!set) return;
    // A copy: a listener may unsubscribe itself or others while this runs.
    for (const listener of [...set]) listener();
  }

  /** Listeners held now (for tests and leak checks). */
  get size(): number {
    let n = 0;
    for (const set of this.byKey.values()) n += set.size;
    return n;
  }

  get attached(): boolean {
    return this.detach !== null;
  }
}

const ONE = 0; // the key of the channels that have a single topic

/**
 * One per client (see {@link PresenceStore.for}). Every method is safe to call at any
 * time, before the client connects, while it reconnects, and after it was destroyed
 * (then calls do nothing).
 *
 * - `subscribe*` methods register a listener for one topic and return the function
 *   that removes it. The store holds at most one listener per event kind on the
 *   client, and none once its own listeners are all gone.
 * - `connectionState()`, `me()`, `room(id)` and `user(id)` return the client's
 *   snapshots: the same object until something in it changes.
 * - `retainRoom(id)` and `retainUser(id)` count interest: the first one joins (or
 *   watches), and the room is left (or the user unwatched) when the last one is
 *   released. Releases take effect a microtask later, so a release immediately
 *   followed by a retain (React StrictMode's double mount, a re-render with a new
 *   subscription) sends nothing at all. Watches and unwatches made in one tick go out
 *   as one `watch` (the client splits it into frames of at most 100 users).
 */
export class PresenceStore {
  private static readonly stores = new WeakMap<PresenceClientLike, PresenceStore>();

  /** The store of a client: always the same one for the same client. */
  static for(client: PresenceClientLike): PresenceStore {
    let store = PresenceStore.stores.get(client);
    if (!store) {
      store = new PresenceStore(client);
      PresenceStore.stores.set(client, store);
    }
    return store;
  }

  private readonly connection: Channel<number>;
  private readonly meChannel: Channel<number>;
  private readonly rooms: Channel<string>;
  private readonly users: Channel<string>;
  private readonly errors = new Set<(error: PresenceError) => void>();
  private detachErrors: Unsubscribe | null = null;

  private readonly roomRefs = new Map<string, number>();
  private readonly joined = new Set<string>();
  private readonly userRefs = new Map<string, number>();
  private readonly watched = new Set<string>();
  private readonly toWatch = new Set<string>();
  private readonly toUnwatch = new Set<string>();
  private flushQueued = false;

  constructor(readonly client: PresenceClientLike) {
    this.connection = new Channel((notify) => client.on("connection", () => notify(ONE)));
    this.meChannel = new Channel((notify) => client.on("me", () => notify(ONE)));
    this.rooms = new Channel((notify) => client.on("room", (e) => notify(e.room)));
    this.users = new Channel((notify) => client.on("presence", (e) => notify(e.user)));
  }

  // --- subscriptions -----------------------------------------------------------------

  subscribeConnection(listener: Listener): Unsubscribe {
    return this.connection.subscribe(ONE, listener);
  }

  subscribeMe(listener: Listener): Unsubscribe {
    return this.meChannel.subscribe(ONE, listener);
  }

  /** Called when the snapshot of this room changes (members, count or typing). */
  subscribeRoom(roomId: string, listener: Listener): Unsubscribe {
    return this.rooms.subscribe(roomId, listener);
  }

  /** Called when this watched user's presence changes. */
  subscribeUser(userId: string, listener: Listener): Unsubscribe {
    return this.users.subscribe(userId, listener);
  }

  /** Errors from the client (refused joins and watches, token failures…) and from calls made through the store. */
  onError(listener: (error: PresenceError) => void): Unsubscribe {
    const entry = (e: PresenceError) => listener(e);
    this.errors.add(entry);
    if (!this.detachErrors) {
      this.detachErrors = this.client.on("error", (e) => this.reportError(e));
    }
    return () => {
      if (!this.errors.delete(entry)) return;
      if (this.errors.size === 0 && this.detachErrors) {
        const detach = this.detachErrors;
        this.detachErrors = null;
        detach();
      }
    };
  }

  // --- snapshots ---------------------------------------------------------------------

  connectionState(): ConnectionState {
    return this.client.connectionState;
  }

  me(): Me {
    return this.client.me;
  }

  /** The room's snapshot, or null until its state arrives (and when not joined). */
  room(roomId: string): RoomSnapshot | null {
    return this.client.room(roomId);
  }

  /** A watched user's presence, or null until it arrives (and when not watched). */
  user(userId: string): Presence | null {
    return this.client.user(userId);
  }

  // --- interest ----------------------------------------------------------------------

  /** Joins the room unless already joined through the store; returns the release. */
  retainRoom(roomId: string): Unsubscribe {
    if (!this.checkId(roomId, "room")) return noop;
    this.roomRefs.set(roomId, (this.roomRefs.get(roomId) ?? 0) + 1);
    if (!this.joined.has(roomId) && this.call(() => this.client.join(roomId))) {
      this.joined.add(roomId);
    }
    return once(() => {
      const left = (this.roomRefs.get(roomId) ?? 1) - 1;
      if (left > 0) {
        this.roomRefs.set(roomId, left);
        return;
      }
      this.roomRefs.delete(roomId);
      queueMicrotask(() => {
        if (!this.roomRefs.has(roomId) && this.joined.delete(roomId)) {
          this.call(() => this.client.leave(roomId));
        }
      });
    });
  }

  /** Watches the user unless already watched through the store; returns the release. */
  retainUser(userId: string): Unsubscribe {
    if (!this.checkId(userId, "user")) return noop;
    this.userRefs.set(userId, (this.userRefs.get(userId) ?? 0) + 1);
    if (!this.toUnwatch.delete(userId) && !this.watched.has(userId)) {
      this.toWatch.add(userId);
      this.queueFlush();
    }
    return once(() => {
      const left = (this.userRefs.get(userId) ?? 1) - 1;
      if (left > 0) {
        this.userRefs.set(userId, left);
        return;
      }
      this.userRefs.delete(userId);
      if (!this.toWatch.delete(userId) && this.watched.has(userId)) {
        this.toUnwatch.add(userId);
        this.queueFlush();
      }
    });
  }

  /** Rooms joined and users watched through the store now (for tests and leak checks). */
  get interest(): { rooms: string[]; users: string[] } {
    return { rooms: [...this.joined], users: [...this.watched, ...this.toWatch] };
  }

  /** Listeners held now, and how many listeners the store holds on the client. */
  get listenerCounts(): { store: number; client: number } {
    const channels = [this.connection, this.meChannel, this.rooms, this.users];
    return {
      store: channels.reduce((n, c) => n + c.size, 0) + this.errors.size,
      client:
        channels.filter((c) => c.attached).length + (this.detachErrors ? 1 : 0),
    };
  }

  // --- actions -----------------------------------------------------------------------

  /**
   * Runs a call on the client; an error it throws goes to the `onError` listeners (to
   * the console when there is none) instead of up the stack. Returns whether it went
   * through. A destroyed client's calls are dropped silently.
   */
  call(fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (e) {
      if ((e as { code?: unknown })?.code === "destroyed") return false;
      this.reportError(e as PresenceError);
      return false;
    }
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      const unwatch = [...this.toUnwatch];
      const watch = [...this.toWatch];
      this.toUnwatch.clear();
      this.toWatch.clear();
      if (unwatch.length > 0) {
        unwatch.forEach((u) => this.watched.delete(u));
        this.call(() => this.client.unwatch(unwatch));
      }
      if (watch.length > 0 && this.call(() => this.client.watch(watch))) {
        watch.forEach((u) => this.watched.add(u));
      }
    });
  }

  private checkId(id: string, what: "room" | "user"): boolean {
    if (ID.test(id)) return true;
    this.reportError(
      presenceError("invalid_argument", `invalid ${what} id ${JSON.stringify(id)}: 1–128 of [A-Za-z0-9._:@-]`),
    );
    return false;
  }

  private reportError(error: PresenceError): void {
    if (this.errors.size === 0) {
      console.error("presence-client:", error);
      return;
    }
    for (const listener of [...this.errors]) listener(error);
  }
}

function noop(): void {}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

function presenceError(code: PresenceErrorCode, message: string): PresenceError {
  return Object.assign(new Error(message), { code }) as PresenceError;
}
