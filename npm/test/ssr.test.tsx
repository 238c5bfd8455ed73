// Server rendering and hydration with the real wasm client and a real presence-server
// (test/server.ts): the app's HTML is rendered by react-dom/server before any
// WebAssembly is loaded ("connecting", no members), then hydrated in jsdom with no
// mismatch; the provider calls ready() (the real module: from its URL, or the inlined
// copy where Node cannot fetch it) and connects to the path "/v1/ws", resolved against
// the page. Also: the class before ready() throws a clear error.
import { act, cleanup, waitFor } from "@testing-library/react";
import { StrictMode } from "react";
import { hydrateRoot, type Root } from "react-dom/client";
import { renderToString } from "react-dom/server";
import { afterEach, describe, expect, inject, it, vi } from "vitest";

import {
  PresenceClient,
  PresenceProvider,
  createClient,
  isReady,
  useConnectionState,
  useMyStatus,
  usePresence,
  useRoom,
  useTyping,
} from "../src/react.js";
import { wasmSource } from "../src/wasm.js";

const server = inject("presenceServer");
const run = Math.random().toString(36).slice(2, 8);

afterEach(cleanup);

async function token(user: string): Promise<string> {
  const res = await fetch(`${server}/dev/token`, { method: "POST", body: JSON.stringify({ user, name: user }) });
  if (!res.ok) throw new Error(`dev token: ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

describe("the class before ready()", () => {
  it("throws an error that says what to do", () => {
    expect(isReady()).toBe(false);
    expect(() => new PresenceClient({ url: "ws://127.0.0.1:1/v1/ws", token: "t" })).toThrow(/await ready\(\)/);
  });
});

describe.skipIf(!server)("SSR, hydration and a path url on the real client", () => {
  it("renders connecting on the server, hydrates without a mismatch, then connects", async () => {
    const room = `ssr-${run}`;
    const user = `ada-${run}`;
    // The page's own origin is the server's, so "/v1/ws" resolves to it (ws:).
    (globalThis as unknown as { jsdom: { reconfigure(o: { url: string }): void } }).jsdom.reconfigure({
      url: `${server}/app/`,
    });
    const getToken = () => token(user);

    function Room() {
      const state = useConnectionState();
      const { members } = useRoom(room);
      const { typingUsers } = useTyping(room);
      const me = useMyStatus();
      const other = usePresence(`bob-${run}`);
      return (
        <div>
          <p data-testid="state">{state}</p>
          <p data-testid="members">{members.map((m) => m.user).join(",") || "nobody"}</p>
          <p>{`${typingUsers.length} typing, me ${me.status}, bob ${other?.status ?? "unknown"}`}</p>
        </div>
      );
    }
    const App = () => (
      <StrictMode>
        <PresenceProvider options={{ url: "/v1/ws", getToken }}>
          <Room />
        </PresenceProvider>
      </StrictMode>
    );

    const html = renderToString(<App />);
    expect(html).toContain("connecting");
    expect(html).toContain("nobody");
    expect(isReady()).toBe(false); // rendering loads nothing

    const container = document.createElement("div");
    container.innerHTML = html;
    document.body.appendChild(container);
    const errors = vi.spyOn(console, "error");
    const recoverable: unknown[] = [];
    let root: Root | undefined;
    await act(async () => {
      root = hydrateRoot(container, <App />, { onRecoverableError: (e) => recoverable.push(e) });
    });
    await waitFor(() => expect(container.querySelector('[data-testid="state"]')?.textContent).toBe("open"), {
      timeout: 10_000,
    });
    await waitFor(() => expect(container.querySelector('[data-testid="members"]')?.textContent).toBe(user));
    expect(recoverable).toEqual([]);
    expect(errors).not.toHaveBeenCalled();
    errors.mockRestore();
    expect(["url", "inline"]).toContain(wasmSource());
    act(() => root?.unmount());
    container.remove();
  });

  it("createClient() after ready() gives a client of the real module", async () => {
    const client = await createClient({ url: "/v1/ws", getToken: () => token(`bob-${run}`) });
    try {
      expect(client).toBeInstanceOf(PresenceClient);
      expect(client.connectionState).toBe("closed");
    } finally {
      client.destroy();
    }
  });
});
