//! This node's sessions and what they listen to: local fan-out only.
//!
//! The hub maps rooms and watched users to local sessions. An event is serialized once
//! per view (see [`events`](crate::events)) and the same bytes go to every recipient.
//! Room changes are coalesced, at most one `room_diff` per room per window
//! (`--coalesce-ms`), with a leading edge: the first change in a room that sent nothing
//! within the last window goes out at once, from [`Hub::deliver`]; changes that follow
//! within the window wait in the room's pending diff and go out together once the
//! window since that send has passed, when [`Hub::flush`] runs. So a quiet room's
//! change is seen at once, and a busy room still costs one frame per window.
//!
//! Sending never waits. Each session has a bounded outbound queue; a session whose
//! queue is full is not buffered for, but killed (its socket closes and the client
//! reconnects and resyncs), so one slow client never holds up the others.
//!
//! A session that just joined a room (or watched a user) is *held* for that topic until
//! its state frame is queued: events that arrive meanwhile wait behind it, so the
//! client never sees a diff older than the state it applies it to.
//!
//! The hub deals in serialized frames ([`frame`](crate::frame)), never in WebSocket
//! types. Its parts:
//!
//! - `registry.rs`: who is subscribed to what: local sessions and their outboxes,
//!   rooms, watched users, and the first/last interest in a topic.
//! - `coalesce.rs`: the per-room coalescing windows (what goes out, and when).
//! - `hold.rs`: the hold/release protocol of joins and resyncs, with its invariant.

mod coalesce;
mod hold;
mod registry;
#[cfg(test)]
mod testing;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use presence_protocol::{Presence, ServerFrame};
use tokio::time::Instant;

use self::coalesce::{Flush, Views, Windows};
use self::hold::Sub;
use self::registry::{user_key, LocalRoom, LocalSession, Registry};
pub use self::registry::{Interest, LocalId};
use crate::events::{Event, Topic};
use crate::frame::{serialize, Utf8Bytes};
pub use crate::outbox::Outbox;

/// What the hub's lock guards.
#[derive(Debug, Default)]
struct Inner {
    registry: Registry,
    /// Rooms with changes waiting for their window (or, if large, their count
    /// interval) to pass.
    dirty_rooms: Vec<String>,
    /// Rooms whose members must get a fresh `room_state` (a large room that became
    /// small again: its members' lists are out of date).
    stale_rooms: Vec<String>,
    /// Large rooms with typing changes waiting for their window to pass.
    typing_rooms: Vec<String>,
}

/// See the module docs.
#[derive(Debug)]
pub struct Hub {
    /// A `std::sync::Mutex`: held for bounded, await-free work only (map updates,
    /// serializing an event once, `try_send`s).
    inner: Mutex<Inner>,
    windows: Windows,
}

/// Sends `frame` on a subscription of session `id`, if the session is still here.
fn send_to(
    sessions: &HashMap<LocalId, LocalSession>,
    id: LocalId,
    sub: &mut Sub,
    frame: &Utf8Bytes,
    newest: Option<Instant>,
) {
    if let Some(session) = sessions.get(&id) {
        sub.send(&session.out, frame, newest);
    }
}

