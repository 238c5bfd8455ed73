// The React hooks against FakeClient (a double with PresenceClient's surface): what they
// return, what they send, how often components render, and that nothing leaks.
import { act, cleanup, render, renderHook } from "@testing-library/react";
import { StrictMode, useState, type ReactNode } from "react";
import { afterEach, describe, expect, it } from "vitest";

import {
  EMPTY_ROOM,
  PresenceProvider,
  PresenceStore,
  shallowEqualArrays,
  typingText,
  useConnectionState,
  useMyStatus,
  usePresence,
  useRoom,
  useTyping,
} from "../src/react.js";
import { FakeClient, presence } from "./fake-client.js";

afterEach(cleanup);

/** Lets the store's microtasks (batched watches, deferred leaves) run. */
const flush = () => act(async () => {});

function wrapperFor(client: FakeClient, strict = false) {
  return ({ children }: { children: ReactNode }) => {
    const tree = <PresenceProvider client={client}>{children}</PresenceProvider>;
    return strict ? <StrictMode>{tree}</StrictMode> : tree;
  };
}

describe("useRoom", () => {
  it("joins the room and returns its snapshot, the same object until it changes", async () => {
    const client = new FakeClient();
    const { result } = renderHook(() => useRoom("team.general"), { wrapper: wrapperFor(client) });
    expect(result.current).toBe(EMPTY_ROOM);
    expect(client.calls).toEqual(["join team.general"]);
    let snapshot = EMPTY_ROOM;
    act(() => {
      snapshot = client.setRoom("team.general", [presence("alice"), presence("bob")], ["bob"]);
    });
    expect(result.current).toBe(snapshot);
    expect(result.current.count).toBe(2);
    expect(result.current.typing).toEqual(["bob"]);
  });

  it("leaves when the last component showing the room unmounts", async () => {
    const client = new FakeClient();
    function Two({ show }: { show: number }) {
      return (
        <>
          {show > 0 && <Count id="r" />}
          {show > 1 && <Count id="r" />}
        </>
      );
    }
    function Count({ id }: { id: string }) {
      return <span>{useRoom(id).count}</span>;
    }
    const { rerender, unmount } = render(<Two show={2} />, { wrapper: wrapperFor(client) });
    expect(client.calls).toEqual(["join r"]);
    rerender(<Two show={1} />);
    await flush();
    expect(client.calls).toEqual(["join r"]);
    rerender(<Two show={0} />);
    await flush();
    expect(client.calls).toEqual(["join r", "leave r"]);
    unmount();
  });

  it("switches rooms: joins the new one, leaves the old one", async () => {
    const client = new FakeClient();
    const { rerender } = renderHook(({ id }) => useRoom(id), {
      wrapper: wrapperFor(client),
      initialProps: { id: "a" },
    });
    rerender({ id: "b" });
    await flush();
    expect(client.calls).toEqual(["join a", "join b", "leave a"]);
  });

  it("re-renders a component only when its own room changes", () => {
    const client = new FakeClient();
    let renders = 0;
    function Room() {
      renders += 1;
      return <span>{useRoom("a").count}</span>;
    }
    render(<Room />, { wrapper: wrapperFor(client) });
    const before = renders;
    act(() => {
      client.setRoom("b", [presence("alice")]);
      client.setUser(presence("bob"));
      client.setState("open");
      client.setMe({ activity: "idle" });
    });
    expect(renders).toBe(before);
    act(() => void client.setRoom("a", [presence("alice")]));
    expect(renders).toBe(before + 1);
  });

  it("with a selector, re-renders only when the selection changes", () => {
    const client = new FakeClient();
    let renders = 0;
    function Ids() {
      renders += 1;
      const ids = useRoom("a", (r) => r.members.map((m) => m.user), shallowEqualArrays);
      return <span>{ids.join(",")}</span>;
    }
    const { container } = render(<Ids />, { wrapper: wrapperFor(client) });
    act(() => void client.setRoom("a", [presence("alice"), presence("bob")]));
    const after = renders;
    expect(container.textContent).toBe("alice,bob");
    // Typing and status changes make new snapshots with the same ids.
    act(() => {
      client.setTyping("a", "bob", true);
      client.setRoom("a", [presence("alice", { status: "away" }), presence("bob")], ["bob"]);
    });
    expect(renders).toBe(after);
    act(() => void client.setRoom("a", [presence("alice")]));
    expect(renders).toBe(after + 1);
    expect(container.textContent).toBe("alice");
  });

  it("joins nothing for a null room", () => {
    const client = new FakeClient();
    const { result } = renderHook(() => useRoom(null), { wrapper: wrapperFor(client) });
    expect(result.current).toBe(EMPTY_ROOM);
    expect(client.calls).toEqual([]);
  });

  it("throws outside a provider", () => {
    expect(() => renderHook(() => useRoom("a"))).toThrow(/inside <PresenceProvider>/);
  });
});

