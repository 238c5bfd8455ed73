// Settings from the page's URL, so a demo or a test can shorten the timers:
//
//   ?name=Alice          sign in at once as Alice
//   ?room=design         open this room first
//   ?idle=3000           idle (shown as away) after 3 s without input (idleAfterMs)
//   ?backoffMax=2000     reconnect at most 2 s apart (backoffMaxMs)
//   ?shortExpiry=5       offer "5 seconds" among the custom status expiries
const params = new URLSearchParams(location.search);

function ms(name: string): number | undefined {
  const value = Number(params.get(name));
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

export const config = {
  /** The server serves this app (or, in `npm run dev`, Vite proxies to it). */
  url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`,
  name: params.get("name") ?? undefined,
  room: params.get("room") ?? undefined,
  idleAfterMs: ms("idle"),
  backoffMaxMs: ms("backoffMax"),
  shortExpirySeconds: ms("shortExpiry"),
};

export interface Room {
  id: string;
  name: string;
  topic: string;
}

export const ROOMS: Room[] = [
  { id: "huddle.general", name: "general", topic: "Company-wide announcements and chatter" },
  { id: "huddle.design", name: "design", topic: "Critiques, mockups and the design system" },
  { id: "huddle.engineering", name: "engineering", topic: "Builds, reviews and incidents" },
  { id: "huddle.random", name: "random", topic: "Everything else" },
];