impl Hub {
    /// `window` is the coalescing window (`--coalesce-ms`).
    pub fn new(large_room: u64, room_count_interval: Duration, window: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            windows: Windows {
                large_room,
                room_count_interval,
                window,
            },
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a session; it receives nothing until it subscribes to something.
    pub fn register(&self, user: &str, out: Outbox) -> LocalId {
        self.lock().registry.register(user, out)
    }

    /// Asks every session to close because the server is shutting down. A session
    /// registered after this sees the shutdown token cancelled (it is cancelled first).
    pub fn stop_all(&self) {
        for session in self.lock().registry.sessions.values() {
            session.out.stop();
        }
    }

    /// Removes a session and all its subscriptions; returns the topics this node no
    /// longer needs.
    pub fn unregister(
        &self,
        id: LocalId,
        rooms: &[String],
        users: &[String],
    ) -> (Vec<String>, Vec<String>) {
        let mut inner = self.lock();
        let registry = &mut inner.registry;
        registry.sessions.remove(&id);
        let rooms = rooms
            .iter()
            .filter(|r| registry.remove_room_sub(r, id) == Interest::Last)
            .cloned()
            .collect();
        let users = users
            .iter()
            .filter(|u| registry.remove_watch(u, id) == Interest::Last)
            .cloned()
            .collect();
        (rooms, users)
    }

    /// Subscribes a session to a room, held until [`release_room`](Self::release_room).
    pub fn subscribe_room(&self, room: &str, id: LocalId) -> Interest {
        let mut inner = self.lock();
        let (sub, interest) = inner.registry.room_sub(room, id);
        sub.hold_for_join();
        interest
    }

    /// Queues the state frame of a held room subscription, then what waited behind it.
    /// `snapshot_at` is when the state was read from the store (taken before the read).
    pub fn release_room(
        &self,
        room: &str,
        id: LocalId,
        state: &ServerFrame,
        count: u64,
        snapshot_at: Instant,
    ) {
        let bytes = serialize(state);
        let mut inner = self.lock();
        let Registry {
            sessions, rooms, ..
        } = &mut inner.registry;
        let Some(r) = rooms.get_mut(room) else { return };
        if !r.window.dirty {
            r.window.count = count;
        }
        let Some(sub) = r.subs.get_mut(&id) else {
            return;
        };
        let held = sub.take_held();
        if let Some(s) = sessions.get(&id) {
            sub.release(&s.out, held, Some(&bytes), snapshot_at);
        }
    }

    pub fn unsubscribe_room(&self, room: &str, id: LocalId) -> Interest {
        self.lock().registry.remove_room_sub(room, id)
    }

    /// Subscribes a session to a user's presence, held until
    /// [`release_watch`](Self::release_watch).
    pub fn subscribe_watch(&self, user: &str, id: LocalId) -> Interest {
        let mut inner = self.lock();
        let (sub, interest) = inner.registry.watch_sub(user, id);
        sub.hold_for_join();
        interest
    }

    /// Queues `presence_state` to a session, then releases its held watches of `users`.
    pub fn release_watch(&self, users: &[String], id: LocalId, state: &ServerFrame) {
        let bytes = serialize(state);
        let mut inner = self.lock();
        let Registry {
            sessions, watchers, ..
        } = &mut inner.registry;
        let Some(s) = sessions.get(&id) else { return };
        s.out.send(bytes);
        for user in users {
            if let Some(sub) = watchers.get_mut(user).and_then(|w| w.get_mut(&id)) {
                hold::send_all(&s.out, sub.take_held());
            }
        }
    }

    pub fn unwatch(&self, user: &str, id: LocalId) -> Interest {
        self.lock().registry.remove_watch(user, id)
    }

    /// Takes an event from the broker.
    pub fn deliver(&self, event: &Event) {
        let mut inner = self.lock();
        match event {
            Event::Room {
                room,
                user,
                public,
                own,
                count,
            } => {
                let Some(r) = inner.registry.rooms.get_mut(room) else {
                    return;
                };
                r.window.count = *count;
                let now = Instant::now();
                r.window
                    .pend(&self.windows, user, public.as_ref(), own.as_ref(), now);
                if r.window.dirty {
                    // Already waiting for its window.
                    return;
                }
                r.window.dirty = true;
                // The leading edge: nothing went out within the window, so this goes
                // out now; otherwise it waits for the window to pass.
                if self.windows.due(&r.window, now) {
                    self.flush_room(&mut inner, room, now);
                }
                if self.is_dirty(&inner, room) {
                    inner.dirty_rooms.push(room.clone());
                }
            }
            Event::Typing { room, user, typing } => {
                let now = Instant::now();
                let Some(r) = inner.registry.rooms.get_mut(room) else {
                    return;
                };
                if r.window.count > self.windows.large_room {
                    // A large room's typing is coalesced like its other changes: at
                    // most one batch per window, the newest change per user, with a
                    // leading edge. (Its members get counts, not diffs: no join to
                    // keep ahead of.)
                    r.window.pend_typing(user, *typing);
                    if self.windows.typing_due(&r.window, now) {
                        self.flush_typing(&mut inner, room, now);
                    } else if !inner.typing_rooms.iter().any(|t| t == room) {
                        inner.typing_rooms.push(room.clone());
                    }
                    return;
                }
                // Typing goes out at once, after the room's pending changes, so a
                // client never sees a user type before it sees them join.
                self.flush_room(&mut inner, room, now);
                let Registry {
                    sessions, rooms, ..
                } = &mut inner.registry;
                let Some(r) = rooms.get_mut(room) else { return };
                send_typing(sessions, r, room, user, *typing);
            }
            Event::User { user, public, own } => {
                let Registry {
                    sessions, watchers, ..
                } = &mut inner.registry;
                let Some(w) = watchers.get_mut(user) else {
                    return;
                };
                let public_frame = public.as_ref().map(presence_frame);
                let own_frame = match own {
                    Some(o) if Some(o) == public.as_ref() => public_frame.clone(),
                    Some(o) => Some(presence_frame(o)),
                    None => None,
                };
                let key = user_key(user);
                for (id, sub) in w.iter_mut() {
                    let Some(s) = sessions.get(id) else { continue };
                    let is_own = s.is_user(user, key);
                    if let Some(frame) = if is_own { &own_frame } else { &public_frame } {
                        sub.send(&s.out, frame, None);
                    }
                }
            }
        }
    }

    /// Sends the pending room diffs (or, in a large room, the count) of the rooms whose
    /// window (or count interval) has passed; the others wait for a later call. Called
    /// several times per window, so a diff goes out soon after its window ends.
    pub fn flush(&self) {
        let mut inner = self.lock();
        let now = Instant::now();
        for room in std::mem::take(&mut inner.typing_rooms) {
            match inner.registry.rooms.get(&room) {
                Some(r) if self.windows.typing_due(&r.window, now) => {
                    self.flush_typing(&mut inner, &room, now);
                }
                Some(_) => inner.typing_rooms.push(room),
                None => {}
            }
        }
        let dirty = std::mem::take(&mut inner.dirty_rooms);
        for room in dirty {
            let Some(r) = inner.registry.rooms.get(&room) else {
                continue;
            };
            if !r.window.dirty {
                continue;
            }
            if self.windows.due(&r.window, now) {
                self.flush_room(&mut inner, &room, now);
            }
            if self.is_dirty(&inner, &room) {
                inner.dirty_rooms.push(room);
            }
        }
    }

    /// Sends a large room's pending typing changes now.
    fn flush_typing(&self, inner: &mut Inner, room: &str, now: Instant) {
        let Registry {
            sessions, rooms, ..
        } = &mut inner.registry;
        let Some(r) = rooms.get_mut(room) else { return };
        let pending = std::mem::take(&mut r.window.typing);
        if pending.is_empty() {
            return;
        }
        r.window.typing_sent = Some(now);
        for (user, typing) in pending {
            send_typing(sessions, r, room, &user, typing);
        }
    }

    fn is_dirty(&self, inner: &Inner, room: &str) -> bool {
        inner
            .registry
            .rooms
            .get(room)
            .is_some_and(|r| r.window.dirty)
    }

    /// Sends the room's pending changes now, whatever the window (typing and resyncs
    /// need them out first). A large room whose count interval has not passed stays
    /// dirty; the caller keeps it in `dirty_rooms`.
    fn flush_room(&self, inner: &mut Inner, room: &str, now: Instant) {
        let Inner {
            registry,
            stale_rooms,
            ..
        } = inner;
        let Registry {
            sessions, rooms, ..
        } = registry;
        let Some(r) = rooms.get_mut(room) else { return };
        match self.windows.take(&mut r.window, room, now) {
            Flush::Nothing => {}
            Flush::Count(frame) => {
                for (id, sub) in &mut r.subs {
                    send_to(sessions, *id, sub, &frame, None);
                }
            }
            Flush::Diffs {
                became_small,
                diffs,
            } => {
                if became_small && !stale_rooms.iter().any(|r| r == room) {
                    // Large until now: the members only had counts. Send them the list.
                    stale_rooms.push(room.to_owned());
                }
                let Some(diffs) = diffs else { return };
                let mut views = Views::new(room, &diffs);
                for (id, sub) in &mut r.subs {
                    let Some(s) = sessions.get(id) else { continue };
                    if let Some((frame, newest)) = views.for_member(&s.user, sub.take_snapshot_at())
                    {
                        sub.send(&s.out, &frame, Some(newest));
                    }
                }
            }
        }
    }

    /// Whether any local session wants events of `topic`.
    pub fn wants(&self, topic: &Topic) -> bool {
        let inner = self.lock();
        match topic {
            Topic::Room(room) => inner.registry.rooms.contains_key(room),
            Topic::User(user) => inner.registry.watchers.contains_key(user),
        }
    }

    /// Rooms with local members.
    pub fn room_names(&self) -> Vec<String> {
        self.lock().registry.rooms.keys().cloned().collect()
    }

    /// Users watched by local sessions.
    pub fn watched_users(&self) -> Vec<String> {
        self.lock().registry.watchers.keys().cloned().collect()
    }

    /// Rooms that need a fresh `room_state` (see [`Hub::resync_room`]); clears the list.
    pub fn take_stale_rooms(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().stale_rooms)
    }

