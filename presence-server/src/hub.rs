//! This node's sessions and what they listen to: local fan-out only.
//!
//! The hub maps rooms and watched users to local sessions. An event is serialized once
//! per view (see [`events`](crate::events)) and the same bytes go to every recipient.
//! Room changes are coalesced: they wait in the room's pending diff and go out as one
//! `room_diff` per room per window, when [`Hub::flush`] runs.
//!
//! Sending never waits. Each session has a bounded outbound queue; a session whose
//! queue is full is not buffered for, but killed (its socket closes and the client
//! reconnects and resyncs), so one slow client never holds up the others.
//!
//! A session that just joined a room (or watched a user) is *held* for that topic until
//! its state frame is queued: events that arrive meanwhile wait behind it, so the
//! client never sees a diff older than the state it applies it to.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use presence_protocol::{Presence, ServerFrame};

use crate::events::{Event, RoomChange, Topic};
use crate::metrics;
pub use crate::outbox::Outbox;
use crate::ws::Utf8Bytes;

/// Frames that may wait behind a held session's state frame before it is killed.
const MAX_HELD: usize = 256;

/// Identifies a session on this node.
pub type LocalId = u64;

#[derive(Debug)]
struct LocalSession {
    user: String,
    out: Outbox,
}

/// One subscription of a session to a room or a watched user.
#[derive(Debug, Default)]
struct Sub {
    /// `Some` while the state frame is being prepared: frames wait here.
    held: Option<Vec<Utf8Bytes>>,
    /// When the state frame's snapshot was read: pending changes delivered before then
    /// are in the snapshot already and are not sent again.
    snapshot_at: Option<Instant>,
}

/// A pending change of one user in a room.
#[derive(Debug)]
struct Pending {
    user: String,
    change: RoomChange,
    /// When the newest change folded in here was delivered.
    at: Instant,
}

#[derive(Debug, Default)]
struct LocalRoom {
    subs: HashMap<LocalId, Sub>,
    /// Pending changes by user, in first-change order.
    public: Vec<Pending>,
    own: Vec<Pending>,
    count: u64,
    dirty: bool,
    count_sent: Option<(u64, Instant)>,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<LocalId, LocalSession>,
    rooms: HashMap<String, LocalRoom>,
    watchers: HashMap<String, HashMap<LocalId, Sub>>,
    dirty_rooms: Vec<String>,
    /// Rooms whose members must get a fresh `room_state` (a large room that became
    /// small again: its members' lists are out of date).
    stale_rooms: Vec<String>,
    next_id: LocalId,
}

/// See the module docs.
#[derive(Debug)]
pub struct Hub {
    /// A `std::sync::Mutex`: held for bounded, await-free work only (map updates,
    /// serializing an event once, `try_send`s).
    inner: Mutex<Inner>,
    large_room: u64,
    room_count_interval: Duration,
}

/// Whether a subscribe or unsubscribe changed this node's interest in a topic (the
/// broker is told only then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    First,
    Last,
    Unchanged,
}

fn to_bytes(frame: &ServerFrame) -> Utf8Bytes {
    metrics::frame_out(frame.type_name());
    Utf8Bytes::from(frame.to_json())
}

fn send_to(
    sessions: &HashMap<LocalId, LocalSession>,
    id: LocalId,
    sub: &mut Sub,
    frame: &Utf8Bytes,
) {
    let Some(session) = sessions.get(&id) else {
        return;
    };
    match &mut sub.held {
        Some(held) if held.len() < MAX_HELD => held.push(frame.clone()),
        Some(_) => session.out.kill(),
        None => session.out.send(frame.clone()),
    }
}

