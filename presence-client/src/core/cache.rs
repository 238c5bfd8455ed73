//! The local presence cache: joined rooms (members, count, who is typing) and watched
//! users, kept from the server's state and event frames.
//!
//! Every entry carries a `version` taken from one counter that only grows. The JS layer
//! keeps the snapshot object it built for an entry together with that version and
//! hands out the same object until the version moves, which is what React's
//! `useSyncExternalStore` needs. One counter (rather than one per entry) means a room
//! that is left and joined again never comes back with a version it had before.

use presence_protocol::Presence;

use super::vecmap::{VecMap, VecSet};

/// One joined room as the client knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomView {
    /// Members by user id.
    pub members: VecMap<Presence>,
    /// The member count. In a large room `members` lists only part of them and this
    /// comes from `room_count`.
    pub count: u64,
    /// Members typing now (never this user: the server does not echo own typing).
    pub typing: VecSet,
    /// Changes whenever anything above does.
    pub version: u64,
}

/// A watched user as the client knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    /// The user's presence as last received.
    pub presence: Presence,
    /// Changes whenever `presence` does.
    pub version: u64,
}

#[derive(Debug, Default)]
/// The joined rooms and watched users, with their versions.
pub struct Cache {
    rooms: VecMap<RoomView>,
    users: VecMap<UserView>,
    version: u64,
}

impl Cache {
    /// A joined room, once its `room_state` has arrived.
    pub fn room(&self, room: &str) -> Option<&RoomView> {
        self.rooms.get(room)
    }

    /// A watched user, once their presence has arrived.
    pub fn user(&self, user: &str) -> Option<&UserView> {
        self.users.get(user)
    }

    /// Every room known, by id.
    pub fn rooms(&self) -> impl Iterator<Item = (&str, &RoomView)> {
        self.rooms.iter()
    }

    /// A fresh version number for something that just changed.
    pub fn bump(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    /// `room_state`: the room as it is now. Replaces whatever was known, so members
    /// who left while the client was away do not survive a resync.
    pub fn replace_room(
        &mut self,
        room: String,
        count: u64,
        members: Vec<Presence>,
        typing: Vec<String>,
    ) {
        let version = self.bump();
        let mut view = RoomView {
            members: VecMap::new(),
            count,
            typing: VecSet::new(),
            version,
        };
        for p in members {
            view.members.insert(p.user.clone(), p);
        }
        for user in typing {
            view.typing.add(user);
        }
        self.rooms.insert(room, view);
    }

    /// `room_diff`. Returns false when the room is not known (not joined, or its
    /// `room_state` has not come yet; that state will include the change).
    pub fn apply_diff(
        &mut self,
        room: &str,
        joins: Vec<Presence>,
        leaves: Vec<String>,
        updates: Vec<Presence>,
    ) -> bool {
        self.version += 1;
        let version = self.version;
        let Some(view) = self.rooms.get_mut(room) else {
            return false;
        };
        for p in joins {
            if view.members.insert(p.user.clone(), p).is_none() {
                view.count += 1;
            }
        }
        for p in updates {
            if let Some(member) = view.members.get_mut(&p.user) {
                *member = p;
            }
        }
        for user in leaves {
            view.typing.remove(&user);
            if view.members.remove(&user).is_some() {
                view.count = view.count.saturating_sub(1);
            }
        }
        view.version = version;
        true
    }

    /// `room_count` (large rooms). Returns whether the room is known and changed.
    pub fn set_count(&mut self, room: &str, count: u64) -> bool {
        self.version += 1;
        let version = self.version;
        match self.rooms.get_mut(room) {
            Some(view) if view.count != count => {
                view.count = count;
                view.version = version;
                true
            }
            _ => false,
        }
    }

    /// `typing` from another member. Returns whether the room's typing set changed.
    pub fn set_typing(&mut self, room: &str, user: &str, typing: bool) -> bool {
        self.version += 1;
        let version = self.version;
        let Some(view) = self.rooms.get_mut(room) else {
            return false;
        };
        let changed = if typing {
            view.typing.add(user.to_owned())
        } else {
            view.typing.remove(user).is_some()
        };
        if changed {
            view.version = version;
        }
        changed
    }

    /// Drops a room (left, or refused by the server). Returns whether it was known.
    pub fn remove_room(&mut self, room: &str) -> bool {
        self.rooms.remove(room).is_some()
    }

    /// A watched user's presence (`presence_state` entry or `presence` event). Returns
    /// whether anything changed.
    pub fn set_user(&mut self, presence: Presence) -> bool {
        if self
            .users
            .get(&presence.user)
            .is_some_and(|u| u.presence == presence)
        {
            return false;
        }
        let version = self.bump();
        self.users
            .insert(presence.user.clone(), UserView { presence, version });
        true
    }

    /// Drops a user (unwatched, or refused). Returns whether it was known.
    pub fn remove_user(&mut self, user: &str) -> bool {
        self.users.remove(user).is_some()
    }
}
