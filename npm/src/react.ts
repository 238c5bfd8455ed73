"use client";
// presence-client/react: React bindings. The directive above keeps this module, which
// uses state and effects, out of React Server Components: a server component renders
// <PresenceProvider> as a client component. On the server (SSR) the hooks render the
// state before any client exists ("connecting", EMPTY_ROOM), the same as the first
// render in the browser, so hydration matches.
//
//   <PresenceProvider options={{ url, getToken }}>   (or client={client})
//     const { members, count, typing } = useRoom("team.general");
//     const { typingUsers, onInput, onSubmit } = useTyping("team.general");
//     const bob = usePresence("bob");
//     const { status, setStatus } = useMyStatus();
//     const state = useConnectionState();
//
// The client of `<PresenceProvider options>` is created in an effect once the
// WebAssembly module is ready (`ready()`, which the provider calls: importing this entry
// loads no wasm), from the default build, or from "presence-client/bundler" when the app
// imported that.
//
// Every hook reads through useSyncExternalStore with a subscribe and a getSnapshot that
// stay the same function from one render to the next, over the client's snapshots (the
// same object until something changes). Subscriptions are keyed: a component re-renders
// when its room, its user or the slice its selector picks changed, not on every event.
// Interest is counted per client (PresenceStore): ten components showing one room make
// one `join`, and the last one to unmount makes the `leave`.
import {
  createContext,
  createElement,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";

import { useSyncExternalStoreWithSelector } from "use-sync-external-store/with-selector";

import { boundClientClass, type PresenceClientClass } from "./client.js";
import { shallowEqualArrays } from "./compare.js";
import { EMPTY_ROOM, PresenceStore } from "./store.js";
import { isReady, PresenceClient, ready } from "./wasm.js";
import type {
  ChosenStatus,
  ConnectionState,
  CustomStatus,
  LastSeenPrivacy,
  Me,
  Presence,
  PresenceClientLike,
  PresenceClientOptions,
  PresenceError,
  RoomSnapshot,
} from "./types.js";

export * from "./shared.js";
export { PresenceClient, createClient, isReady, ready, resolveUrl } from "./wasm.js";

/** undefined: no provider above; null: a provider whose client does not exist yet. */
const StoreContext = createContext<PresenceStore | null | undefined>(undefined);

export interface PresenceProviderProps {
  /**
   * A client you created and own: the provider neither connects nor destroys it.
   * Give this or `options`.
   */
  client?: PresenceClientLike;
  /**
   * Options for a client the provider creates, connects, and destroys on unmount. Read
   * when the client is created; a change of `url`, `device` or a timing option creates
   * a new client. `getToken` may change freely (the latest one is called).
   */
  options?: PresenceClientOptions;
  /** Errors: refused joins and watches, token failures, invalid ids given to hooks. */
  onError?: (error: PresenceError) => void;
  children?: ReactNode;
}

/** Makes a client available to the hooks below it. */
export function PresenceProvider(props: PresenceProviderProps): ReactNode {
  const { client, options, onError, children } = props;
  if (!client && !options) {
    throw new Error("<PresenceProvider> needs a `client` or `options`");
  }
  const owned = useOwnedClient(client ? undefined : options);
  const active = client ?? owned;
  const store = useMemo(() => (active ? PresenceStore.for(active) : null), [active]);

  const onErrorRef = useRef(onError);
  useEffect(() => {
    onErrorRef.current = onError;
  });
  const hasOnError = onError !== undefined;
  useEffect(() => {
    if (!store || !hasOnError) return undefined;
    return store.onError((e) => onErrorRef.current?.(e));
  }, [store, hasOnError]);

  return createElement(StoreContext.Provider, { value: store }, children);
}

/** The options that decide which client to create (not the token or getToken). */
function optionsKey(options: PresenceClientOptions): string {
  const { url, device, idleAfterMs, hiddenIdleMs, typingStopMs, pongTimeoutMs } = options;
  const { backoffBaseMs, backoffMaxMs, stableAfterMs } = options;
  return JSON.stringify([
    url,
    device,
    idleAfterMs,
    hiddenIdleMs,
    typingStopMs,
    pongTimeoutMs,
    backoffBaseMs,
    backoffMaxMs,
    stableAfterMs,
    typeof options.getToken === "function",
  ]);
}

/**
 * The class a provider creates its client from: the one bound by
 * "presence-client/bundler" when the app imported it, else the default build's, at once
 * when its module is ready, or once `ready()` has resolved.
 */
function clientClass(): PresenceClientClass | Promise<PresenceClientClass> {
  const bound = boundClientClass();
  if (bound) return bound;
  if (isReady()) return PresenceClient;
  return ready().then(() => PresenceClient);
}

interface Held {
  key: string;
  /** null while the WebAssembly module loads. */
  client: PresenceClientLike | null;
  mounted: boolean;
}

/**
 * Creates the client in an effect (never during render, which React may repeat or
 * throw away), connects it a microtask later and destroys it a microtask after the
 * unmount. StrictMode's mount → unmount → mount happens within one task, so it keeps
 * the same client: one client, one connection, no listener left behind. When the
 * WebAssembly module has to be loaded first, the client is created once it is, unless
 * the provider was unmounted (or its key changed) in the meantime.
 */
function useOwnedClient(options: PresenceClientOptions | undefined): PresenceClientLike | null {
  const [client, setClient] = useState<PresenceClientLike | null>(null);
  const optionsRef = useRef(options);
  useEffect(() => {
    optionsRef.current = options;
  });
  const held = useRef<Held | null>(null);
  const key = options ? optionsKey(options) : null;

  useEffect(() => {
    if (key === null) {
      setClient(null);
      return undefined;
    }
    let h = held.current;
    if (h && h.key === key) {
      h.mounted = true;
    } else {
      const fresh: Held = { key, client: null, mounted: true };
      h = held.current = fresh;
      const create = (Client: PresenceClientClass): PresenceClientLike => {
        // The options of the latest render (the effect above has run): this key's.
        const current = optionsRef.current!;
        const created = new Client({
          ...current,
          getToken: current.getToken
            ? () => (optionsRef.current?.getToken ?? current.getToken!)()
            : undefined,
        });
        fresh.client = created;
        queueMicrotask(() => {
          if (fresh.mounted) created.connect();
        });
        return created;
      };
      const found = clientClass();
      if (typeof found === "function") {
        create(found);
      } else {
        found.then(
          (loaded) => {
            if (fresh.mounted) setClient(create(loaded));
          },
          // To the nearest error boundary, as a failed import of this module would.
          (error: unknown) =>
            setClient(() => {
              throw error;
            }),
        );
      }
    }
    const mine = h;
    setClient(mine.client);
    return () => {
      mine.mounted = false;
      queueMicrotask(() => {
        if (mine.mounted) return; // mounted again (StrictMode): keep it
        if (held.current === mine) held.current = null;
        mine.client?.destroy();
      });
    };
    // `options` is read through the ref: only the key decides.
  }, [key]);

  return client;
}

function useStore(hook: string): PresenceStore | null {
  const store = useContext(StoreContext);
  if (store === undefined) {
    throw new Error(`${hook}() must be used inside <PresenceProvider>`);
  }
  return store;
}

/** The store of the provider's client (null until the client exists). */
export function usePresenceStore(): PresenceStore | null {
  return useStore("usePresenceStore");
}

/** The provider's client (null until it exists), for calls the hooks do not cover. */
export function usePresenceClient(): PresenceClientLike | null {
  return useStore("usePresenceClient")?.client ?? null;
}

// --- subscriptions with selectors -------------------------------------------------------

type Subscribe = (onChange: () => void) => () => void;

const noopSubscribe: Subscribe = () => () => {};

// The server snapshots (SSR, and the hydrating render in the browser): the state before
// any client exists, the same object every time, so the server's HTML and the first
// render in the browser agree.
const emptyRoom = (): RoomSnapshot => EMPTY_ROOM;
const nobodySeen = (): Presence | null => null;
const notConnectedYet = (): ConnectionState => "connecting";
const identity = <T>(x: T): T => x;

// Selections go through React's useSyncExternalStoreWithSelector: the selector runs
// again only when the snapshot changed, and a selection equal (by `isEqual`) to the
// previous one is returned as the previous object, so the component does not re-render.

function useRoomSnapshot<T>(
  hook: string,
  roomId: string | null | undefined,
  selector: (room: RoomSnapshot) => T,
  isEqual?: (a: T, b: T) => boolean,
): [T, PresenceStore | null] {
  const store = useStore(hook);
  useEffect(
    () => (store && roomId ? store.retainRoom(roomId) : undefined),
    [store, roomId],
  );
  const subscribe = useCallback<Subscribe>(
    (onChange) => (store && roomId ? store.subscribeRoom(roomId, onChange) : noopSubscribe(onChange)),
    [store, roomId],
  );
  const getSnapshot = useCallback(
    () => (store && roomId ? (store.room(roomId) ?? EMPTY_ROOM) : EMPTY_ROOM),
    [store, roomId],
  );
  const selection = useSyncExternalStoreWithSelector(subscribe, getSnapshot, emptyRoom, selector, isEqual);
  return [selection, store];
}

// --- hooks --------------------------------------------------------------------------------

/**
 * Joins the room while the component is mounted and returns its snapshot
 * `{members, count, typing}` (`EMPTY_ROOM` until the state arrives). `members` are the
 * visible members sorted by user id (the first 100 in a room over 1,000); `typing` the
 * ids of those typing, never your own.
 *
 * With a selector, the component re-renders only when the selection changes (by
 * `isEqual`, default `Object.is`):
 *
 * ```ts
 * const count = useRoom("team.general", (room) => room.count);
 * const ids = useRoom("team.general", (r) => r.members.map((m) => m.user), shallowEqualArrays);
 * ```
 *
 * `null` or `undefined` joins nothing and gives `EMPTY_ROOM`.
 */
export function useRoom(roomId: string | null | undefined): RoomSnapshot;
export function useRoom<T>(
  roomId: string | null | undefined,
  selector: (room: RoomSnapshot) => T,
  isEqual?: (a: T, b: T) => boolean,
): T;
export function useRoom<T>(
  roomId: string | null | undefined,
  selector?: (room: RoomSnapshot) => T,
  isEqual?: (a: T, b: T) => boolean,
): T | RoomSnapshot {
  return useRoomSnapshot<T | RoomSnapshot>(
    "useRoom",
    roomId,
    (selector ?? identity) as (room: RoomSnapshot) => T | RoomSnapshot,
    isEqual as ((a: T | RoomSnapshot, b: T | RoomSnapshot) => boolean) | undefined,
  )[0];
}

/** A user typing in a room. */
export interface TypingUser {
  readonly id: string;
  /** Their display name (the id when they are not in the member list). */
  readonly name: string;
}

export interface TypingState {
  /** Who is typing in the room now, never you; the same array until it changes. */
  readonly typingUsers: readonly TypingUser[];
  /** Call on every input event of the message box (the client debounces). */
  readonly onInput: (event?: unknown) => void;
  /** Call when the message is sent: `typing: false` at once. */
  readonly onSubmit: (event?: unknown) => void;
}

const NOBODY: readonly TypingUser[] = Object.freeze([]);

function selectTypingUsers(room: RoomSnapshot): readonly TypingUser[] {
  if (room.typing.length === 0) return NOBODY;
  return room.typing.map((id) => ({
    id,
    name: room.members.find((m) => m.user === id)?.name || id,
  }));
}

function sameTypingUsers(a: readonly TypingUser[], b: readonly TypingUser[]): boolean {
  return shallowEqualArrays(a, b, (x, y) => x.id === y.id && x.name === y.name);
}

/**
 * The typing indicator of a room, both ways: who else is typing (a component using it
 * re-renders only when that changes, not on member updates), and the two callbacks for
 * your message box. Joins the room while mounted; typing stops on unmount.
 *
 * ```tsx
 * const { typingUsers, onInput, onSubmit } = useTyping(roomId);
 * <textarea onInput={onInput} /> <p>{typingText(typingUsers)}</p>
 * ```
 */
export function useTyping(roomId: string | null | undefined): TypingState {
  const [typingUsers, store] = useRoomSnapshot("useTyping", roomId, selectTypingUsers, sameTypingUsers);
  const onInput = useCallback(() => {
    if (store && roomId) store.call(() => store.client.typing(roomId));
  }, [store, roomId]);
  const onSubmit = useCallback(() => {
    if (store && roomId) store.call(() => store.client.stopTyping(roomId));
  }, [store, roomId]);
  useEffect(
    () => () => {
      if (store && roomId) store.call(() => store.client.stopTyping(roomId));
    },
    [store, roomId],
  );
  return useMemo(() => ({ typingUsers, onInput, onSubmit }), [typingUsers, onInput, onSubmit]);
}

/**
 * Watches a user while the component is mounted and returns their presence (`null`
 * until it arrives). With a selector, re-renders only when the selection changes:
 * `usePresence("bob", (p) => p?.status ?? "offline")`.
 */
export function usePresence(userId: string | null | undefined): Presence | null;
export function usePresence<T>(
  userId: string | null | undefined,
  selector: (presence: Presence | null) => T,
  isEqual?: (a: T, b: T) => boolean,
): T;
export function usePresence<T>(
  userId: string | null | undefined,
  selector?: (presence: Presence | null) => T,
  isEqual?: (a: T, b: T) => boolean,
): T | Presence | null {
  const store = useStore("usePresence");
  useEffect(
    () => (store && userId ? store.retainUser(userId) : undefined),
    [store, userId],
  );
  const subscribe = useCallback<Subscribe>(
    (onChange) => (store && userId ? store.subscribeUser(userId, onChange) : noopSubscribe(onChange)),
    [store, userId],
  );
  const getSnapshot = useCallback(
    () => (store && userId ? store.user(userId) : null),
    [store, userId],
  );
  return useSyncExternalStoreWithSelector<Presence | null, T | Presence | null>(
    subscribe,
    getSnapshot,
    nobodySeen,
    (selector ?? identity) as (p: Presence | null) => T | Presence | null,
    isEqual as ((a: T | Presence | null, b: T | Presence | null) => boolean) | undefined,
  );
}

export interface MyStatus extends Me {
  /** online, away, busy or invisible (others then see you offline). */
  readonly setStatus: (status: ChosenStatus) => void;
  /** `{text?, emoji?, expires_at?}`, or null to clear it. */
  readonly setCustomStatus: (custom: CustomStatus | null) => void;
  /** How others see your last seen: exact, approximate or hidden. */
  readonly setPrivacy: (privacy: LastSeenPrivacy) => void;
}

/** What `me` is before the client exists. */
const NOBODY_YET: Me = Object.freeze({
  user: null,
  status: "online",
  custom: null,
  privacy: "exact",
  activity: "active",
});

const nobodyYet = (): Me => NOBODY_YET;

/**
 * Your own presence as you chose it (`user`, `status`, `custom`, `privacy`, and this
 * device's `activity`), with its setters. Kept by the client across reconnects.
 */
export function useMyStatus(): MyStatus {
  const store = useStore("useMyStatus");
  const subscribe = useCallback<Subscribe>(
    (onChange) => (store ? store.subscribeMe(onChange) : noopSubscribe(onChange)),
    [store],
  );
  const getSnapshot = useCallback(() => (store ? store.me() : NOBODY_YET), [store]);
  const me = useSyncExternalStore(subscribe, getSnapshot, nobodyYet);
  // The setters stay the same functions while the client does.
  const setters = useMemo(
    () => ({
      setStatus: (status: ChosenStatus) => {
        store?.call(() => store.client.setStatus(status));
      },
      setCustomStatus: (custom: CustomStatus | null) => {
        store?.call(() => store.client.setCustomStatus(custom));
      },
      setPrivacy: (privacy: LastSeenPrivacy) => {
        store?.call(() => store.client.setPrivacy(privacy));
      },
    }),
    [store],
  );
  return useMemo(() => ({ ...me, ...setters }), [me, setters]);
}

/**
 * The connection: `connecting`, `open`, `reconnecting` or `closed` (`connecting` while
 * a provider's own client is being created).
 */
export function useConnectionState(): ConnectionState {
  const store = useStore("useConnectionState");
  const subscribe = useCallback<Subscribe>(
    (onChange) => (store ? store.subscribeConnection(onChange) : noopSubscribe(onChange)),
    [store],
  );
  const getSnapshot = useCallback(
    (): ConnectionState => (store ? store.connectionState() : "connecting"),
    [store],
  );
  return useSyncExternalStore(subscribe, getSnapshot, notConnectedYet);
}
