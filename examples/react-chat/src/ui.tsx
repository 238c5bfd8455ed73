// Small shared pieces: avatars with a status dot, the connection badge, a clock.
import { useEffect, useState } from "react";
import { useConnectionState, type ChosenStatus, type Status } from "presence-client/react";

export type DotStatus = Status | "invisible";

export const STATUS_LABEL: Record<DotStatus, string> = {
  online: "Active",
  away: "Away",
  busy: "Do not disturb",
  offline: "Offline",
  invisible: "Invisible",
};

const PALETTE = ["#5b5bd6", "#0ea5e9", "#14b8a6", "#f97316", "#e11d48", "#8b5cf6", "#65a30d", "#d946ef"];

function colorFor(id: string): string {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length]!;
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0]![0]! + parts[parts.length - 1]![0]! : (parts[0] ?? "?").slice(0, 1);
  return letters.toUpperCase();
}

export function StatusDot({ status, className = "" }: { status: DotStatus; className?: string }) {
  return <span className={`dot dot-${status} ${className}`} title={STATUS_LABEL[status]} aria-label={STATUS_LABEL[status]} />;
}

export function Avatar({
  id,
  name,
  status,
  size = 32,
}: {
  id: string;
  name: string;
  status?: DotStatus;
  size?: number;
}) {
  return (
    <span className="avatar" style={{ width: size, height: size, fontSize: size * 0.4, background: colorFor(id) }}>
      {initials(name || id)}
      {status && <StatusDot status={status} className="avatar-dot" />}
    </span>
  );
}

/** What others see of a chosen status, given this device's activity. */
export function shownStatus(chosen: ChosenStatus, idle: boolean): DotStatus {
  if (chosen === "online") return idle ? "away" : "online";
  return chosen;
}

const CONNECTION_LABEL = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  closed: "Offline",
} as const;

export function ConnectionBadge() {
  const state = useConnectionState();
  return (
    <span className={`badge badge-${state}`} data-testid="connection" data-state={state} role="status">
      <span className="badge-light" />
      {CONNECTION_LABEL[state]}
    </span>
  );
}

/** The current time, refreshed every `everyMs` (for "last seen 5 minutes ago"). */
export function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
