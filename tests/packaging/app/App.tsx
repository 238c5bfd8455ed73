"use client";
// The quick start: a provider, then a component with the connection state and the
// members of a room. The matrix copies this file into every app as src/App.tsx; for a
// page on an origin of its own (a dev server, `next start`, `vite preview`) it rewrites
// "/dev/token" and "/v1/ws" into the presence-server's absolute http:// and ws:// URLs.
import { PresenceProvider, useConnectionState, useRoom } from "presence-client/react";

const getToken = () =>
  fetch("/dev/token", { method: "POST", body: '{"user":"ada"}' })
    .then((r) => r.json())
    .then((t) => t.token);

export default function App() {
  return (
    <PresenceProvider options={{ url: "/v1/ws", getToken }}>
      <Lobby />
    </PresenceProvider>
  );
}

function Lobby() {
  const state = useConnectionState();
  const { members } = useRoom("lobby");
  return (
    <>
      <p>connection: {state}</p>
      {members.map((m) => (
        <p key={m.user}>
          {m.name}: {m.status}
        </p>
      ))}
    </>
  );
}
