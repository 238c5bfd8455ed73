// Type-checked (never run) by scripts/test-wasm.sh with `tsc --strict` against the
// built package's .d.ts: every method, option, event and payload of the hand-written
// declarations in presence-client/src/web/presence-client.d.ts is used here once, and
// the @ts-expect-error lines must stay errors.
import init, {
  PresenceClient,
  type ConnectionState,
  type CustomStatus,
  type Me,
  type Presence,
  type PresenceError,
  type PresenceErrorCode,
  type RoomSnapshot,
} from "./pkg/presence_client.js";

export async function example(): Promise<void> {
  await init();
  const client = new PresenceClient({
    url: "wss://presence.example.com/v1/ws",
    getToken: async () => "token",
    device: "web",
    idleAfterMs: 300_000,
    hiddenIdleMs: 60_000,
    typingStopMs: 1_500,
    pongTimeoutMs: 10_000,
    backoffBaseMs: 1_000,
    backoffMaxMs: 30_000,
    stableAfterMs: 10_000,
  });
  new PresenceClient({ url: "ws://localhost:8080/v1/ws", token: "t" });
  // @ts-expect-error the url is required
  new PresenceClient({ token: "t" });

  const offs: Array<() => void> = [
    client.on("connection", (e) => {
      const s: ConnectionState = e.state;
      void s;
    }),
    client.on("room", ({ room, snapshot }) => {
      const members: readonly Presence[] = snapshot?.members ?? [];
      void room, members;
    }),
    client.on("presence", ({ user, presence }) => {
      const seen: number | null = presence?.last_seen ?? null;
      void user, seen;
    }),
    client.on("typing", ({ room, user, typing }) => {
      const b: boolean = typing;
      void room, user, b;
    }),
    client.on("me", (me: Me) => void me.activity),
    client.on("error", (e: PresenceError) => {
      const code: PresenceErrorCode = e.code;
      void code, e.room, e.users, e.message;
    }),
  ];
  // @ts-expect-error unknown event
  client.on("nonsense", () => {});

  client.connect();
  client.setStatus("busy");
  // @ts-expect-error "offline" is what others see, not a status one chooses
  client.setStatus("offline");
  const custom: CustomStatus = { text: "Lunch", emoji: "🍜", expires_at: Date.now() + 3_600_000 };
  client.setCustomStatus(custom);
  client.setCustomStatus(null);
  client.setPrivacy("approximate");
  client.join("team-1.general");
  client.watch("bob");
  client.watch(["bob", "carol"]);
  client.typing("team-1.general");
  client.stopTyping("team-1.general");
  client.unwatch("bob");
  client.leave("team-1.general");

  const state: ConnectionState = client.connectionState;
  const room: RoomSnapshot | null = client.room("team-1.general");
  const count: number | undefined = room?.count;
  const typing: readonly string[] | undefined = room?.typing;
  const bob: Presence | null = client.user("bob");
  const me: Me = client.me;
  void state, count, typing, bob, me.user?.id, me.status, me.privacy, me.custom;
  // @ts-expect-error snapshots are read-only
  if (room) room.count = 3;

  offs.forEach((off) => off());
  client.destroy();
  client.free();
}
