// The `url` option: a path is resolved against the page when the client is created,
// with the WebSocket scheme that matches the page's.
import { describe, expect, it } from "vitest";

import { resolveUrl } from "../src/url.js";

describe("resolveUrl", () => {
  it("keeps ws: and wss: URLs as given", () => {
    expect(resolveUrl("ws://127.0.0.1:8080/v1/ws", "https://app.example/")).toBe("ws://127.0.0.1:8080/v1/ws");
    expect(resolveUrl("wss://p.example/v1/ws", null)).toBe("wss://p.example/v1/ws");
  });
  it("resolves a path against the page: wss: under https:, ws: under http:", () => {
    expect(resolveUrl("/v1/ws", "https://app.example/team/room?x=1")).toBe("wss://app.example/v1/ws");
    expect(resolveUrl("/v1/ws", "http://localhost:5173/")).toBe("ws://localhost:5173/v1/ws");
    expect(resolveUrl("v1/ws", "http://127.0.0.1:3000/app/")).toBe("ws://127.0.0.1:3000/app/v1/ws");
  });
  it("turns http: and https: URLs into ws: and wss:", () => {
    expect(resolveUrl("http://127.0.0.1:8080/v1/ws", null)).toBe("ws://127.0.0.1:8080/v1/ws");
    expect(resolveUrl("https://p.example/v1/ws", "http://localhost/")).toBe("wss://p.example/v1/ws");
  });
  it("uses the current page by default (jsdom's), and leaves a path alone where there is none", () => {
    expect(resolveUrl("/v1/ws")).toBe(`${location.origin.replace(/^http/, "ws")}/v1/ws`);
    expect(resolveUrl("/v1/ws", null)).toBe("/v1/ws");
  });
});
