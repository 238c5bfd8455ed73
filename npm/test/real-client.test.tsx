// The hooks on the real wasm client (the `web` build, loaded with initSync) against a
// real presence-server (test/server.ts starts one), in jsdom, whose WebSocket is a real
// one. A second client plays the other user.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { StrictMode } from "react";
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";

import { initSync, PresenceClient } from "../pkg/web/presence_client.js";
import {
  PresenceProvider,
  formatLastSeen,
  typingText,
  useConnectionState,
  useMyStatus,
  usePresence,
  useRoom,
  useTyping,
} from "../src/react.js";

// A path, not `new URL(…, import.meta.url)`, which Vite rewrites into an asset URL.
const here = dirname(fileURLToPath(import.meta.url));
const server = inject("presenceServer");
const clients: PresenceClient[] = [];

afterEach(() => {
  cleanup();
  clients.splice(0).forEach((c) => c.destroy());
});

beforeAll(() => {
  initSync({ module: readFileSync(join(here, "../pkg/web/presence_client_bg.wasm")) });
});

async function token(user: string, name: string): Promise<string> {
  const res = await fetch(`${server}/dev/token`, {
    method: "POST",
    body: JSON.stringify({ user, name }),
  });
  if (!res.ok) throw new Error(`dev token: ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

function client(user: string, name: string): PresenceClient {
  const c = new PresenceClient({
    url: `${server.replace("http", "ws")}/v1/ws`,
    getToken: () => token(user, name),
    device: "vitest",
    typingStopMs: 300,
  });
  clients.push(c);
  c.connect();
  return c;
}

// Unique ids per run: the server outlives one test file's runs in watch mode.
const run = Math.random().toString(36).slice(2, 8);
const id = (name: string) => `${name}-${run}`;

describe.skipIf(!server)("hooks on the real client and server", () => {
  it("shows members, typing, statuses and last seen as another user changes them", async () => {
    const room = id("room");
    const alice = id("alice");
    const bob = id("bob");

    function Screen() {
      const state = useConnectionState();
      const { members, count } = useRoom(room);
      const { typingUsers } = useTyping(room);
      const other = usePresence(bob);
      const me = useMyStatus();
      return (
        <div>
          <p data-testid="state">{state}</p>
          <p data-testid="me">{me.user?.name ?? ""}</p>
          <p data-testid="members">{`${count}:${members.map((m) => `${m.name}=${m.status}`).join(",")}`}</p>
          <p data-testid="typing">{typingText(typingUsers, { locale: "en" })}</p>
          <p data-testid="bob">{other ? `${other.status}|${formatLastSeen(other, { locale: "en" }) ?? ""}` : ""}</p>
        </div>
      );
    }

    const mine = client(alice, "Alice");
    render(
      <StrictMode>
        <PresenceProvider client={mine}>
          <Screen />
        </PresenceProvider>
      </StrictMode>,
    );
    const text = (testId: string) => screen.getByTestId(testId).textContent;
    await waitFor(() => expect(text("state")).toBe("open"));
    await waitFor(() => expect(text("me")).toBe("Alice"));
    await waitFor(() => expect(text("members")).toBe("1:Alice=online"));
    await waitFor(() => expect(text("bob")).toBe("offline|"));

    const theirs = client(bob, "Bob");
    theirs.join(room);
    await waitFor(() => expect(text("members")).toBe("2:Alice=online,Bob=online"));
    await waitFor(() => expect(text("bob")).toBe("online|"));

    theirs.typing(room);
    await waitFor(() => expect(text("typing")).toBe("Bob is typing…"));
    // No more input: the client's own debounce (typingStopMs 300) ends it.
    await waitFor(() => expect(text("typing")).toBe(""));

    theirs.setStatus("busy");
    await waitFor(() => expect(text("bob")).toBe("busy|"));
    await waitFor(() => expect(text("members")).toBe("2:Alice=online,Bob=busy"));

    theirs.setStatus("invisible");
    await waitFor(() => expect(text("members")).toBe("1:Alice=online"));
    await waitFor(() => expect(text("bob")).toBe("offline|just now"));
  });

  it("with options, creates one client and one connection under StrictMode, and closes it on unmount", async () => {
    const user = id("strict");
    const sockets: WebSocket[] = [];
    const Native = globalThis.WebSocket;
    class Counting extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
      }
    }
    globalThis.WebSocket = Counting as typeof WebSocket;
    // Every DOM listener the client adds (window and document) must be gone after unmount.
    const live = new Map<string, number>();
    const restore: (() => void)[] = [];
    for (const [name, target] of [["window", window as EventTarget], ["document", document as EventTarget]] as const) {
      const add = target.addEventListener;
      const remove = target.removeEventListener;
      const count = (type: string, by: number) => live.set(`${name}:${type}`, (live.get(`${name}:${type}`) ?? 0) + by);
      target.addEventListener = function (this: EventTarget, ...args: Parameters<EventTarget["addEventListener"]>) {
        count(args[0], 1);
        add.apply(this, args);
      };
      target.removeEventListener = function (this: EventTarget, ...args: Parameters<EventTarget["removeEventListener"]>) {
        count(args[0], -1);
        remove.apply(this, args);
      };
      restore.push(() => {
        target.addEventListener = add;
        target.removeEventListener = remove;
      });
    }
    try {
      function Status() {
        const state = useConnectionState();
        const { count } = useRoom(id("strict-room"));
        return <p data-testid="status">{`${state} ${count}`}</p>;
      }
      const { unmount } = render(
        <StrictMode>
          <PresenceProvider
            options={{ url: `${server.replace("http", "ws")}/v1/ws`, getToken: () => token(user, "Strict") }}
          >
            <Status />
          </PresenceProvider>
        </StrictMode>,
      );
      await waitFor(() => expect(screen.getByTestId("status").textContent).toBe("open 1"));
      expect(sockets).toHaveLength(1);
      unmount();
      await act(async () => {});
      await waitFor(() => expect(sockets[0]!.readyState).toBe(WebSocket.CLOSED));
      expect(sockets).toHaveLength(1);
      expect(live.get("window:mousemove")).toBe(0); // it was listened to
      expect([...live].filter(([, n]) => n !== 0)).toEqual([]);
    } finally {
      globalThis.WebSocket = Native;
      restore.forEach((undo) => undo());
    }
  });
});
