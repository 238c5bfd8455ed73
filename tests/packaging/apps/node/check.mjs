// Node ESM, as any SSR framework or a node test environment loads the package: both
// entries import without a browser, and the quick start renders its connecting state
// with renderToString (no wasm, no window, no document on the way).
import assert from "node:assert/strict";
import { createElement as h, Fragment } from "react";
import { renderToString } from "react-dom/server";

const core = await import("presence-client");
assert.equal(typeof core.PresenceStore, "function", "presence-client exports PresenceStore");
const { PresenceProvider, useConnectionState, useRoom } = await import("presence-client/react");

const getToken = () => Promise.reject(new Error("getToken is not called on the server"));

function Lobby() {
  const state = useConnectionState();
  const { members } = useRoom("lobby");
  return h(
    Fragment,
    null,
    h("p", null, `connection: ${state}`),
    ...members.map((m) => h("p", { key: m.user }, `${m.name}: ${m.status}`)),
  );
}

const html = renderToString(h(PresenceProvider, { options: { url: "/v1/ws", getToken } }, h(Lobby)));
assert.match(html, /connection: connecting/, `the server render shows the connecting state: ${html}`);
console.log(html);