    /// Holds the subscriptions of `room` before its state is read again for a resync,
    /// so that a diff delivered while the state is read is not sent ahead of the older
    /// state (which would undo it on the client). What is pending goes out first: the
    /// state will show it. Subscriptions held already (a join in progress) are left to
    /// their own state. Returns the ones held here, for [`Hub::resync_room`].
    pub fn hold_room(&self, room: &str) -> Vec<LocalId> {
        let mut inner = self.lock();
        self.flush_room(&mut inner, room, Instant::now());
        let Some(r) = inner.registry.rooms.get_mut(room) else {
            return Vec::new();
        };
        r.subs
            .iter_mut()
            .filter_map(|(id, sub)| sub.hold_for_resync().then_some(*id))
            .collect()
    }

    /// Sends a fresh `room_state` to the members [`Hub::hold_room`] held, then what
    /// waited behind it and is not in it. Without a state (the read failed), only
    /// releases what waited.
    pub fn resync_room(
        &self,
        room: &str,
        held: &[LocalId],
        state: Option<(&ServerFrame, u64)>,
        snapshot_at: Instant,
    ) {
        let bytes = state.map(|(state, _)| serialize(state));
        let mut inner = self.lock();
        self.flush_room(&mut inner, room, Instant::now());
        let Registry {
            sessions, rooms, ..
        } = &mut inner.registry;
        let Some(r) = rooms.get_mut(room) else {
            return;
        };
        if let Some((_, count)) = state {
            if !r.window.dirty {
                r.window.count = count;
            }
        }
        for id in held {
            let Some(sub) = r.subs.get_mut(id) else {
                continue;
            };
            // A rejoin took the hold over, and sends its own state.
            let Some(frames) = sub.end_resync() else {
                continue;
            };
            if let Some(s) = sessions.get(id) {
                sub.release(&s.out, frames, bytes.as_ref(), snapshot_at);
            }
        }
    }

    /// The member count of a room this node has members of, as last heard.
    pub fn room_count(&self, room: &str) -> Option<u64> {
        self.lock().registry.rooms.get(room).map(|r| r.window.count)
    }

    /// Local sessions, for metrics and tests.
    pub fn session_count(&self) -> usize {
        self.lock().registry.sessions.len()
    }
}

/// Sends a `typing` event to the room's subscriptions, except the typist's own.
fn send_typing(
    sessions: &HashMap<LocalId, LocalSession>,
    r: &mut LocalRoom,
    room: &str,
    user: &str,
    typing: bool,
) {
    let frame = serialize(&ServerFrame::Typing {
        room: room.to_owned(),
        user: user.to_owned(),
        typing,
    });
    let key = user_key(user);
    for (id, sub) in &mut r.subs {
        match sessions.get(id) {
            Some(s) if !s.is_user(user, key) => sub.send(&s.out, &frame, None),
            _ => {}
        }
    }
}

fn presence_frame(p: &Presence) -> Utf8Bytes {
    serialize(&ServerFrame::Presence {
        presence: p.clone(),
    })
}
