import { describe, expect, it } from "vitest";

import { formatLastSeen, typingText } from "../src/format.js";
import { presence } from "./fake-client.js";

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const ago = (ms: number) => NOW - ms;
const MIN = 60_000;

describe("formatLastSeen", () => {
  const en = { now: NOW, locale: "en" };

  it("reads like a person would say it", () => {
    expect(formatLastSeen(ago(5_000), en)).toBe("just now");
    expect(formatLastSeen(ago(59_999), en)).toBe("just now");
    expect(formatLastSeen(ago(MIN), en)).toBe("1 minute ago");
    expect(formatLastSeen(ago(5 * MIN + 20_000), en)).toBe("5 minutes ago");
    expect(formatLastSeen(ago(3 * 60 * MIN), en)).toBe("3 hours ago");
    expect(formatLastSeen(ago(24 * 60 * MIN), en)).toBe("yesterday");
    expect(formatLastSeen(ago(3 * 24 * 60 * MIN), en)).toBe("3 days ago");
    expect(formatLastSeen(ago(14 * 24 * 60 * MIN), en)).toBe("2 weeks ago");
    expect(formatLastSeen(ago(90 * 24 * 60 * MIN), en)).toBe("3 months ago");
    expect(formatLastSeen(ago(800 * 24 * 60 * MIN), en)).toBe("2 years ago");
  });

  it("treats a time in the future (clock skew) as just now", () => {
    expect(formatLastSeen(NOW + 30_000, en)).toBe("just now");
  });

  it("uses Intl.RelativeTimeFormat's locales and styles", () => {
    expect(formatLastSeen(ago(5 * MIN), { ...en, style: "short" })).toBe("5 min. ago");
    expect(formatLastSeen(ago(5 * MIN), { now: NOW, locale: "de" })).toBe("vor 5 Minuten");
    expect(formatLastSeen(ago(1000), { now: NOW, locale: "de" })).toBe("jetzt");
    expect(formatLastSeen(ago(1000), { ...en, justNow: "moments ago" })).toBe("moments ago");
  });

  it("answers for a presence only when offline, by its privacy", () => {
    expect(formatLastSeen(presence("bob"), en)).toBeNull();
    expect(formatLastSeen(presence("bob", { status: "offline", last_seen: ago(2 * MIN) }), en)).toBe(
      "2 minutes ago",
    );
    expect(formatLastSeen(presence("bob", { status: "offline", last_seen_approx: "week" }), en)).toBe(
      "within a week",
    );
    expect(formatLastSeen(presence("bob", { status: "offline" }), en)).toBeNull();
    expect(formatLastSeen(null)).toBeNull();
  });
});

describe("typingText", () => {
  it("names who is typing", () => {
    expect(typingText([])).toBe("");
    expect(typingText(["Alice"])).toBe("Alice is typing…");
    expect(typingText(["Alice", "Bob"], { locale: "en" })).toBe("Alice and Bob are typing…");
    expect(typingText([{ name: "Alice" }, { name: "Bob" }, { name: "Carol" }], { locale: "en" })).toBe(
      "Alice, Bob, and Carol are typing…",
    );
    expect(typingText(["A", "B", "C", "D", "E"], { locale: "en" })).toBe("A, B, and 3 others are typing…");
  });
});
