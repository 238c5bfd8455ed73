import { describe, expect, it, vi } from "vitest";

import { PresenceStore } from "../src/store.js";
import { FakeClient, presence } from "./fake-client.js";

const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe("PresenceStore", () => {
  it("is one store per client", () => {
    const client = new FakeClient();
    expect(PresenceStore.for(client)).toBe(PresenceStore.for(client));
    expect(PresenceStore.for(new FakeClient())).not.toBe(PresenceStore.for(client));
  });

  it("joins a room once for any number of holders and leaves after the last release", async () => {
    const client = new FakeClient();
    const store = new PresenceStore(client);
    const a = store.retainRoom("team.general");
    const b = store.retainRoom("team.general");
    expect(client.calls).toEqual(["join team.general"]);
    a();
    a(); // a second release of the same hold changes nothing
    await tick();
    expect(client.calls).toEqual(["join team.general"]);
    b();
    await tick();
    expect(client.calls).toEqual(["join team.general", "leave team.general"]);
    expect(store.interest.rooms).toEqual([]);
  });

  it("sends nothing for a release followed at once by a retain (StrictMode's remount)", async () => {
    const client = new FakeClient();
    const store = new PresenceStore(client);
    store.retainRoom("r")();
    const again = store.retainRoom("r");
    await tick();
    expect(client.calls).toEqual(["join r"]);
    again();
    await tick();
    expect(client.calls).toEqual(["join r", "leave r"]);
  });

  it("batches the watches and unwatches of one tick into one call each", async () => {
    const client = new FakeClient();
    const store = new PresenceStore(client);
    const releases = ["alice", "bob", "carol", "bob"].map((u) => store.retainUser(u));
    expect(client.calls).toEqual([]);
    await tick();
    expect(client.calls).toEqual(["watch alice,bob,carol"]);
    releases.forEach((release) => release());
    await tick();
    expect(client.calls).toEqual(["watch alice,bob,carol", "unwatch alice,carol,bob"]);
  });

  it("never watches a user retained and released within one tick", async () => {
    const client = new FakeClient();
    const store = new PresenceStore(client);
    store.retainUser("alice")();
    await tick();
    expect(client.calls).toEqual([]);
  });

  it("holds one client listener per event kind, and none once its own are gone", () => {
    const client = new FakeClient();
    const store = new PresenceStore(client);
    const offs = [
      store.subscribeRoom("a", () => {}),
      store.subscribeRoom("b", () => {}),
      store.subscribeRoom("a", () => {}),
      store.subscribeUser("bob", () => {}),
      store.subscribeMe(() => {}),
      store.subscribeConnection(() => {}),
      store.onError(() => {}),
    ];
    expect(client.listenerCount("room")).toBe(1);
    expect(client.listenerCount()).toBe(5);
    expect(store.listenerCounts).toEqual({ store: 7, client: 5 });
    offs.forEach((off) => off());
    expect(client.listenerCount()).toBe(0);
    expect(store.listenerCounts).toEqual({ store: 0, client: 0 });
  });

  it("notifies only the subscribers of the room or user that changed", () => {
    const client = new FakeClient();
    const store = new PresenceStore(client);
    const seen: string[] = [];
    store.subscribeRoom("a", () => seen.push("room a"));
    store.subscribeRoom("b", () => seen.push("room b"));
    store.subscribeUser("bob", () => seen.push("bob"));
    client.setRoom("a", [presence("alice")]);
    client.setUser(presence("carol"));
    client.setUser(presence("bob"));
    expect(seen).toEqual(["room a", "bob"]);
    expect(store.room("a")?.members.map((m) => m.user)).toEqual(["alice"]);
    expect(store.room("a")).toBe(store.room("a"));
  });

  it("lets a listener unsubscribe another while being notified", () => {
    const client = new FakeClient();
    const store = new PresenceStore(client);
    const calls: string[] = [];
    let offSecond = () => {};
    store.subscribeRoom("a", () => {
      calls.push("first");
      offSecond();
    });
    offSecond = store.subscribeRoom("a", () => calls.push("second"));
    client.setRoom("a", []);
    client.setRoom("a", []);
    expect(calls).toEqual(["first", "second", "first"]);
  });

  it("reports an invalid id as an invalid_argument error instead of throwing", () => {
    const client = new FakeClient();
    const store = new PresenceStore(client);
    const errors: string[] = [];
    store.onError((e) => errors.push(`${e.code}: ${e.message}`));
    store.retainRoom("not a room")();
    store.retainUser("")();
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^invalid_argument: invalid room id/);
    expect(client.calls).toEqual([]);
  });

  it("passes the client's errors to its listeners, and logs them when there is none", () => {
    const client = new FakeClient();
    const store = new PresenceStore(client);
    const forbidden = Object.assign(new Error("no"), { code: "forbidden" as const, room: "x" });
    const seen: unknown[] = [];
    const off = store.onError((e) => seen.push(e));
    client.fail(forbidden);
    expect(seen).toEqual([forbidden]);
    off();
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    store.retainRoom("bad room");
    expect(log).toHaveBeenCalledOnce();
    log.mockRestore();
  });

  it("drops calls on a destroyed client silently", async () => {
    const client = new FakeClient();
    const store = new PresenceStore(client);
    const release = store.retainRoom("r");
    client.destroy();
    const errors: unknown[] = [];
    store.onError((e) => errors.push(e));
    release();
    await tick();
    expect(errors).toEqual([]);
  });
});