impl Hub {
    pub fn new(large_room: u64, room_count_interval: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            large_room,
            room_count_interval,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a session; it receives nothing until it subscribes to something.
    pub fn register(&self, user: &str, out: Outbox) -> LocalId {
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.sessions.insert(
            id,
            LocalSession {
                user: user.to_owned(),
                out,
            },
        );
        id
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
        inner.sessions.remove(&id);
        let rooms = rooms
            .iter()
            .filter(|r| Self::remove_room_sub(&mut inner, r, id) == Interest::Last)
            .cloned()
            .collect();
        let users = users
            .iter()
            .filter(|u| Self::remove_watch(&mut inner, u, id) == Interest::Last)
            .cloned()
            .collect();
        (rooms, users)
    }

    /// Subscribes a session to a room, held until [`release_room`](Self::release_room).
    pub fn subscribe_room(&self, room: &str, id: LocalId) -> Interest {
        let mut inner = self.lock();
        let first = !inner.rooms.contains_key(room);
        let r = inner.rooms.entry(room.to_owned()).or_default();
        r.subs.entry(id).or_default().held = Some(Vec::new());
        if first {
            metrics::local_rooms(inner.rooms.len());
            Interest::First
        } else {
            Interest::Unchanged
        }
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
        let bytes = to_bytes(state);
        let mut inner = self.lock();
        let Inner {
            sessions, rooms, ..
        } = &mut *inner;
        let Some(r) = rooms.get_mut(room) else { return };
        if !r.dirty {
            r.count = count;
        }
        let Some(sub) = r.subs.get_mut(&id) else {
            return;
        };
        sub.snapshot_at = Some(snapshot_at);
        let held = sub.held.take().unwrap_or_default();
        if let Some(s) = sessions.get(&id) {
            s.out.send(bytes);
            held.into_iter().for_each(|f| s.out.send(f));
        }
    }

    pub fn unsubscribe_room(&self, room: &str, id: LocalId) -> Interest {
        Self::remove_room_sub(&mut self.lock(), room, id)
    }

    fn remove_room_sub(inner: &mut Inner, room: &str, id: LocalId) -> Interest {
        let Some(r) = inner.rooms.get_mut(room) else {
            return Interest::Unchanged;
        };
        if r.subs.remove(&id).is_none() || !r.subs.is_empty() {
            return Interest::Unchanged;
        }
        inner.rooms.remove(room);
        metrics::local_rooms(inner.rooms.len());
        Interest::Last
    }

    /// Subscribes a session to a user's presence, held until
    /// [`release_watch`](Self::release_watch).
    pub fn subscribe_watch(&self, user: &str, id: LocalId) -> Interest {
        let mut inner = self.lock();
        let first = !inner.watchers.contains_key(user);
        inner
            .watchers
            .entry(user.to_owned())
            .or_default()
            .entry(id)
            .or_default()
            .held = Some(Vec::new());
        if first {
            Interest::First
        } else {
            Interest::Unchanged
        }
    }

    /// Queues `presence_state` to a session, then releases its held watches of `users`.
    pub fn release_watch(&self, users: &[String], id: LocalId, state: &ServerFrame) {
        let bytes = to_bytes(state);
        let mut inner = self.lock();
        let Inner {
            sessions, watchers, ..
        } = &mut *inner;
        let Some(s) = sessions.get(&id) else { return };
        s.out.send(bytes);
        for user in users {
            if let Some(sub) = watchers.get_mut(user).and_then(|w| w.get_mut(&id)) {
                sub.held
                    .take()
                    .unwrap_or_default()
                    .into_iter()
                    .for_each(|f| s.out.send(f));
            }
        }
    }

    pub fn unwatch(&self, user: &str, id: LocalId) -> Interest {
        Self::remove_watch(&mut self.lock(), user, id)
    }

    fn remove_watch(inner: &mut Inner, user: &str, id: LocalId) -> Interest {
        let Some(w) = inner.watchers.get_mut(user) else {
            return Interest::Unchanged;
        };
        if w.remove(&id).is_none() || !w.is_empty() {
            return Interest::Unchanged;
        }
        inner.watchers.remove(user);
        Interest::Last
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
                let Some(r) = inner.rooms.get_mut(room) else {
                    return;
                };
                r.count = *count;
                let now = Instant::now();
                // A large room sends counts, not diffs: keeping its changes would
                // only cost a scan per event.
                if r.count <= self.large_room {
                    if let Some(change) = public {
                        pend(&mut r.public, user, change.clone(), now);
                    }
                    if let Some(change) = own {
                        pend(&mut r.own, user, change.clone(), now);
                    }
                }
                if !r.dirty {
                    r.dirty = true;
                    inner.dirty_rooms.push(room.clone());
                }
            }
            Event::Typing { room, user, typing } => {
                // Typing goes out at once, after the room's pending changes, so a
                // client never sees a user type before it sees them join.
                self.flush_room(&mut inner, room, Instant::now());
                let Inner {
                    sessions, rooms, ..
                } = &mut *inner;
                let Some(r) = rooms.get_mut(room) else { return };
                let frame = to_bytes(&ServerFrame::Typing {
                    room: room.clone(),
                    user: user.clone(),
                    typing: *typing,
                });
                for (id, sub) in &mut r.subs {
                    if sessions.get(id).is_some_and(|s| s.user != *user) {
                        send_to(sessions, *id, sub, &frame);
                    }
                }
            }
            Event::User { user, public, own } => {
                let Inner {
                    sessions, watchers, ..
                } = &mut *inner;
                let Some(w) = watchers.get_mut(user) else {
                    return;
                };
                let public_frame = public.as_ref().map(presence_frame);
                let own_frame = match own {
                    Some(o) if Some(o) == public.as_ref() => public_frame.clone(),
                    Some(o) => Some(presence_frame(o)),
                    None => None,
                };
                for (id, sub) in w.iter_mut() {
                    let is_own = sessions.get(id).is_some_and(|s| s.user == *user);
                    if let Some(frame) = if is_own { &own_frame } else { &public_frame } {
                        send_to(sessions, *id, sub, frame);
                    }
                }
            }
        }
    }

    /// Sends every pending room diff (or, in a large room, the count). Called once per
    /// coalescing window.
    pub fn flush(&self) {
        let mut inner = self.lock();
        let now = Instant::now();
        let dirty = std::mem::take(&mut inner.dirty_rooms);
        for room in dirty {
            self.flush_room(&mut inner, &room, now);
        }
    }

    fn flush_room(&self, inner: &mut Inner, room: &str, now: Instant) {
        let Inner {
            sessions,
            rooms,
            dirty_rooms,
            stale_rooms,
            ..
        } = inner;
        let Some(r) = rooms.get_mut(room) else { return };
        if !r.dirty {
            return;
        }
        if r.count > self.large_room {
            // A large room sends its count instead of diffs, at most once an interval;
            // a change inside the interval waits for the next flush.
            r.public.clear();
            r.own.clear();
            let due = r
                .count_sent
                .is_none_or(|(_, at)| now.duration_since(at) >= self.room_count_interval);
            if r.count_sent.is_some_and(|(sent, _)| sent == r.count) {
                r.dirty = false;
                return;
            }
            if !due {
                if !dirty_rooms.iter().any(|d| d == room) {
                    dirty_rooms.push(room.to_owned());
                }
                return;
            }
            r.dirty = false;
            r.count_sent = Some((r.count, now));
            let frame = to_bytes(&ServerFrame::RoomCount {
                room: room.to_owned(),
                count: r.count,
            });
            for (id, sub) in &mut r.subs {
                send_to(sessions, *id, sub, &frame);
            }
            return;
        }
        r.dirty = false;
        if r.count_sent.take().is_some() {
            // Large until now: the members only had counts. Send them the list.
            inner_stale_push(stale_rooms, room);
        }
        let public = std::mem::take(&mut r.public);
        let own = std::mem::take(&mut r.own);
        // One frame per view, shared by every recipient of that view: the public one,
        // and one per user whose own view differs (their entry swapped in).
        let mut shared: HashMap<Option<&str>, Option<Utf8Bytes>> = HashMap::new();
        for (id, sub) in &mut r.subs {
            let Some(s) = sessions.get(id) else { continue };
            let own_entry = own.iter().find(|p| p.user == s.user);
            let entries = || {
                public
                    .iter()
                    .filter(move |p| own_entry.is_none() || p.user != s.user)
                    .chain(own_entry)
            };
            let frame = match sub.snapshot_at.take() {
                // Just joined: leave out what its room_state already showed.
                Some(t) if entries().any(|p| p.at < t) => {
                    diff_frame(room, entries().filter(|p| p.at >= t))
                }
                _ => shared
                    .entry(own_entry.map(|_| s.user.as_str()))
                    .or_insert_with(|| diff_frame(room, entries()))
                    .clone(),
            };
            if let Some(frame) = frame {
                send_to(sessions, *id, sub, &frame);
            }
        }
    }

    /// Whether any local session wants events of `topic`.
    pub fn wants(&self, topic: &Topic) -> bool {
        let inner = self.lock();
        match topic {
            Topic::Room(room) => inner.rooms.contains_key(room),
            Topic::User(user) => inner.watchers.contains_key(user),
        }
    }

    /// Rooms with local members.
    pub fn room_names(&self) -> Vec<String> {
        self.lock().rooms.keys().cloned().collect()
    }

    /// Users watched by local sessions.
    pub fn watched_users(&self) -> Vec<String> {
        self.lock().watchers.keys().cloned().collect()
    }

    /// Rooms that need a fresh `room_state` (see [`Hub::resync_room`]); clears the list.
    pub fn take_stale_rooms(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().stale_rooms)
    }

    /// Sends a fresh `room_state` to every local member of `room`, after what is
    /// pending for the room. Used when their view may be out of date.
    pub fn resync_room(&self, room: &str, state: &ServerFrame, count: u64, snapshot_at: Instant) {
        let bytes = to_bytes(state);
        let mut inner = self.lock();
        self.flush_room(&mut inner, room, Instant::now());
        let Inner {
            sessions, rooms, ..
        } = &mut *inner;
        let Some(r) = rooms.get_mut(room) else {
            return;
        };
        if !r.dirty {
            r.count = count;
        }
        for (id, sub) in &mut r.subs {
            send_to(sessions, *id, sub, &bytes);
            sub.snapshot_at = Some(snapshot_at);
        }
    }

    /// Local sessions, for metrics and tests.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }
}

