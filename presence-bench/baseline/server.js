// The baseline: the presence design the project started from (the seed), as a
// small Socket.IO v4 server on @socket.io/redis-adapter and ioredis. presence-bench
// drives it with the same scenarios as presence-server (idle hold, room typing), so
// every ratio in docs/benchmarks.md comes from one machine and one run.
//
// What it keeps from the seed, on purpose:
//  - PresenceService: on connect SADD presence:<user> + EXPIRE + SET last_seen (three
//    round trips), `user-online` broadcast to everyone; on disconnect SREM + SCARD and
//    `user-offline` to everyone.
//  - TypingIndicatorService: `typing-start` / `typing-stop` from a client go to the
//    room as `user-typing` / `user-stopped-typing` (every start is broadcast, as in the
//    seed), with an auto-stop timer per user and room; disconnect scans every room and
//    timer.
//  - UserStatusService: `set-status` → HSET + EXPIRE and a broadcast to everyone.
//  - heartbeat → SET last_seen.
// What the seed leaves out and a runnable server needs: a token check (HS256, the same
// tokens presence-server takes, verified with node:crypto) and a `join` event with an
// ack, since the seed's typing goes to rooms but never shows how sockets enter one.
//
// Settings (environment):
//   PORT (3000), BIND (127.0.0.1), REDIS_URL (redis://127.0.0.1:6379),
//   JWT_SECRET (required), TYPING_TIMEOUT_MS (3000, the seed's auto-stop),
//   GLOBAL_PRESENCE (1: user-online/offline go to every socket, as the seed does;
//   0: skipped — with it on, N connections cost O(N²) frames and 10k users cannot
//   even connect, so the room benchmarks run with 0, which only favours the baseline).
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { Redis } = require('ioredis');

const PORT = Number(process.env.PORT || 3000);
const BIND = process.env.BIND || '127.0.0.1';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const SECRET = process.env.JWT_SECRET;
const TYPING_TIMEOUT_MS = Number(process.env.TYPING_TIMEOUT_MS || 3000);
const GLOBAL_PRESENCE = (process.env.GLOBAL_PRESENCE || '1') !== '0';

if (!SECRET) {
  console.error('JWT_SECRET is required');
  process.exit(2);
}

// --- Tokens: HS256 only, `sub` and `exp` required ------------------------------------
const b64url = (buf) => buf.toString('base64url');
function verifyToken(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  let header, claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url'));
  } catch {
    return null;
  }
  if (header.alg !== 'HS256') return null;
  const want = Buffer.from(b64url(crypto.createHmac('sha256', SECRET).update(`${parts[0]}.${parts[1]}`).digest()));
  const got = Buffer.from(parts[2]);
  if (want.length !== got.length || !crypto.timingSafeEqual(want, got)) return null;
  if (typeof claims.sub !== 'string' || typeof claims.exp !== 'number') return null;
  if (claims.exp * 1000 < Date.now() - 5000) return null;
  return claims;
}

// --- Redis and Socket.IO -------------------------------------------------------------
const redis = new Redis(REDIS_URL);
const pubClient = new Redis(REDIS_URL);
const subClient = pubClient.duplicate();

const httpServer = http.createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200).end('ok');
  } else {
    res.writeHead(404).end();
  }
});

const io = new Server(httpServer, {
  serveClient: false,
  transports: ['websocket'],
  adapter: createAdapter(pubClient, subClient),
});

io.use((socket, next) => {
  const claims = verifyToken(socket.handshake.auth && socket.handshake.auth.token);
  if (!claims) return next(new Error('unauthorized'));
  socket.data.user = { id: claims.sub, name: claims.name || claims.sub };
  next();
});

// --- PresenceService (seed) ----------------------------------------------------------
async function setUserOnline(userId, socketId) {
  const key = `presence:${userId}`;
  await redis.sadd(key, socketId);
  await redis.expire(key, 3600);
  await updateLastSeen(userId);
}
async function setUserOffline(userId, socketId) {
  await redis.srem(`presence:${userId}`, socketId);
}
async function isUserOnline(userId) {
  return (await redis.scard(`presence:${userId}`)) > 0;
}
async function updateLastSeen(userId) {
  await redis.set(`last_seen:${userId}`, Date.now());
}

