// The left column: the workspace, its rooms, and you (status picker, custom status).
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useMyStatus, useRoom, type ChosenStatus, type CustomStatus } from "presence-client/react";

import { config, ROOMS, type Room } from "./config";
import type { Account } from "./session";
import { Avatar, shownStatus, StatusDot, STATUS_LABEL, useNow } from "./ui";

export function Sidebar(props: {
  account: Account;
  activeRoom: string;
  onSelectRoom: (id: string) => void;
  onSignOut: () => void;
}) {
  return (
    <aside className="sidebar">
      <div className="brand">
        <span className="brand-mark" />
        Huddle
      </div>
      <nav className="rooms" aria-label="Rooms">
        <div className="section-title">Rooms</div>
        {ROOMS.map((room) => (
          <RoomLink
            key={room.id}
            room={room}
            active={room.id === props.activeRoom}
            onSelect={() => props.onSelectRoom(room.id)}
          />
        ))}
      </nav>
      <MeCard account={props.account} onSignOut={props.onSignOut} />
    </aside>
  );
}

/** One room: its name, how many are here, and whether someone types there. */
function RoomLink({ room, active, onSelect }: { room: Room; active: boolean; onSelect: () => void }) {
  // Two selections: this link renders again only when the count or "someone types" flips.
  const count = useRoom(room.id, (r) => r.count);
  const typing = useRoom(room.id, (r) => r.typing.length > 0);
  return (
    <button
      className={`room-link${active ? " active" : ""}`}
      onClick={onSelect}
      aria-current={active ? "page" : undefined}
      data-testid={`room-${room.name}`}
    >
      <span className="hash">#</span>
      <span className="room-name">{room.name}</span>
      {typing && !active && <span className="typing-pill" title="Someone is typing" />}
      <span className="room-count" title={`${count} here`}>
        {count > 0 ? count : ""}
      </span>
    </button>
  );
}

const CHOICES: { value: ChosenStatus; hint: string }[] = [
  { value: "online", hint: "Away by itself when you're idle" },
  { value: "away", hint: "Shown as away, whatever you do" },
  { value: "busy", hint: "Heads-down: notifications can wait" },
  { value: "invisible", hint: "Appear offline to everyone" },
];

function MeCard({ account, onSignOut }: { account: Account; onSignOut: () => void }) {
  const me = useMyStatus();
  const [menuOpen, setMenuOpen] = useState(false);
  const [dialogOpen, setDialogOpen] = useState(false);
  const now = useNow(1000);
  const custom = me.custom && (!me.custom.expires_at || me.custom.expires_at > now) ? me.custom : null;
  const dot = shownStatus(me.status, me.activity === "idle");
  const menu = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!menuOpen) return undefined;
    const close = (e: MouseEvent) => {
      if (!menu.current?.contains(e.target as Node)) setMenuOpen(false);
    };
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, [menuOpen]);

  return (
    <div className="me" ref={menu}>
      {menuOpen && (
        <div className="menu" role="menu" data-testid="status-menu">
          <div className="menu-header">
            <Avatar id={account.id} name={account.name} status={dot} size={36} />
            <div>
              <div className="menu-name">{account.name}</div>
              <div className="muted small">@{account.id}</div>
            </div>
          </div>
          <button
            className="menu-item custom-entry"
            role="menuitem"
            data-testid="custom-status-open"
            onClick={() => {
              setMenuOpen(false);
              setDialogOpen(true);
            }}
          >
            <span className="emoji">{custom?.emoji ?? "🙂"}</span>
            {custom ? (custom.text ?? "Custom status") : "Set a custom status"}
          </button>
          {custom && (
            <button
              className="menu-item subtle"
              role="menuitem"
              data-testid="custom-status-clear"
              onClick={() => me.setCustomStatus(null)}
            >
              Clear custom status
            </button>
          )}
          <div className="menu-sep" />
          {CHOICES.map((choice) => (
            <button
              key={choice.value}
              className={`menu-item${me.status === choice.value ? " checked" : ""}`}
              role="menuitemradio"
              aria-checked={me.status === choice.value}
              data-testid={`status-${choice.value}`}
              onClick={() => {
                me.setStatus(choice.value);
                setMenuOpen(false);
              }}
            >
              <StatusDot status={choice.value} />
              <span className="menu-text">
                <span>{STATUS_LABEL[choice.value]}</span>
                <span className="muted small">{choice.hint}</span>
              </span>
            </button>
          ))}
          <div className="menu-sep" />
          <button className="menu-item subtle" role="menuitem" onClick={onSignOut} data-testid="sign-out">
            Sign out
          </button>
        </div>
      )}
      <button
        className="me-button"
        onClick={() => setMenuOpen((open) => !open)}
        aria-haspopup="menu"
        aria-expanded={menuOpen}
        data-testid="me"
        data-status={me.status}
      >
        <Avatar id={account.id} name={account.name} status={dot} size={34} />
        <span className="me-text">
          <span className="me-name">{account.name}</span>
          <span className="me-status">
            {custom ? `${custom.emoji ?? ""} ${custom.text ?? ""}`.trim() : STATUS_LABEL[dot]}
          </span>
        </span>
        <span className="chevron" aria-hidden>
          ⌃
        </span>
      </button>
      {dialogOpen && (
        <CustomStatusDialog
          current={custom}
          onClose={() => setDialogOpen(false)}
          onSave={(c) => {
            me.setCustomStatus(c);
            setDialogOpen(false);
          }}
        />
      )}
    </div>
  );
}

