// Equality helpers for hook selectors: with one of these as `isEqual`, a selection that
// came out equal is returned as the previous object and the component does not render.
import type { CustomStatus, Presence } from "./types.js";

/** Equal arrays of equal items (by `Object.is`, or by `item` for each pair). */
export function shallowEqualArrays<T>(
  a: readonly T[],
  b: readonly T[],
  item: (x: T, y: T) => boolean = Object.is,
): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (!item(a[i]!, b[i]!)) return false;
  }
  return true;
}

function sameCustom(a: CustomStatus | null, b: CustomStatus | null): boolean {
  return (
    a === b ||
    (a !== null &&
      b !== null &&
      a.text === b.text &&
      a.emoji === b.emoji &&
      a.expires_at === b.expires_at)
  );
}

/** Two presences that read the same (every field). */
export function samePresence(a: Presence | null, b: Presence | null): boolean {
  return (
    a === b ||
    (a !== null &&
      b !== null &&
      a.user === b.user &&
      a.name === b.name &&
      a.status === b.status &&
      a.since === b.since &&
      a.last_seen === b.last_seen &&
      a.last_seen_approx === b.last_seen_approx &&
      a.devices === b.devices &&
      sameCustom(a.custom, b.custom))
  );
}

/**
 * Two member lists that read the same: for `useRoom(id, (r) => r.members, sameMembers)`,
 * a member list that does not re-render when someone starts typing.
 */
export function sameMembers(a: readonly Presence[], b: readonly Presence[]): boolean {
  return shallowEqualArrays(a, b, samePresence);
}
