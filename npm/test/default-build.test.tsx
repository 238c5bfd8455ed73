// <PresenceProvider options> in an app that imports "presence-client/react" and neither
// build's entry: importing the React entry loads no wasm build; the first provider that
// needs a client loads the bundler build ("presence-client"), which then stays bound.
// Both builds are FakeClients that record when their module is loaded. The tests run in
// order: each file has its own modules, so nothing is loaded when this one starts.
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

const { PresenceProvider, useConnectionState, usePresenceClient, useRoom } = await import("../src/react.js");

beforeEach(() => {
  FakeClient.instances = [];
});
afterEach(cleanup);

const flush = () => act(async () => {});

/**
 * Waits until the bundler build is loaded: the provider's own import of the same module
 * settles with this one, and its client is created in the microtasks that follow.
 */
const bundlerBuild = () =>
  act(async () => {
    await import("../src/index.js");
  });

function Probe() {
  const state = useConnectionState();
  const client = usePresenceClient() as FakeClient & { build?: string };
  useRoom("a");
  return <p>{`${state} ${client?.build ?? "none"}`}</p>;
}

const options = { url: "ws://127.0.0.1:1/v1/ws", token: "t" };

describe("PresenceProvider without a build's entry imported", () => {
  it("loads no wasm build on import", () => {
    expect(loaded).toEqual([]);
  });

  it("loads the bundler build on first use and creates one client from it, none for a provider gone before", async () => {
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
    await bundlerBuild();
    await flush();
    expect(loaded).toEqual(["bundler"]);
    // One client under StrictMode, connected once; none for the provider that unmounted.
    expect(FakeClient.instances).toHaveLength(1);
    const client = FakeClient.instances[0]!;
    expect(client.calls).toEqual(["join a", "connect"]);
    expect(container.textContent).toBe("closed bundler");
    unmount();
    await flush();
    expect(client.calls.filter((c) => c !== "leave a")).toEqual(["join a", "connect", "destroy"]);
    expect(client.listenerCount()).toBe(0);
  });

  it("then creates its clients from that build at once", async () => {
    const { container } = render(
      <PresenceProvider options={options}>
        <Probe />
      </PresenceProvider>,
    );
    await flush();
    expect(FakeClient.instances).toHaveLength(1);
    expect(container.textContent).toBe("closed bundler");
    expect(loaded).toEqual(["bundler"]);
  });
});
