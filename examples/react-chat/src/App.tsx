import { useCallback, useMemo, useState, type FormEvent } from "react";
import { PresenceProvider, type PresenceClientOptions, type PresenceError } from "presence-client/react";

import { config, ROOMS } from "./config";
import { Members } from "./Members";
import { RoomView } from "./Room";
import { deviceLabel, fetchToken, loadAccount, saveAccount, userIdFor, type Account } from "./session";
import { Sidebar } from "./Sidebar";

export function App() {
  const [account, setAccount] = useState<Account | null>(() => {
    const saved = loadAccount();
    if (saved) return saved;
    if (!config.name) return null;
    const fromUrl = { id: userIdFor(config.name), name: config.name };
    saveAccount(fromUrl);
    return fromUrl;
  });
  const signIn = useCallback((a: Account) => {
    saveAccount(a);
    setAccount(a);
  }, []);
  const signOut = useCallback(() => {
    saveAccount(null);
    setAccount(null);
  }, []);
  if (!account) return <SignIn onSignIn={signIn} />;
  return <Workspace key={account.id} account={account} onSignOut={signOut} />;
}

function SignIn({ onSignIn }: { onSignIn: (a: Account) => void }) {
  const [name, setName] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const trimmed = name.trim();
    if (trimmed) onSignIn({ id: userIdFor(trimmed), name: trimmed });
  };
  return (
    <div className="signin">
      <form className="signin-card" onSubmit={submit}>
        <div className="brand brand-large">
          <span className="brand-mark" />
          Huddle
        </div>
        <h1>Sign in to your team</h1>
        <p className="muted">See who's around, who's typing, and who's heads-down — live.</p>
        <label htmlFor="signin-name">Your name</label>
        <input
          id="signin-name"
          name="name"
          autoFocus
          autoComplete="name"
          placeholder="Ada Lovelace"
          value={name}
          maxLength={64}
          onChange={(e) => setName(e.target.value)}
        />
        <button className="primary" type="submit" disabled={!name.trim()}>
          Continue
        </button>
        <p className="fineprint">Development sign-in: the server hands out a token for any name.</p>
      </form>
    </div>
  );
}

function Workspace({ account, onSignOut }: { account: Account; onSignOut: () => void }) {
  const [roomId, setRoomId] = useState(() => ROOMS.find((r) => r.name === config.room)?.id ?? ROOMS[0]!.id);
  const [notice, setNotice] = useState<string | null>(null);

  const options = useMemo<PresenceClientOptions>(
    () => ({
      url: config.url,
      device: deviceLabel(),
      getToken: () => fetchToken(account),
      idleAfterMs: config.idleAfterMs,
      backoffMaxMs: config.backoffMaxMs,
    }),
    [account],
  );
  const onError = useCallback((e: PresenceError) => {
    setNotice(e.code === "token_failed" ? "Can't sign in to the presence server — retrying…" : e.message);
    setTimeout(() => setNotice(null), 5000);
  }, []);

  const room = ROOMS.find((r) => r.id === roomId)!;
  return (
    <PresenceProvider options={options} onError={onError}>
      <div className="app">
        <Sidebar account={account} activeRoom={roomId} onSelectRoom={setRoomId} onSignOut={onSignOut} />
        <RoomView room={room} account={account} />
        <Members room={room} account={account} />
      </div>
      {notice && (
        <div className="toast" role="alert">
          {notice}
        </div>
      )}
    </PresenceProvider>
  );
}
