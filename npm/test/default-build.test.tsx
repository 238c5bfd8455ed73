// <PresenceProvider options> rendered before the WebAssembly module is ready, as every
// app does: importing "presence-client/react" loads the glue of the web build (JS) but
// instantiates nothing; the first provider that needs a client calls ready(), once, and
// creates its client when that resolves. The build is a FakeClient that records when its
// module is loaded and when it is instantiated. The tests run in order: each file has
// its own modules, so nothing is instantiated when this one starts.
import { act, cleanup, render } from "@testing-library/react";
import { StrictMode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { FakeClient } from "./fake-client.js";

const loaded = vi.hoisted(() => [] as string[]);
vi.mock("../pkg/bundler/presence_client.js", async () =>
  (await import("./fake-client.js")).fakeBuild("bundler", loaded),
);
vi.mock("../pkg/web/presence_client.js", async () =>
  (await import("./fake-client.js")).fakeBuild("web", loaded),
);

const { PresenceProvider, useConnectionState, usePresenceClient, useRoom, ready, isReady } = await import(
  "../src/react.js"
);

beforeEach(() => {
  FakeClient.instances = [];
});
afterEach(cleanup);

const flush = () => act(async () => {});

/** Waits until the module is ready: the provider's own ready() settles with this one. */
const wasmReady = () =>
  act(async () => {
    await ready();
  });

function Probe() {
  const state = useConnectionState();
  const client = usePresenceClient() as FakeClient & { build?: string };
  useRoom("a");
  return <p>{`${state} ${client?.build ?? "none"}`}</p>;
}

const options = { url: "ws://127.0.0.1:1/v1/ws", token: "t" };

describe("PresenceProvider before the WebAssembly module is ready", () => {
  it("instantiates no wasm on import, and never loads the bundler build", () => {
    expect(loaded).toEqual(["web"]);
    expect(isReady()).toBe(false);
  });

  it("instantiates the module on first use and creates one client once it is ready, none for a provider gone before", async () => {
    const gone = render(
      <PresenceProvider options={options}>
        <Probe />
      </PresenceProvider>,
    );
    gone.unmount();
    const { container, unmount } = render(
      <StrictMode>
        <PresenceProvider options={options}>
          <Probe />
        </PresenceProvider>
      </StrictMode>,
    );
    expect(container.textContent).toBe("connecting none");
    await wasmReady();
    await flush();
    expect(loaded).toEqual(["web", "web init"]);
    // One client under StrictMode, connected once; none for the provider that unmounted.
    expect(FakeClient.instances).toHaveLength(1);
    const client = FakeClient.instances[0]!;
    expect(client.calls).toEqual(["join a", "connect"]);
    expect(container.textContent).toBe("closed web");
    unmount();
    await flush();
    expect(client.calls.filter((c) => c !== "leave a")).toEqual(["join a", "connect", "destroy"]);
    expect(client.listenerCount()).toBe(0);
  });

  it("then creates its clients at once, without instantiating the module again", async () => {
    const { container } = render(
      <PresenceProvider options={options}>
        <Probe />
      </PresenceProvider>,
    );
    await flush();
    expect(FakeClient.instances).toHaveLength(1);
    expect(container.textContent).toBe("closed web");
    expect(loaded).toEqual(["web", "web init"]);
  });
});
