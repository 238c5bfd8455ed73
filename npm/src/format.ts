// Text helpers for presence UIs: "5 minutes ago" and "Alice and Bob are typing…".
import type { LastSeenApprox, Presence } from "./types.js";

export interface FormatLastSeenOptions {
  /** The time to measure from (epoch ms). Default `Date.now()`. */
  now?: number;
  /** A BCP 47 locale (or list) for `Intl.RelativeTimeFormat`. Default: the runtime's. */
  locale?: string | string[];
  /** `Intl.RelativeTimeFormat`'s style: "5 minutes ago", "5 min. ago", "5m ago". Default `long`. */
  style?: "long" | "short" | "narrow";
  /** What less than a minute ago reads as. Default "just now" in English, else the locale's "now". */
  justNow?: string;
  /** Labels of the coarse buckets of `approximate` privacy. Default: English. */
  approx?: Partial<Record<LastSeenApprox, string>>;
}

const APPROX: Record<LastSeenApprox, string> = {
  recently: "recently",
  week: "within a week",
  month: "within a month",
  long_ago: "a long time ago",
};

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const MONTH = 30 * DAY;
const YEAR = 365 * DAY;

const formats = new Map<string, Intl.RelativeTimeFormat>();

function relativeFormat(locale: string | string[] | undefined, style: FormatLastSeenOptions["style"]) {
  const key = `${String(locale)}|${style}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.RelativeTimeFormat(locale, { numeric: "auto", style: style ?? "long" });
    formats.set(key, format);
  }
  return format;
}

/**
 * When a user was last seen, as text: "just now", "5 minutes ago", "yesterday",
 * "3 weeks ago" (through `Intl.RelativeTimeFormat`, so in any locale).
 *
 * Give it a presence or a time (epoch ms). For a presence it answers `null` while the
 * user is not offline, and when their privacy hides it; under `approximate` privacy it
 * gives the bucket ("recently", "within a week"…).
 *
 * ```ts
 * `last seen ${formatLastSeen(presence)}` // "last seen 5 minutes ago"
 * ```
 */
export function formatLastSeen(
  value: Presence | number | null | undefined,
  options: FormatLastSeenOptions = {},
): string | null {
  if (value === null || value === undefined) return null;
  let at: number;
  if (typeof value === "number") {
    at = value;
  } else {
    if (value.status !== "offline") return null;
    if (value.last_seen === null) {
      const bucket = value.last_seen_approx;
      return bucket ? (options.approx?.[bucket] ?? APPROX[bucket]) : null;
    }
    at = value.last_seen;
  }
  const format = relativeFormat(options.locale, options.style);
  const ago = Math.max(0, (options.now ?? Date.now()) - at);
  if (ago < MINUTE) {
    if (options.justNow !== undefined) return options.justNow;
    return format.resolvedOptions().locale.startsWith("en") ? "just now" : format.format(0, "second");
  }
  const [unit, size] =
    ago < HOUR
      ? (["minute", MINUTE] as const)
      : ago < DAY
        ? (["hour", HOUR] as const)
        : ago < WEEK
          ? (["day", DAY] as const)
          : ago < MONTH
            ? (["week", WEEK] as const)
            : ago < YEAR
              ? (["month", MONTH] as const)
              : (["year", YEAR] as const);
  return format.format(-Math.floor(ago / size), unit);
}

export interface TypingTextOptions {
  /** A BCP 47 locale (or list) for `Intl.ListFormat`. Default: the runtime's. */
  locale?: string | string[];
  /** Names listed before "and N others". Default 2 (3 names are listed in full). */
  max?: number;
}

/**
 * The typing line: "" for nobody, "Alice is typing…", "Alice and Bob are typing…",
 * "Alice, Bob, and Carol are typing…", "Alice, Bob, and 3 others are typing…".
 * Takes names, or objects with a `name` (such as `useTyping`'s `typingUsers`).
 */
export function typingText(
  users: readonly (string | { readonly name: string })[],
  options: TypingTextOptions = {},
): string {
  const names = users.map((u) => (typeof u === "string" ? u : u.name));
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  const max = Math.max(1, options.max ?? 2);
  const listed =
    names.length <= max + 1
      ? names
      : [...names.slice(0, max), `${names.length - max} others`];
  const list = new Intl.ListFormat(options.locale, { type: "conjunction", style: "long" });
  return `${list.format(listed)} are typing…`;
}
