// The `url` option of a client, resolved when the client is created (never during a
// render): shared by both builds' `PresenceClient`.

/**
 * The `url` option as a WebSocket URL: `ws:`/`wss:` as given, `http:`/`https:` turned
 * into them, and a path (`"/v1/ws"`) resolved against `base` (the page, when there is
 * one; null: none), with `wss:` under an `https:` page and `ws:` otherwise.
 */
export function resolveUrl(url: string, base: string | null = pageUrl()): string {
  if (/^wss?:\/\//i.test(url)) return url;
  let resolved: URL;
  try {
    resolved = base === null ? new URL(url) : new URL(url, base);
  } catch {
    // Not a URL and no page to resolve it against: the client reports it.
    return url;
  }
  if (resolved.protocol === "https:") resolved.protocol = "wss:";
  else if (resolved.protocol === "http:") resolved.protocol = "ws:";
  return resolved.href;
}

function pageUrl(): string | null {
  const here = (globalThis as { location?: { href?: unknown } }).location?.href;
  return typeof here === "string" ? here : null;
}