describe("useTyping", () => {
  it("names who is typing and sends typing through onInput and onSubmit", () => {
    const client = new FakeClient();
    const { result } = renderHook(() => useTyping("a"), { wrapper: wrapperFor(client) });
    expect(result.current.typingUsers).toEqual([]);
    act(() => {
      client.setRoom("a", [presence("alice"), presence("bob", { name: "Bobby" })]);
      client.setTyping("a", "bob", true);
      client.setTyping("a", "carol", true); // not (yet) in the member list
    });
    expect(result.current.typingUsers).toEqual([
      { id: "bob", name: "Bobby" },
      { id: "carol", name: "carol" },
    ]);
    expect(typingText(result.current.typingUsers, { locale: "en" })).toBe("Bobby and carol are typing…");
    result.current.onInput();
    result.current.onInput({ type: "input" });
    result.current.onSubmit();
    expect(client.calls).toEqual(["join a", "typing a", "typing a", "stopTyping a"]);
  });

  it("keeps typingUsers and the callbacks the same objects across unrelated changes", () => {
    const client = new FakeClient();
    let renders = 0;
    const { result } = renderHook(
      () => {
        renders += 1;
        return useTyping("a");
      },
      { wrapper: wrapperFor(client) },
    );
    act(() => {
      client.setRoom("a", [presence("alice"), presence("bob")]);
      client.setTyping("a", "bob", true);
    });
    const first = result.current;
    const count = renders;
    // A member's status changes: a new room snapshot, the same typing users.
    act(() => void client.setRoom("a", [presence("alice", { status: "busy" }), presence("bob")], ["bob"]));
    expect(renders).toBe(count);
    expect(result.current).toBe(first);
    act(() => client.setTyping("a", "bob", false));
    expect(result.current.typingUsers).toEqual([]);
    expect(result.current.onInput).toBe(first.onInput);
    expect(result.current.onSubmit).toBe(first.onSubmit);
  });

  it("stops typing when the message box unmounts", async () => {
    const client = new FakeClient();
    const { unmount } = renderHook(() => useTyping("a"), { wrapper: wrapperFor(client) });
    unmount();
    await flush();
    expect(client.calls).toEqual(["join a", "stopTyping a", "leave a"]);
  });
});

describe("usePresence", () => {
  it("watches the user, batching all rows of one render into one watch", async () => {
    const client = new FakeClient();
    function Row({ id }: { id: string }) {
      const p = usePresence(id);
      return <li>{`${id}:${p?.status ?? "…"}`}</li>;
    }
    const ids = ["alice", "bob", "carol"];
    const { container, unmount } = render(
      <ul>
        {ids.map((id) => (
          <Row key={id} id={id} />
        ))}
      </ul>,
      { wrapper: wrapperFor(client) },
    );
    await flush();
    expect(client.calls).toEqual(["watch alice,bob,carol"]);
    act(() => client.setUser(presence("bob", { status: "busy" })));
    expect(container.textContent).toBe("alice:…bob:busycarol:…");
    unmount();
    await flush();
    expect(client.calls).toEqual(["watch alice,bob,carol", "unwatch alice,bob,carol"]);
  });

  it("with a selector, ignores changes outside the selection", () => {
    const client = new FakeClient();
    let renders = 0;
    renderHook(
      () => {
        renders += 1;
        return usePresence("bob", (p) => p?.status ?? "offline");
      },
      { wrapper: wrapperFor(client) },
    );
    act(() => client.setUser(presence("bob")));
    const count = renders;
    act(() => client.setUser(presence("bob", { devices: 2, since: 5 })));
    expect(renders).toBe(count);
    act(() => client.setUser(presence("bob", { status: "away" })));
    expect(renders).toBe(count + 1);
  });
});

