// A test double of PresenceClient with the same public surface (PresenceClientLike): it
// keeps frozen snapshots (the same object until changed, as the real client does),
// records every call, and lets a test play the server's part.
import type {
  ChosenStatus,
  ConnectionState,
  CustomStatus,
  LastSeenPrivacy,
  Me,
  Presence,
  PresenceClientLike,
  PresenceError,
  PresenceEvents,
  RoomSnapshot,
} from "../src/types.js";

type AnyListener = (payload: never) => void;

export function presence(user: string, patch: Partial<Presence> = {}): Presence {
  return Object.freeze({
    user,
    name: user[0]!.toUpperCase() + user.slice(1),
    status: "online",
    since: 1_000,
    custom: null,
    last_seen: null,
    last_seen_approx: null,
    devices: 1,
    ...patch,
  });
}

export class FakeClient implements PresenceClientLike {
  static instances: FakeClient[] = [];

  readonly calls: string[] = [];
  private readonly listeners = new Map<keyof PresenceEvents, Set<AnyListener>>();
  private readonly rooms = new Map<string, RoomSnapshot>();
  private readonly users = new Map<string, Presence>();
  private joined = new Set<string>();
  private watched = new Set<string>();
  private state: ConnectionState = "closed";
  private meSnapshot: Me = Object.freeze({
    user: { id: "me", name: "Me" },
    status: "online",
    custom: null,
    privacy: "exact",
    activity: "active",
  });
  destroyed = false;

  constructor(readonly options: unknown = {}) {
    FakeClient.instances.push(this);
  }

  // --- the client's surface -------------------------------------------------------------

  connect(): void {
    this.check();
    this.calls.push("connect");
  }
  destroy(): void {
    if (this.destroyed) return;
    this.calls.push("destroy");
    this.destroyed = true;
    this.listeners.clear();
  }
  setStatus(status: ChosenStatus): void {
    this.check();
    this.calls.push(`setStatus ${status}`);
    this.setMe({ status });
  }
  setCustomStatus(custom: CustomStatus | null): void {
    this.check();
    this.calls.push(`setCustomStatus ${JSON.stringify(custom)}`);
    this.setMe({ custom });
  }
  setPrivacy(privacy: LastSeenPrivacy): void {
    this.check();
    this.calls.push(`setPrivacy ${privacy}`);
    this.setMe({ privacy });
  }
  join(room: string): void {
    this.check();
    this.calls.push(`join ${room}`);
    this.joined.add(room);
  }
  leave(room: string): void {
    this.check();
    this.calls.push(`leave ${room}`);
    this.joined.delete(room);
    if (this.rooms.delete(room)) this.emit("room", { room, snapshot: null });
  }
  watch(users: string | string[]): void {
    this.check();
    const list = typeof users === "string" ? [users] : users;
    this.calls.push(`watch ${list.join(",")}`);
    list.forEach((u) => this.watched.add(u));
  }
  unwatch(users: string | string[]): void {
    this.check();
    const list = typeof users === "string" ? [users] : users;
    this.calls.push(`unwatch ${list.join(",")}`);
    for (const u of list) {
      this.watched.delete(u);
      if (this.users.delete(u)) this.emit("presence", { user: u, presence: null });
    }
  }
  typing(room: string): void {
    this.check();
    this.calls.push(`typing ${room}`);
  }
  stopTyping(room: string): void {
    this.check();
    this.calls.push(`stopTyping ${room}`);
  }
  on<K extends keyof PresenceEvents>(event: K, listener: (payload: PresenceEvents[K]) => void): () => void {
    // Like the real client: a destroyed client takes the listener and never calls it.
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    const entry = listener as AnyListener;
    set.add(entry);
    return () => {
      this.listeners.get(event)?.delete(entry);
    };
  }
  get connectionState(): ConnectionState {
    return this.state;
  }
  room(roomId: string): RoomSnapshot | null {
    return this.rooms.get(roomId) ?? null;
  }
  user(userId: string): Presence | null {
    return this.users.get(userId) ?? null;
  }
  get me(): Me {
    return this.meSnapshot;
  }

  // --- the server's part -----------------------------------------------------------------

  isJoined(room: string): boolean {
    return this.joined.has(room);
  }
  isWatched(user: string): boolean {
    return this.watched.has(user);
  }
  listenerCount(event?: keyof PresenceEvents): number {
    if (event) return this.listeners.get(event)?.size ?? 0;
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
  setState(state: ConnectionState): void {
    this.state = state;
    this.emit("connection", { state });
  }
  setRoom(room: string, members: Presence[], typing: string[] = []): RoomSnapshot {
    const snapshot: RoomSnapshot = Object.freeze({
      members: Object.freeze([...members].sort((a, b) => (a.user < b.user ? -1 : 1))),
      count: members.length,
      typing: Object.freeze([...typing]),
    });
    this.rooms.set(room, snapshot);
    this.emit("room", { room, snapshot });
    return snapshot;
  }
  setTyping(room: string, user: string, typing: boolean): void {
    const current = this.rooms.get(room);
    if (!current) throw new Error(`no room ${room}`);
    const ids = current.typing.filter((u) => u !== user);
    if (typing) ids.push(user);
    this.setRoom(room, [...current.members], ids);
    this.emit("typing", { room, user, typing });
  }
  setUser(p: Presence): void {
    this.users.set(p.user, p);
    this.emit("presence", { user: p.user, presence: p });
  }
  setMe(patch: Partial<Me>): void {
    this.meSnapshot = Object.freeze({ ...this.meSnapshot, ...patch });
    this.emit("me", this.meSnapshot);
  }
  fail(error: PresenceError): void {
    this.emit("error", error);
  }

  emit<K extends keyof PresenceEvents>(event: K, payload: PresenceEvents[K]): void {
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      (listener as (p: PresenceEvents[K]) => void)(payload);
    }
  }

  private check(): void {
    if (this.destroyed) {
      throw Object.assign(new Error("the client was destroyed"), { code: "destroyed" });
    }
  }
}

/**
 * A stand-in for the module of one wasm build (`vi.mock("../pkg/…/presence_client.js")`)
 * whose PresenceClient is a FakeClient that knows its build; `loaded` records when the
 * module is loaded (`"web"`) and when its init function instantiates it (`"web init"`).
 */
export function fakeBuild(
  build: "bundler" | "web",
  loaded: string[],
): { default: () => Promise<object>; initSync: () => object; PresenceClient: typeof FakeClient } {
  loaded.push(build);
  return {
    default: async () => {
      loaded.push(`${build} init`);
      return {};
    },
    initSync: () => {
      loaded.push(`${build} initSync`);
      return {};
    },
    PresenceClient: class extends FakeClient {
      readonly build = build;
    },
  };
}
