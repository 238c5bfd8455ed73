// <PresenceProvider options> in an app that imports "presence-client/web": the provider
// creates its client from the web build, at once, and the bundler build is never
// loaded; when the app imports "presence-client" too, its build (which needs no init())
// is used. Both builds are FakeClients that record when their module is loaded. The
// tests run in order.
import { act, cleanup, render } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { FakeClient } from "./fake-client.js";

const loaded = vi.hoisted(() => [] as string[]);
vi.mock("../pkg/bundler/presence_client.js", async () =>
  (await import("./fake-client.js")).fakeBuild("bundler", loaded),
);
vi.mock("../pkg/web/presence_client.js", async () =>
  (await import("./fake-client.js")).fakeBuild("web", loaded),
);

await import("../src/web.js");
const { PresenceProvider, usePresenceClient } = await import("../src/react.js");

afterEach(cleanup);

const flush = () => act(async () => {});

function Probe() {
  const client = usePresenceClient() as FakeClient & { build?: string };
  return <p>{client?.build ?? "none"}</p>;
}

describe("PresenceProvider with presence-client/web imported", () => {
  it("creates its client from the web build and never loads the bundler build", async () => {
    const { container, unmount } = render(
      <PresenceProvider options={{ url: "ws://127.0.0.1:1/v1/ws", token: "t" }}>
        <Probe />
      </PresenceProvider>,
    );
    await flush();
    expect(FakeClient.instances).toHaveLength(1);
    const client = FakeClient.instances[0]!;
    expect(container.textContent).toBe("web");
    expect(client.calls).toEqual(["connect"]);
    unmount();
    await flush();
    expect(client.destroyed).toBe(true);
    expect(loaded).toEqual(["web"]);
  });

  it("creates its client from the bundler build once presence-client is imported too", async () => {
    await import("../src/index.js");
    FakeClient.instances = [];
    const { container } = render(
      <PresenceProvider options={{ url: "ws://127.0.0.1:1/v1/ws", token: "t" }}>
        <Probe />
      </PresenceProvider>,
    );
    await flush();
    expect(FakeClient.instances).toHaveLength(1);
    expect(container.textContent).toBe("bundler");
    expect(loaded).toEqual(["web", "bundler"]);
  });
});