// --- TypingIndicatorService (seed) ---------------------------------------------------
const typingUsers = new Map(); // roomId -> Set<userId>
const typingTimeouts = new Map(); // `${roomId}:${userId}` -> Timeout

function handleTypingStart(socket, roomId) {
  const userId = socket.data.user.id;
  const key = `${roomId}:${userId}`;
  if (!typingUsers.has(roomId)) typingUsers.set(roomId, new Set());
  typingUsers.get(roomId).add(userId);
  socket.to(roomId).emit('user-typing', { userId, userName: socket.data.user.name });
  if (typingTimeouts.has(key)) clearTimeout(typingTimeouts.get(key));
  typingTimeouts.set(key, setTimeout(() => handleTypingStop(socket, roomId), TYPING_TIMEOUT_MS));
}

function handleTypingStop(socket, roomId) {
  const userId = socket.data.user.id;
  const key = `${roomId}:${userId}`;
  const users = typingUsers.get(roomId);
  if (users) users.delete(userId);
  if (typingTimeouts.has(key)) {
    clearTimeout(typingTimeouts.get(key));
    typingTimeouts.delete(key);
  }
  socket.to(roomId).emit('user-stopped-typing', { userId });
}

function handleTypingDisconnect(socket) {
  const userId = socket.data.user.id;
  typingUsers.forEach((users, roomId) => {
    if (users.has(userId)) {
      users.delete(userId);
      socket.to(roomId).emit('user-stopped-typing', { userId });
    }
  });
  typingTimeouts.forEach((timeout, key) => {
    if (key.endsWith(`:${userId}`)) {
      clearTimeout(timeout);
      typingTimeouts.delete(key);
    }
  });
}

// --- UserStatusService (seed) --------------------------------------------------------
async function setUserStatus(userId, status) {
  const key = `status:${userId}`;
  await redis.hset(key, { status, updatedAt: Date.now() });
  await redis.expire(key, 3600);
  io.emit('user-status-changed', { userId, status, timestamp: Date.now() });
}

io.on('connection', async (socket) => {
  const userId = socket.data.user.id;

  socket.on('join', (roomId, ack) => {
    if (typeof roomId === 'string') socket.join(roomId);
    if (typeof ack === 'function') ack();
  });
  socket.on('typing-start', (msg) => msg && handleTypingStart(socket, msg.roomId));
  socket.on('typing-stop', (msg) => msg && handleTypingStop(socket, msg.roomId));
  socket.on('heartbeat', () => updateLastSeen(userId).catch(() => {}));
  socket.on('set-status', (msg) => msg && setUserStatus(userId, msg.status).catch(() => {}));
  socket.on('disconnect', async () => {
    handleTypingDisconnect(socket);
    try {
      await setUserOffline(userId, socket.id);
      if (!(await isUserOnline(userId)) && GLOBAL_PRESENCE) {
        socket.broadcast.emit('user-offline', { userId, timestamp: Date.now() });
      }
    } catch {
      // Redis gone: the seed has no answer for that either.
    }
  });

  try {
    await setUserOnline(userId, socket.id);
  } catch {
    return;
  }
  if (GLOBAL_PRESENCE) {
    socket.broadcast.emit('user-online', { userId, timestamp: Date.now() });
  }
});

httpServer.listen(PORT, BIND, () => {
  console.error(`baseline listening on ${BIND}:${PORT} (redis ${REDIS_URL}, global presence ${GLOBAL_PRESENCE ? 'on' : 'off'})`);
});

function shutdown() {
  // Exit soon whatever the sockets and Redis clients are doing (a Redis that is gone
  // keeps ioredis retrying forever).
  setTimeout(() => process.exit(0), 300);
  try {
    io.close();
    redis.disconnect();
    pubClient.disconnect();
    subClient.disconnect();
  } catch {
    process.exit(0);
  }
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
