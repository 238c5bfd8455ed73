// <PresenceProvider options> in an app that imports "presence-client/bundler" (the
// explicit opt-in to wasm-pack's bundler target): the provider creates its client from
// that build at once, and the default build is never instantiated. "presence-client/web"
// is the default build under its old name, with `init()` being `ready()`. Both builds
// are FakeClients that record when their module is loaded and instantiated.
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

const bundler = await import("../src/bundler.js");
const { PresenceProvider, usePresenceClient } = await import("../src/react.js");

afterEach(cleanup);

const flush = () => act(async () => {});

function Probe() {
  const client = usePresenceClient() as FakeClient & { build?: string };
  return <p>{client?.build ?? "none"}</p>;
}

describe("PresenceProvider with presence-client/bundler imported", () => {
  it("creates its client from the bundler build and never instantiates the default build", async () => {
    const { container, unmount } = render(
      <PresenceProvider options={{ url: "ws://127.0.0.1:1/v1/ws", token: "t" }}>
        <Probe />
      </PresenceProvider>,
    );
    await flush();
    expect(FakeClient.instances).toHaveLength(1);
    const client = FakeClient.instances[0]!;
    expect(container.textContent).toBe("bundler");
    expect(client.calls).toEqual(["connect"]);
    unmount();
    await flush();
    expect(client.destroyed).toBe(true);
    expect(loaded.filter((l) => l.endsWith("init"))).toEqual([]);
  });

  it("has ready() and createClient() like the default entry, and resolves a path url", async () => {
    await bundler.ready();
    const client = (await bundler.createClient({ url: "/v1/ws", token: "t" })) as unknown as FakeClient & {
      build: string;
    };
    expect(client.build).toBe("bundler");
    expect((client.options as { url: string }).url).toBe("ws://localhost:3000/v1/ws"); // jsdom's page
  });
});

describe("presence-client/web", () => {
  it("is the default build: init() is ready()", async () => {
    const web = await import("../src/web.js");
    const index = await import("../src/index.js");
    expect(web.default).toBe(index.ready);
    expect(web.PresenceClient).toBe(index.PresenceClient);
    await web.default();
    expect(loaded).toContain("web init");
    expect(web.isReady()).toBe(true);
  });
});
