//! Who is subscribed to what on this node: the local sessions with their outboxes, the
//! rooms they are in and the users they watch, and whether a change of these is the
//! first or last interest of this node in a topic (the broker is told only then).

use std::collections::HashMap;

use super::coalesce::RoomWindow;
use super::hold::Sub;
use crate::metrics;
use crate::outbox::Outbox;

/// Identifies a session on this node.
pub type LocalId = u64;

/// Whether a subscribe or unsubscribe changed this node's interest in a topic (the
/// broker is told only then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    First,
    Last,
    Unchanged,
}

#[derive(Debug)]
pub(super) struct LocalSession {
    pub(super) user: String,
    /// A hash of `user`, so a fan-out loop tells most sessions apart from the sender
    /// without reading the user's string (a cache miss per recipient).
    user_key: u64,
    pub(super) out: Outbox,
}

impl LocalSession {
    pub(super) fn is_user(&self, user: &str, key: u64) -> bool {
        self.user_key == key && self.user == user
    }
}

pub(super) fn user_key(user: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    user.hash(&mut h);
    h.finish()
}

/// A room with local members.
#[derive(Debug, Default)]
pub(super) struct LocalRoom {
    pub(super) subs: HashMap<LocalId, Sub>,
    pub(super) window: RoomWindow,
}

#[derive(Debug, Default)]
pub(super) struct Registry {
    pub(super) sessions: HashMap<LocalId, LocalSession>,
    pub(super) rooms: HashMap<String, LocalRoom>,
    pub(super) watchers: HashMap<String, HashMap<LocalId, Sub>>,
    next_id: LocalId,
}

impl Registry {
    pub(super) fn register(&mut self, user: &str, out: Outbox) -> LocalId {
        self.next_id += 1;
        let id = self.next_id;
        self.sessions.insert(
            id,
            LocalSession {
                user: user.to_owned(),
                user_key: user_key(user),
                out,
            },
        );
        id
    }

    /// The session's subscription to `room`, made if new.
    pub(super) fn room_sub(&mut self, room: &str, id: LocalId) -> (&mut Sub, Interest) {
        let first = !self.rooms.contains_key(room);
        if first {
            // With the room about to be added.
            metrics::local_rooms(self.rooms.len() + 1);
        }
        let r = self.rooms.entry(room.to_owned()).or_default();
        let interest = if first {
            Interest::First
        } else {
            Interest::Unchanged
        };
        (r.subs.entry(id).or_default(), interest)
    }

    pub(super) fn remove_room_sub(&mut self, room: &str, id: LocalId) -> Interest {
        let Some(r) = self.rooms.get_mut(room) else {
            return Interest::Unchanged;
        };
        if r.subs.remove(&id).is_none() || !r.subs.is_empty() {
            return Interest::Unchanged;
        }
        self.rooms.remove(room);
        metrics::local_rooms(self.rooms.len());
        Interest::Last
    }

    /// The session's watch of `user`, made if new.
    pub(super) fn watch_sub(&mut self, user: &str, id: LocalId) -> (&mut Sub, Interest) {
        let first = !self.watchers.contains_key(user);
        let sub = self
            .watchers
            .entry(user.to_owned())
            .or_default()
            .entry(id)
            .or_default();
        let interest = if first {
            Interest::First
        } else {
            Interest::Unchanged
        };
        (sub, interest)
    }

    pub(super) fn remove_watch(&mut self, user: &str, id: LocalId) -> Interest {
        let Some(w) = self.watchers.get_mut(user) else {
            return Interest::Unchanged;
        };
        if w.remove(&id).is_none() || !w.is_empty() {
            return Interest::Unchanged;
        }
        self.watchers.remove(user);
        Interest::Last
    }
}
