// The middle column: the room's header, its activity, and the message box with the
// typing line.
import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from "react";
import { sameMembers, typingText, useRoom, useTyping, type Presence } from "presence-client/react";

import type { Room } from "./config";
import type { Account } from "./session";
import { Avatar, ConnectionBadge } from "./ui";

interface FeedItem {
  id: number;
  at: number;
  kind: "message" | "event";
  author?: Account;
  text: string;
}

// Each room's feed, kept while the page lives (switching rooms keeps it).
const feeds = new Map<string, FeedItem[]>();
let nextId = 1;

function useFeed(roomId: string): [FeedItem[], (item: Omit<FeedItem, "id" | "at">) => void] {
  const [items, setItems] = useState<FeedItem[]>(() => feeds.get(roomId) ?? []);
  const add = useRef((item: Omit<FeedItem, "id" | "at">) => {
    setItems((list) => {
      const next = [...list, { ...item, id: nextId++, at: Date.now() }].slice(-200);
      feeds.set(roomId, next);
      return next;
    });
  }).current;
  return [items, add];
}

export function RoomView({ room, account }: { room: Room; account: Account }) {
  return <RoomBody key={room.id} room={room} account={account} />;
}

function RoomBody({ room, account }: { room: Room; account: Account }) {
  const [items, add] = useFeed(room.id);
  useActivity(room.id, account.id, add);
  return (
    <main className="room">
      <RoomHeader room={room} />
      <Feed room={room} items={items} />
      <Composer room={room} onSend={(text) => add({ kind: "message", author: account, text })} />
    </main>
  );
}

function RoomHeader({ room }: { room: Room }) {
  const count = useRoom(room.id, (r) => r.count);
  const faces = useRoom(room.id, (r) => r.members.slice(0, 4), sameMembers);
  return (
    <header className="room-header">
      <div className="room-title">
        <h1>
          <span className="hash">#</span>
          {room.name}
        </h1>
        <p className="muted">{room.topic}</p>
      </div>
      <div className="room-meta">
        <span className="faces" title={`${count} here`}>
          {faces.map((m) => (
            <Avatar key={m.user} id={m.user} name={m.name} size={24} />
          ))}
          <span className="here" data-testid="room-count">
            {count} here
          </span>
        </span>
        <ConnectionBadge />
      </div>
    </header>
  );
}

/** Turns changes of the member list into lines of the feed: joins, leaves, statuses. */
function useActivity(roomId: string, me: string, add: (item: Omit<FeedItem, "id" | "at">) => void) {
  const members = useRoom(roomId, (r) => r.members, sameMembers);
  const before = useRef<Map<string, Presence> | null>(null);
  useEffect(() => {
    if (members.length === 0) return; // not joined yet, or reconnecting: no baseline
    const now = new Map(members.map((m) => [m.user, m]));
    const prev = before.current;
    before.current = now;
    if (!prev) return;
    for (const [id, m] of now) {
      if (id === me) continue;
      const old = prev.get(id);
      if (!old) {
        add({ kind: "event", text: `${m.name} joined` });
      } else if (old.status !== m.status) {
        add({ kind: "event", text: `${m.name} ${STATUS_CHANGE[m.status]}` });
      } else if ((old.custom?.text ?? "") !== (m.custom?.text ?? "") || old.custom?.emoji !== m.custom?.emoji) {
        add({
          kind: "event",
          text: m.custom
            ? `${m.name} set their status: ${m.custom.emoji ?? ""} ${m.custom.text ?? ""}`.trim()
            : `${m.name} cleared their status`,
        });
      }
    }
    for (const [id, m] of prev) {
      if (id !== me && !now.has(id)) add({ kind: "event", text: `${m.name} left` });
    }
  }, [members, me, add]);
}

const STATUS_CHANGE: Record<Presence["status"], string> = {
  online: "is active",
  away: "is away",
  busy: "is busy: do not disturb",
  offline: "went offline",
};

const time = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });

function Feed({ room, items }: { room: Room; items: FeedItem[] }) {
  const end = useRef<HTMLDivElement>(null);
  useEffect(() => {
    // Braces: in recent browsers scrollIntoView() returns a promise, and an effect must
    // return nothing or its cleanup.
    end.current?.scrollIntoView({ block: "end" });
  }, [items.length]);
  return (
    <section className="feed" aria-label={`#${room.name} activity`}>
      <div className="feed-intro">
        <div className="feed-icon">#</div>
        <h2>Welcome to #{room.name}</h2>
        <p className="muted">
          {room.topic}. Everyone here sees who's around, who's typing and what they're up to, live. Messages stay on
          this device: presence-server carries presence, your app carries the messages.
        </p>
      </div>
      {items.map((item) =>
        item.kind === "message" ? (
          <article className="message" key={item.id}>
            <Avatar id={item.author!.id} name={item.author!.name} size={36} />
            <div>
              <div className="message-meta">
                <strong>{item.author!.name}</strong>
                <time className="muted small">{time.format(item.at)}</time>
              </div>
              <p>{item.text}</p>
            </div>
          </article>
        ) : (
          <div className="event" key={item.id}>
            <span>{item.text}</span>
            <time className="muted small">{time.format(item.at)}</time>
          </div>
        ),
      )}
      <div ref={end} />
    </section>
  );
}

function Composer({ room, onSend }: { room: Room; onSend: (text: string) => void }) {
  const [text, setText] = useState("");
  const { typingUsers, onInput, onSubmit } = useTyping(room.id);
  const line = typingText(typingUsers);

  const send = (e?: FormEvent) => {
    e?.preventDefault();
    const message = text.trim();
    if (!message) return;
    onSend(message);
    setText("");
    onSubmit();
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey) send(e);
  };

  return (
    <form className="composer" onSubmit={send}>
      <div className="composer-box">
        <textarea
          rows={1}
          placeholder={`Message #${room.name}`}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onInput={onInput}
          onKeyDown={onKeyDown}
          data-testid="composer"
        />
        <button className="send" type="submit" disabled={!text.trim()} aria-label="Send">
          <svg viewBox="0 0 20 20" width="18" height="18" aria-hidden>
            <path d="M2.5 10 17 3l-4.5 14-2.7-5.6L2.5 10Z" fill="currentColor" />
          </svg>
        </button>
      </div>
      <div className="typing-line" data-testid="typing-line" aria-live="polite">
        {line && (
          <>
            <span className="typing-dots" aria-hidden>
              <i />
              <i />
              <i />
            </span>
            {line}
          </>
        )}
      </div>
    </form>
  );
}
