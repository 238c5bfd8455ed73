// <PresenceProvider options>: the client's lifecycle, with the SDK's class replaced by
// FakeClient so that constructions, connects and destroys can be counted. The module is
// ready here (`await ready()` first): the provider creates its client at once.
// (default-build.test.tsx: a provider rendered before the module is ready.)
import { act, cleanup, render } from "@testing-library/react";
import { StrictMode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { FakeClient } from "./fake-client.js";

vi.mock("../pkg/web/presence_client.js", async () => ({
  default: async () => ({}),
  PresenceClient: (await import("./fake-client.js")).FakeClient,
}));

await (await import("../src/index.js")).ready();
const { PresenceProvider, useConnectionState, usePresenceClient, useRoom } = await import("../src/react.js");

beforeEach(() => {
  FakeClient.instances = [];
});
afterEach(cleanup);

const flush = () => act(async () => {});

function Probe() {
  const state = useConnectionState();
  const client = usePresenceClient();
  useRoom("a");
  return <p>{`${state} ${client ? "client" : "none"}`}</p>;
}

describe("PresenceProvider with options", () => {
  it("creates one client under StrictMode, connects it once, and destroys it on unmount", async () => {
    const options = { url: "ws://127.0.0.1:1/v1/ws", token: "t" };
    const { container, unmount } = render(
      <StrictMode>
        <PresenceProvider options={options}>
          <Probe />
        </PresenceProvider>
      </StrictMode>,
    );
    await flush();
    expect(FakeClient.instances).toHaveLength(1);
    const client = FakeClient.instances[0]!;
    expect(client.calls).toEqual(["join a", "connect"]);
    expect(container.textContent).toBe("closed client");
    act(() => client.setState("open"));
    expect(container.textContent).toBe("open client");
    unmount();
    await flush();
    // destroy() leaves every room itself; the store's leave, a microtask later, finds the
    // client destroyed and is dropped.
    expect(client.calls.filter((c) => c !== "leave a")).toEqual(["join a", "connect", "destroy"]);
    expect(client.listenerCount()).toBe(0);
  });

  it("keeps its client across re-renders with new option objects, and replaces it when the URL changes", async () => {
    const getToken = vi.fn(() => "token-1");
    const { rerender } = render(
      <PresenceProvider options={{ url: "ws://127.0.0.1:1/v1/ws", getToken }}>
        <Probe />
      </PresenceProvider>,
    );
    await flush();
    const newer = vi.fn(() => "token-2");
    rerender(
      <PresenceProvider options={{ url: "ws://127.0.0.1:1/v1/ws", getToken: newer }}>
        <Probe />
      </PresenceProvider>,
    );
    await flush();
    expect(FakeClient.instances).toHaveLength(1);
    // The client's getToken calls the latest one given.
    const first = FakeClient.instances[0]!;
    expect((first.options as { getToken: () => string }).getToken()).toBe("token-2");
    expect(getToken).not.toHaveBeenCalled();

    rerender(
      <PresenceProvider options={{ url: "ws://127.0.0.1:2/v1/ws", getToken: newer }}>
        <Probe />
      </PresenceProvider>,
    );
    await flush();
    expect(FakeClient.instances).toHaveLength(2);
    expect(first.destroyed).toBe(true);
    expect(FakeClient.instances[1]!.calls).toEqual(["join a", "connect"]);
  });

  it("renders `connecting` before its client exists", () => {
    let seen = "";
    function First() {
      const state = useConnectionState();
      seen ||= state;
      return null;
    }
    render(
      <PresenceProvider options={{ url: "ws://127.0.0.1:1/v1/ws", token: "t" }}>
        <First />
      </PresenceProvider>,
    );
    expect(seen).toBe("connecting");
  });
});
