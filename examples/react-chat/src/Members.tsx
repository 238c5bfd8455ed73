// The right column: who is here (the room's members, live) and who was here before
// (remembered on this device, watched for their status and last seen).
import { useEffect, useState } from "react";
import {
  formatLastSeen,
  sameMembers,
  useMyStatus,
  usePresence,
  useRoom,
  type Presence,
} from "presence-client/react";

import type { Room } from "./config";
import type { Account } from "./session";
import { Avatar, shownStatus, STATUS_LABEL, useNow, type DotStatus } from "./ui";

export function Members({ room, account }: { room: Room; account: Account }) {
  return <MemberList key={room.id} room={room} account={account} />;
}

const ORDER: Record<DotStatus, number> = { online: 0, busy: 1, away: 2, invisible: 3, offline: 4 };

function MemberList({ room, account }: { room: Room; account: Account }) {
  // Members only (sameMembers): typing in the room does not render this list again.
  const members = useRoom(room.id, (r) => r.members, sameMembers);
  const roster = useRoster(account.id, room.id, members);
  const here = new Set(members.map((m) => m.user));
  const present = [...members].sort(
    (a, b) => ORDER[a.status] - ORDER[b.status] || a.name.localeCompare(b.name),
  );
  const gone = Object.entries(roster)
    .filter(([id]) => !here.has(id))
    .sort((a, b) => a[1].localeCompare(b[1]))
    .slice(0, 50);

  return (
    <aside className="members" aria-label="Members">
      <div className="section-title">
        Here now <span className="count">{present.length}</span>
      </div>
      <ul>
        {present.map((m) =>
          m.user === account.id ? <MeRow key={m.user} presence={m} /> : <MemberRow key={m.user} presence={m} />,
        )}
      </ul>
      {gone.length > 0 && (
        <>
          <div className="section-title">
            Offline <span className="count">{gone.length}</span>
          </div>
          <ul>
            {gone.map(([id, name]) => (
              <AwayRow key={id} id={id} name={name} />
            ))}
          </ul>
        </>
      )}
    </aside>
  );
}

function Row(props: {
  id: string;
  name: string;
  status: DotStatus;
  you?: boolean;
  detail: string | null;
  custom: Presence["custom"];
  lastSeen?: string | null;
}) {
  const { id, name, status, custom } = props;
  return (
    <li className={`member member-${status}`} data-testid={`member-${id}`} data-status={status}>
      <Avatar id={id} name={name} status={status} size={32} />
      <div className="member-text">
        <div className="member-name">
          {name}
          {props.you && <span className="you">you</span>}
          {custom?.emoji && (
            <span className="member-emoji" title={custom.text}>
              {custom.emoji}
            </span>
          )}
        </div>
        {custom?.text ? (
          <div className="member-custom" data-testid="custom">
            {custom.text}
          </div>
        ) : props.detail ? (
          <div className="member-detail">{props.detail}</div>
        ) : null}
        {props.lastSeen && (
          <div className="member-detail" data-testid="last-seen">
            last seen {props.lastSeen}
          </div>
        )}
      </div>
    </li>
  );
}

function MemberRow({ presence: p }: { presence: Presence }) {
  const detail = p.status === "online" ? null : STATUS_LABEL[p.status];
  return <Row id={p.user} name={p.name} status={p.status} detail={detail} custom={p.custom} />;
}

/** You, as you chose to be: "invisible" shows as such (others see you offline). */
function MeRow({ presence: p }: { presence: Presence }) {
  const me = useMyStatus();
  const status = shownStatus(me.status, me.activity === "idle");
  const detail = status === "invisible" ? "Others see you offline" : status === "online" ? null : STATUS_LABEL[status];
  return <Row id={p.user} name={p.name} status={status} you detail={detail} custom={p.custom} />;
}

/** Someone seen here before: their presence comes from watching them. */
function AwayRow({ id, name }: { id: string; name: string }) {
  const p = usePresence(id);
  const now = useNow(15_000);
  const status = p?.status ?? "offline";
  const lastSeen = p ? formatLastSeen(p, { now }) : null;
  return (
    <Row
      id={id}
      name={p?.name || name}
      status={status}
      detail={status === "offline" ? null : STATUS_LABEL[status]}
      custom={p?.custom ?? null}
      lastSeen={lastSeen}
    />
  );
}

/** Everyone this device has seen in the room (id → name), kept in localStorage. */
function useRoster(viewer: string, roomId: string, members: readonly Presence[]): Record<string, string> {
  const key = `huddle.roster.${viewer}.${roomId}`;
  const [roster, setRoster] = useState<Record<string, string>>(() => {
    try {
      return JSON.parse(localStorage.getItem(key) ?? "{}") as Record<string, string>;
    } catch {
      return {};
    }
  });
  useEffect(() => {
    setRoster((current) => {
      const missing = members.filter((m) => m.user !== viewer && current[m.user] !== m.name);
      if (missing.length === 0) return current;
      const next = { ...current };
      for (const m of missing) next[m.user] = m.name;
      localStorage.setItem(key, JSON.stringify(next));
      return next;
    });
  }, [members, key, viewer]);
  return roster;
}