describe("useMyStatus and useConnectionState", () => {
  it("reads and sets your own presence", () => {
    const client = new FakeClient();
    const { result } = renderHook(() => useMyStatus(), { wrapper: wrapperFor(client) });
    expect(result.current.user).toEqual({ id: "me", name: "Me" });
    expect(result.current.status).toBe("online");
    const { setStatus } = result.current;
    act(() => result.current.setStatus("busy"));
    expect(result.current.status).toBe("busy");
    expect(result.current.setStatus).toBe(setStatus);
    const expires_at = Date.now() + 60_000;
    act(() => result.current.setCustomStatus({ text: "Lunch", emoji: "🍜", expires_at }));
    expect(result.current.custom).toEqual({ text: "Lunch", emoji: "🍜", expires_at });
    act(() => result.current.setPrivacy("approximate"));
    expect(client.calls.slice(-1)).toEqual(["setPrivacy approximate"]);
    act(() => client.setMe({ activity: "idle" }));
    expect(result.current.activity).toBe("idle");
  });

  it("follows the connection", () => {
    const client = new FakeClient();
    const { result } = renderHook(() => useConnectionState(), { wrapper: wrapperFor(client) });
    expect(result.current).toBe("closed");
    act(() => client.setState("connecting"));
    act(() => client.setState("open"));
    expect(result.current).toBe("open");
    act(() => client.setState("reconnecting"));
    expect(result.current).toBe("reconnecting");
  });

  it("passes errors to onError", () => {
    const client = new FakeClient();
    const errors: string[] = [];
    render(
      <PresenceProvider client={client} onError={(e) => errors.push(e.code)}>
        <span />
      </PresenceProvider>,
    );
    act(() => client.fail(Object.assign(new Error("nope"), { code: "forbidden" as const })));
    expect(errors).toEqual(["forbidden"]);
  });
});

describe("StrictMode", () => {
  function App() {
    const room = useRoom("a");
    const { typingUsers } = useTyping("a");
    const bob = usePresence("bob");
    const me = useMyStatus();
    const state = useConnectionState();
    return (
      <p>
        {room.count} {typingUsers.length} {bob?.status} {me.status} {state}
      </p>
    );
  }

  it("double mounting sends one join and one watch, and unmounting leaves no listener", async () => {
    const client = new FakeClient();
    const { unmount } = render(<App />, { wrapper: wrapperFor(client, true) });
    await flush();
    expect(client.calls.filter((c) => !c.startsWith("stopTyping"))).toEqual(["join a", "watch bob"]);
    expect(client.listenerCount()).toBe(4); // room, presence, me, connection: one each
    act(() => client.setRoom("a", [presence("bob")]));
    unmount();
    await flush();
    expect(client.calls.filter((c) => !c.startsWith("stopTyping")).sort()).toEqual([
      "join a",
      "leave a",
      "unwatch bob",
      "watch bob",
    ]);
    expect(client.listenerCount()).toBe(0);
    const store = PresenceStore.for(client);
    expect(store.listenerCounts).toEqual({ store: 0, client: 0 });
    expect(store.interest).toEqual({ rooms: [], users: [] });
  });

  it("re-rendering a parent keeps every subscription (stable subscribe functions)", async () => {
    const client = new FakeClient();
    let setTick: (n: number) => void = () => {};
    function Parent() {
      const [tick, set] = useState(0);
      setTick = set;
      return (
        <>
          <i>{tick}</i>
          <App />
        </>
      );
    }
    render(<Parent />, { wrapper: wrapperFor(client, true) });
    await flush();
    const calls = client.calls.length;
    for (let i = 1; i <= 5; i++) act(() => setTick(i));
    await flush();
    expect(client.calls.length).toBe(calls);
    expect(client.listenerCount()).toBe(4);
  });
});
