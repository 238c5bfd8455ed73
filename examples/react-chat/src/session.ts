// Who is signed in, in this tab (sessionStorage: each tab may be someone else), and the
// dev token that proves it. A real app gets its token from its own backend instead.
export interface Account {
  id: string;
  name: string;
}

const KEY = "huddle.account";
const DEVICE = "huddle.device";

export function loadAccount(): Account | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Account) : null;
  } catch {
    return null;
  }
}

export function saveAccount(account: Account | null): void {
  if (account) sessionStorage.setItem(KEY, JSON.stringify(account));
  else sessionStorage.removeItem(KEY);
}

/** "Ada Lovelace" → "ada-lovelace": a valid user id ([A-Za-z0-9._:@-], 1–128). */
export function userIdFor(name: string): string {
  return (
    name
      .normalize("NFKD")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 40) || "guest"
  );
}

/**
 * A label for this tab that survives a reload: the server then resumes the session
 * within its grace period, and others see no flicker.
 */
export function deviceLabel(): string {
  let label = sessionStorage.getItem(DEVICE);
  if (!label) {
    label = `web-${Math.random().toString(36).slice(2, 8)}`;
    sessionStorage.setItem(DEVICE, label);
  }
  return label;
}

/** POST /dev/token on the server that serves the app (development mode). */
export async function fetchToken(account: Account): Promise<string> {
  const res = await fetch("/dev/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user: account.id, name: account.name }),
  });
  if (!res.ok) throw new Error(`the server refused a token (${res.status})`);
  return ((await res.json()) as { token: string }).token;
}