const PRESETS: { emoji: string; text: string; clear: string }[] = [
  { emoji: "📅", text: "In a meeting", clear: "1h" },
  { emoji: "🍜", text: "Out for lunch", clear: "30m" },
  { emoji: "🚌", text: "Commuting", clear: "30m" },
  { emoji: "🤒", text: "Out sick", clear: "today" },
  { emoji: "🌴", text: "On vacation", clear: "never" },
];

const EMOJIS = ["💬", "📅", "🍜", "☕", "🚌", "🏠", "🎧", "🤒", "🌴", "🚀", "🔥", "🎉"];

interface Expiry {
  value: string;
  label: string;
  at: () => number | undefined;
}

function expiries(): Expiry[] {
  const list: Expiry[] = [
    { value: "never", label: "Don't clear", at: () => undefined },
    { value: "30m", label: "30 minutes", at: () => Date.now() + 30 * 60_000 },
    { value: "1h", label: "1 hour", at: () => Date.now() + 60 * 60_000 },
    { value: "4h", label: "4 hours", at: () => Date.now() + 4 * 60 * 60_000 },
    {
      value: "today",
      label: "Today",
      at: () => {
        const end = new Date();
        end.setHours(23, 59, 59, 0);
        return end.getTime();
      },
    },
  ];
  if (config.shortExpirySeconds) {
    const s = config.shortExpirySeconds;
    list.splice(1, 0, { value: `${s}s`, label: `${s} seconds`, at: () => Date.now() + s * 1000 });
  }
  return list;
}

function CustomStatusDialog(props: {
  current: CustomStatus | null;
  onClose: () => void;
  onSave: (custom: CustomStatus) => void;
}) {
  const [emoji, setEmoji] = useState(props.current?.emoji ?? "💬");
  const [text, setText] = useState(props.current?.text ?? "");
  const [clear, setClear] = useState("never");
  const [picking, setPicking] = useState(false);
  const options = expiries();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    const at = options.find((o) => o.value === clear)?.at();
    props.onSave({ emoji, text: text.trim(), ...(at ? { expires_at: at } : {}) });
  };

  return (
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && props.onClose()}>
      <form className="dialog" onSubmit={submit} role="dialog" aria-label="Set a custom status">
        <h2>Set a custom status</h2>
        <div className="status-input">
          <button type="button" className="emoji-button" onClick={() => setPicking((p) => !p)} aria-label="Choose an emoji">
            {emoji}
          </button>
          <input
            autoFocus
            placeholder="What's your status?"
            value={text}
            maxLength={100}
            onChange={(e) => setText(e.target.value)}
            data-testid="custom-text"
          />
        </div>
        {picking && (
          <div className="emoji-grid">
            {EMOJIS.map((e) => (
              <button
                type="button"
                key={e}
                onClick={() => {
                  setEmoji(e);
                  setPicking(false);
                }}
              >
                {e}
              </button>
            ))}
          </div>
        )}
        <div className="presets">
          {PRESETS.map((p) => (
            <button
              type="button"
              key={p.text}
              className="preset"
              onClick={() => {
                setEmoji(p.emoji);
                setText(p.text);
                setClear(p.clear);
              }}
            >
              <span className="emoji">{p.emoji}</span>
              {p.text}
            </button>
          ))}
        </div>
        <label className="field">
          <span>Clear after</span>
          <select value={clear} onChange={(e) => setClear(e.target.value)} data-testid="custom-expiry">
            {options.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </label>
        <div className="dialog-actions">
          <button type="button" className="ghost" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={!text.trim()} data-testid="custom-save">
            Save
          </button>
        </div>
      </form>
    </div>
  );
}