fn presence_frame(p: &Presence) -> Utf8Bytes {
    to_bytes(&ServerFrame::Presence {
        presence: p.clone(),
    })
}

fn inner_stale_push(stale: &mut Vec<String>, room: &str) {
    if !stale.iter().any(|r| r == room) {
        stale.push(room.to_owned());
    }
}

fn pend(pending: &mut Vec<Pending>, user: &str, change: RoomChange, at: Instant) {
    match pending.iter_mut().find(|p| p.user == user) {
        Some(p) => {
            let old = std::mem::replace(&mut p.change, RoomChange::Leave);
            p.change = old.merge(change);
            p.at = at;
        }
        None => pending.push(Pending {
            user: user.to_owned(),
            change,
            at,
        }),
    }
}

/// A `room_diff` of these changes, serialized; `None` when there are none.
fn diff_frame<'a>(room: &str, entries: impl Iterator<Item = &'a Pending>) -> Option<Utf8Bytes> {
    let (mut joins, mut leaves, mut updates) = (Vec::new(), Vec::new(), Vec::new());
    for p in entries {
        match &p.change {
            RoomChange::Join(presence) => joins.push(presence.clone()),
            RoomChange::Leave => leaves.push(p.user.clone()),
            RoomChange::Update(presence) => updates.push(presence.clone()),
        }
    }
    if joins.is_empty() && leaves.is_empty() && updates.is_empty() {
        return None;
    }
    Some(to_bytes(&ServerFrame::RoomDiff {
        room: room.to_owned(),
        joins,
        leaves,
        updates,
    }))
}
