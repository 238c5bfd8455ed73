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

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use presence_protocol::{Presence, ServerFrame};
use tokio::time::Instant;

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
    /// A hash of `user`, so a fan-out loop tells most sessions apart from the sender
    /// without reading the user's string (a cache miss per recipient).
    user_key: u64,
    out: Outbox,
}

impl LocalSession {
    fn is_user(&self, user: &str, key: u64) -> bool {
        self.user_key == key && self.user == user
    }
}

fn user_key(user: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    user.hash(&mut h);
    h.finish()
}

/// A frame waiting behind a held session's state frame.
#[derive(Debug)]
struct Held {
    frame: Utf8Bytes,
    /// For a `room_diff`: when its newest change was delivered. If that is before the
    /// state's snapshot was read, the state shows all of it and the diff is dropped.
    newest: Option<Instant>,
}

/// One subscription of a session to a room or a watched user.
#[derive(Debug, Default)]
struct Sub {
    /// `Some` while the state frame is being prepared: frames wait here.
    held: Option<Vec<Held>>,
    /// When the state frame's snapshot was read: pending changes delivered before then
    /// are in the snapshot already and are not sent again.
    snapshot_at: Option<Instant>,
    /// `held` is a resync's ([`Hub::hold_room`]), not a join's.
    resync: bool,
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
    /// Has changes not sent yet; a dirty room is in `Inner::dirty_rooms`.
    dirty: bool,
    count_sent: Option<(u64, Instant)>,
    /// When the room's pending changes last went out: the next may go out once the
    /// window since then has passed.
    last_sent: Option<Instant>,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<LocalId, LocalSession>,
    rooms: HashMap<String, LocalRoom>,
    watchers: HashMap<String, HashMap<LocalId, Sub>>,
    /// Rooms with changes waiting for their window (or, if large, their count
    /// interval) to pass.
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
    /// The coalescing window: at most one `room_diff` per room per window.
    window: Duration,
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

/// Sends `frame` to a session, or queues it behind the state frame if the
/// subscription is held. `newest` is set for a `room_diff` (see [`Held::newest`]).
fn send_to(
    sessions: &HashMap<LocalId, LocalSession>,
    id: LocalId,
    sub: &mut Sub,
    frame: &Utf8Bytes,
    newest: Option<Instant>,
) {
    if let Some(session) = sessions.get(&id) {
        send_via(session, sub, frame, newest);
    }
}

/// [`send_to`] for a session already looked up.
fn send_via(session: &LocalSession, sub: &mut Sub, frame: &Utf8Bytes, newest: Option<Instant>) {
    match &mut sub.held {
        Some(held) if held.len() < MAX_HELD => held.push(Held {
            frame: frame.clone(),
            newest,
        }),
        Some(_) => session.out.kill(),
        None => session.out.send(frame.clone()),
    }
}

impl Hub {
    /// `window` is the coalescing window (`--coalesce-ms`).
    pub fn new(large_room: u64, room_count_interval: Duration, window: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            large_room,
            room_count_interval,
            window,
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
                user_key: user_key(user),
                out,
            },
        );
        id
    }

    /// Asks every session to close because the server is shutting down. A session
    /// registered after this sees the shutdown token cancelled (it is cancelled first).
    pub fn stop_all(&self) {
        for session in self.lock().sessions.values() {
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
        let sub = r.subs.entry(id).or_default();
        // A rejoin during a resync takes the hold over: its state is read after
        // everything held so far, and it sends that state itself.
        sub.held = Some(Vec::new());
        sub.resync = false;
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
        let held = sub.held.take().unwrap_or_default();
        if let Some(s) = sessions.get(&id) {
            release(s, sub, held, Some(&bytes), snapshot_at);
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
                    .for_each(|h| s.out.send(h.frame));
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
                if r.dirty {
                    // Already waiting for its window.
                    return;
                }
                r.dirty = true;
                // The leading edge: nothing went out within the window, so this goes
                // out now; otherwise it waits for the window to pass.
                if self.due(r, now) {
                    self.flush_room(&mut inner, room, now);
                }
                if inner.rooms.get(room).is_some_and(|r| r.dirty) {
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
                let key = user_key(user);
                for (id, sub) in &mut r.subs {
                    match sessions.get(id) {
                        Some(s) if !s.is_user(user, key) => send_via(s, sub, &frame, None),
                        _ => {}
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
                let key = user_key(user);
                for (id, sub) in w.iter_mut() {
                    let Some(s) = sessions.get(id) else { continue };
                    let is_own = s.is_user(user, key);
                    if let Some(frame) = if is_own { &own_frame } else { &public_frame } {
                        send_via(s, sub, frame, None);
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
        let dirty = std::mem::take(&mut inner.dirty_rooms);
        for room in dirty {
            let Some(r) = inner.rooms.get(&room) else {
                continue;
            };
            if !r.dirty {
                continue;
            }
            if self.due(r, now) {
                self.flush_room(&mut inner, &room, now);
            }
            if inner.rooms.get(&room).is_some_and(|r| r.dirty) {
                inner.dirty_rooms.push(room);
            }
        }
    }

    /// Whether the room's window has passed since its pending changes last went out.
    /// A large room is always due here: [`flush_room`](Self::flush_room) applies its
    /// count interval.
    fn due(&self, r: &LocalRoom, now: Instant) -> bool {
        r.count > self.large_room
            || r.last_sent
                .is_none_or(|at| now.duration_since(at) >= self.window)
    }

    /// Sends the room's pending changes now, whatever the window (typing and resyncs
    /// need them out first). A large room whose count interval has not passed stays
    /// dirty; the caller keeps it in `dirty_rooms`.
    fn flush_room(&self, inner: &mut Inner, room: &str, now: Instant) {
        let Inner {
            sessions,
            rooms,
            stale_rooms,
            ..
        } = inner;
        let Some(r) = rooms.get_mut(room) else { return };
        if !r.dirty {
            return;
        }
        if r.count > self.large_room {
            // A large room sends its count instead of diffs, at most once an interval;
            // a change inside the interval waits for a later flush.
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
                return;
            }
            r.dirty = false;
            r.count_sent = Some((r.count, now));
            let frame = to_bytes(&ServerFrame::RoomCount {
                room: room.to_owned(),
                count: r.count,
            });
            for (id, sub) in &mut r.subs {
                send_to(sessions, *id, sub, &frame, None);
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
        if public.is_empty() && own.is_empty() {
            return;
        }
        r.last_sent = Some(now);
        // One frame per view, shared by every recipient of that view: the public one,
        // and one per user whose own view differs (their entry swapped in).
        let mut shared: HashMap<Option<&str>, Option<(Utf8Bytes, Instant)>> = HashMap::new();
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
            if let Some((frame, newest)) = frame {
                send_to(sessions, *id, sub, &frame, Some(newest));
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

    /// Holds the subscriptions of `room` before its state is read again for a resync,
    /// so that a diff delivered while the state is read is not sent ahead of the older
    /// state (which would undo it on the client). What is pending goes out first: the
    /// state will show it. Subscriptions held already (a join in progress) are left to
    /// their own state. Returns the ones held here, for [`Hub::resync_room`].
    pub fn hold_room(&self, room: &str) -> Vec<LocalId> {
        let mut inner = self.lock();
        self.flush_room(&mut inner, room, Instant::now());
        let Some(r) = inner.rooms.get_mut(room) else {
            return Vec::new();
        };
        r.subs
            .iter_mut()
            .filter(|(_, sub)| sub.held.is_none())
            .map(|(id, sub)| {
                sub.held = Some(Vec::new());
                sub.resync = true;
                *id
            })
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
        let bytes = state.map(|(state, _)| to_bytes(state));
        let mut inner = self.lock();
        self.flush_room(&mut inner, room, Instant::now());
        let Inner {
            sessions, rooms, ..
        } = &mut *inner;
        let Some(r) = rooms.get_mut(room) else {
            return;
        };
        if let Some((_, count)) = state {
            if !r.dirty {
                r.count = count;
            }
        }
        for id in held {
            let Some(sub) = r.subs.get_mut(id) else {
                continue;
            };
            // A rejoin took the hold over, and sends its own state.
            if !std::mem::take(&mut sub.resync) {
                continue;
            }
            let Some(frames) = sub.held.take() else {
                continue;
            };
            if let Some(s) = sessions.get(id) {
                release(s, sub, frames, bytes.as_ref(), snapshot_at);
            }
        }
    }

    /// Local sessions, for metrics and tests.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }
}

/// Sends a held subscription's state frame (if any), then the frames that waited behind
/// it. The diffs sent while the state was read (its own join, say, which the leading
/// edge sends at once) are in the state if all their changes came before the snapshot.
/// Only leading ones are dropped: a later frame (a resync's state, say) may need the
/// diffs after it. Without a state nothing is dropped.
fn release(
    session: &LocalSession,
    sub: &mut Sub,
    held: Vec<Held>,
    state: Option<&Utf8Bytes>,
    snapshot_at: Instant,
) {
    let Some(state) = state else {
        held.into_iter().for_each(|h| session.out.send(h.frame));
        return;
    };
    sub.snapshot_at = Some(snapshot_at);
    session.out.send(state.clone());
    held.into_iter()
        .skip_while(|h| h.newest.is_some_and(|n| n < snapshot_at))
        .for_each(|h| session.out.send(h.frame));
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

/// A `room_diff` of these changes, serialized, and when the newest of them was
/// delivered; `None` when there are none.
fn diff_frame<'a>(
    room: &str,
    entries: impl Iterator<Item = &'a Pending>,
) -> Option<(Utf8Bytes, Instant)> {
    let (mut joins, mut leaves, mut updates) = (Vec::new(), Vec::new(), Vec::new());
    let mut newest: Option<Instant> = None;
    for p in entries {
        newest = newest.max(Some(p.at));
        match &p.change {
            RoomChange::Join(presence) => joins.push(presence.clone()),
            RoomChange::Leave => leaves.push(p.user.clone()),
            RoomChange::Update(presence) => updates.push(presence.clone()),
        }
    }
    let newest = newest?;
    let frame = to_bytes(&ServerFrame::RoomDiff {
        room: room.to_owned(),
        joins,
        leaves,
        updates,
    });
    Some((frame, newest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use presence_protocol::EffectiveStatus;

    /// A session `user` that joined `room` and waits for its state (held).
    fn joining(hub: &Hub, room: &str, user: &str) -> (LocalId, Outbox) {
        let rx = Outbox::new(64);
        let id = hub.register(user, rx.clone());
        hub.subscribe_room(room, id);
        (id, rx)
    }

    /// A session `user` in `room`, released with an empty state; returns its queue.
    fn member(hub: &Hub, room: &str, user: &str) -> Outbox {
        let (id, mut rx) = joining(hub, room, user);
        hub.release_room(room, id, &state(room), 1, Instant::now());
        assert!(matches!(
            frames(&mut rx)[..],
            [ServerFrame::RoomState { .. }]
        ));
        rx
    }

    fn state(room: &str) -> ServerFrame {
        ServerFrame::RoomState {
            room: room.into(),
            count: 1,
            members: Vec::new(),
            typing: Vec::new(),
            r#ref: None,
        }
    }

    fn join(room: &str, user: &str) -> Event {
        let presence = Presence {
            user: user.into(),
            name: String::new(),
            status: EffectiveStatus::Online,
            since: 0,
            custom: None,
            last_seen: None,
            last_seen_approx: None,
            devices: 1,
        };
        Event::Room {
            room: room.into(),
            user: user.into(),
            public: Some(RoomChange::Join(presence.clone())),
            own: Some(RoomChange::Join(presence)),
            count: 2,
        }
    }

    /// The frames queued so far.
    fn frames(rx: &mut Outbox) -> Vec<ServerFrame> {
        let mut out = Vec::new();
        while let Some(crate::outbox::Take::Frames(queued)) = rx.try_take() {
            for frame in queued {
                if let crate::ws::Outgoing::Text(t) = frame {
                    out.push(ServerFrame::decode(t.as_str()).unwrap());
                }
            }
        }
        out
    }

    /// The users joining in each `room_diff` among `frames`.
    fn joins(frames: &[ServerFrame]) -> Vec<Vec<&str>> {
        frames
            .iter()
            .filter_map(|f| match f {
                ServerFrame::RoomDiff { joins, .. } => {
                    Some(joins.iter().map(|p| p.user.as_str()).collect())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_quiet_rooms_change_goes_out_at_once_and_the_next_wait_for_the_window() {
        let hub = Hub::new(1000, Duration::from_secs(1), Duration::from_secs(3600));
        let mut rx = member(&hub, "r", "observer");
        hub.deliver(&join("r", "a"));
        assert_eq!(joins(&frames(&mut rx)), vec![vec!["a"]]);
        hub.deliver(&join("r", "b"));
        hub.deliver(&join("r", "c"));
        hub.flush();
        assert!(
            frames(&mut rx).is_empty(),
            "a second diff within the window"
        );
        // Another room has its own window.
        let mut other = member(&hub, "s", "observer2");
        hub.deliver(&join("s", "d"));
        assert_eq!(joins(&frames(&mut other)), vec![vec!["d"]]);
    }

    #[test]
    fn changes_within_the_window_go_out_together_once_it_has_passed() {
        // Long enough that the steps between two sleeps take far less, on a busy machine.
        let window = Duration::from_millis(200);
        let hub = Hub::new(1000, Duration::from_secs(1), window);
        let mut rx = member(&hub, "r", "observer");
        hub.deliver(&join("r", "a"));
        let first = Instant::now();
        hub.deliver(&join("r", "b"));
        hub.deliver(&join("r", "c"));
        std::thread::sleep(window + Duration::from_millis(10));
        hub.flush();
        let sent = Instant::now();
        assert_eq!(
            joins(&frames(&mut rx)),
            vec![vec!["a"], vec!["b", "c"]],
            "{:?} after the first",
            sent - first
        );
        // That send opened a new window: the next change waits for it.
        hub.deliver(&join("r", "d"));
        if sent.elapsed() < window {
            assert!(frames(&mut rx).is_empty());
        }
        std::thread::sleep(window + Duration::from_millis(10));
        hub.flush();
        assert_eq!(joins(&frames(&mut rx)), vec![vec!["d"]]);
        // Nothing pending: later flushes send nothing, and the next change leads again.
        hub.flush();
        assert!(frames(&mut rx).is_empty());
        std::thread::sleep(window + Duration::from_millis(10));
        hub.deliver(&join("r", "e"));
        assert_eq!(joins(&frames(&mut rx)), vec![vec!["e"]]);
    }

    #[test]
    fn a_diff_sent_while_held_and_shown_by_the_state_is_dropped() {
        let hub = Hub::new(1000, Duration::from_secs(1), Duration::from_secs(3600));
        let mut observer = member(&hub, "r", "observer");
        let (id, mut rx) = joining(&hub, "r", "joiner");
        // Its own join goes out at once (the leading edge) while it is held...
        hub.deliver(&join("r", "joiner"));
        assert_eq!(joins(&frames(&mut observer)), vec![vec!["joiner"]]);
        // ...and the snapshot, read after it, shows it: only the state is sent.
        hub.release_room("r", id, &state("r"), 2, Instant::now());
        assert!(matches!(
            frames(&mut rx)[..],
            [ServerFrame::RoomState { .. }]
        ));
    }

    #[test]
    fn a_diff_sent_while_held_after_the_snapshot_was_read_is_kept() {
        let hub = Hub::new(1000, Duration::from_secs(1), Duration::ZERO);
        let _observer = member(&hub, "r", "observer");
        let (id, mut rx) = joining(&hub, "r", "joiner");
        hub.deliver(&join("r", "joiner"));
        let snapshot_at = Instant::now();
        hub.deliver(&join("r", "late"));
        hub.release_room("r", id, &state("r"), 2, snapshot_at);
        let got = frames(&mut rx);
        assert!(matches!(got[0], ServerFrame::RoomState { .. }), "{got:?}");
        assert_eq!(joins(&got), vec![vec!["late"]]);
    }

    #[test]
    fn a_diff_delivered_while_a_resync_reads_the_state_comes_after_that_state() {
        let hub = Hub::new(1000, Duration::from_secs(1), Duration::ZERO);
        let mut rx = member(&hub, "r", "observer");
        let held = hub.hold_room("r");
        assert_eq!(held.len(), 1);
        // Delivered before the snapshot is read: the state shows it.
        hub.deliver(&join("r", "early"));
        let snapshot_at = Instant::now();
        // Delivered while it is read, after the snapshot: the state does not show it.
        hub.deliver(&join("r", "late"));
        assert!(
            frames(&mut rx).is_empty(),
            "nothing overtakes the state while it is read"
        );
        hub.resync_room("r", &held, Some((&state("r"), 3)), snapshot_at);
        let got = frames(&mut rx);
        assert!(matches!(got[0], ServerFrame::RoomState { .. }), "{got:?}");
        assert_eq!(joins(&got), vec![vec!["late"]]);
        // Released: the next change goes out at once.
        hub.deliver(&join("r", "next"));
        assert_eq!(joins(&frames(&mut rx)), vec![vec!["next"]]);
    }

    #[test]
    fn a_failed_resync_releases_what_waited_and_leaves_joins_in_progress_alone() {
        let hub = Hub::new(1000, Duration::from_secs(1), Duration::ZERO);
        let mut member_rx = member(&hub, "r", "observer");
        let (joiner, mut joiner_rx) = joining(&hub, "r", "joiner");
        let held = hub.hold_room("r");
        assert_eq!(
            held.len(),
            1,
            "the joiner is held by its join, not the resync"
        );
        hub.deliver(&join("r", "a"));
        hub.resync_room("r", &held, None, Instant::now());
        assert_eq!(joins(&frames(&mut member_rx)), vec![vec!["a"]]);
        assert!(
            frames(&mut joiner_rx).is_empty(),
            "still held for its own state"
        );
        hub.release_room("r", joiner, &state("r"), 2, Instant::now());
        assert!(matches!(
            frames(&mut joiner_rx)[..],
            [ServerFrame::RoomState { .. }]
        ));
    }

    #[test]
    fn a_rejoin_during_a_resync_takes_the_hold_over() {
        let hub = Hub::new(1000, Duration::from_secs(1), Duration::ZERO);
        let (id, mut rx) = joining(&hub, "r", "member");
        hub.release_room("r", id, &state("r"), 1, Instant::now());
        frames(&mut rx);
        let held = hub.hold_room("r");
        hub.deliver(&join("r", "before-the-rejoin"));
        // The same session joins the room again while the resync reads its state.
        hub.subscribe_room("r", id);
        let rejoin_snapshot = Instant::now();
        hub.deliver(&join("r", "after-its-snapshot"));
        hub.resync_room("r", &held, Some((&state("r"), 2)), Instant::now());
        assert!(frames(&mut rx).is_empty(), "the rejoin's state comes first");
        hub.release_room("r", id, &state("r"), 3, rejoin_snapshot);
        let got = frames(&mut rx);
        assert!(matches!(got[0], ServerFrame::RoomState { .. }), "{got:?}");
        assert_eq!(joins(&got), vec![vec!["after-its-snapshot"]]);
    }
}
