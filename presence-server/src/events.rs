//! Events: what the service publishes through the broker and the hub fans out.
//!
//! An event carries two views where they can differ: what others see (`public`) and
//! what the user's own sessions see (`own`). They differ only for an `invisible` user,
//! whom others see leave while their own tabs still see them. `None` means that side
//! gets nothing.

use presence_protocol::Presence;
use serde::{Deserialize, Serialize};

/// A member's change in one room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", content = "p", rename_all = "snake_case")]
pub enum RoomChange {
    Join(Presence),
    Leave,
    Update(Presence),
}

impl RoomChange {
    /// Folds a newer change into a pending one of the same user (both waiting for the
    /// room's next `room_diff`). Changes carry whole presences, so the newest presence wins; what is
    /// left to decide is whether the user ends up listed or not.
    pub fn merge(self, newer: Self) -> Self {
        match (self, newer) {
            (_, Self::Leave) => Self::Leave,
            (_, Self::Join(p)) | (Self::Join(_) | Self::Leave, Self::Update(p)) => Self::Join(p),
            (Self::Update(_), Self::Update(p)) => Self::Update(p),
        }
    }
}

/// Something that happened, for the sessions that care about it. Between nodes it
/// travels as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Event {
    /// A member of `room` joined, left or changed.
    Room {
        room: String,
        user: String,
        public: Option<RoomChange>,
        own: Option<RoomChange>,
        /// Members others can see, after the change.
        count: u64,
    },
    /// A member started or stopped typing (never sent to the typist's sessions).
    Typing {
        room: String,
        user: String,
        typing: bool,
    },
    /// A user's presence changed, for their watchers.
    User {
        user: String,
        public: Option<Presence>,
        own: Option<Presence>,
    },
}

/// What an event is about, for routing between nodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    Room(String),
    User(String),
}

impl Event {
    pub fn topic(&self) -> Topic {
        match self {
            Self::Room { room, .. } | Self::Typing { room, .. } => Topic::Room(room.clone()),
            Self::User { user, .. } => Topic::User(user.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RoomChange::{Join, Leave, Update};
    use presence_protocol::{EffectiveStatus, Presence};

    fn p(status: EffectiveStatus) -> Presence {
        Presence {
            user: "u".into(),
            name: String::new(),
            status,
            since: 0,
            custom: None,
            last_seen: None,
            last_seen_approx: None,
            devices: 1,
        }
    }

    #[test]
    fn merge_keeps_the_newest_presence_and_the_final_membership() {
        let (a, b) = (p(EffectiveStatus::Online), p(EffectiveStatus::Away));
        assert_eq!(Join(a.clone()).merge(Update(b.clone())), Join(b.clone()));
        assert_eq!(
            Update(a.clone()).merge(Update(b.clone())),
            Update(b.clone())
        );
        assert_eq!(Join(a.clone()).merge(Leave), Leave);
        assert_eq!(Update(a.clone()).merge(Leave), Leave);
        assert_eq!(Leave.merge(Join(b.clone())), Join(b.clone()));
        assert_eq!(Leave.merge(Update(b.clone())), Join(b));
    }
}
