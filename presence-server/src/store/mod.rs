//! The presence state, behind one trait: [`Store`].
//!
//! The store knows users, their sessions, their chosen and custom status, privacy and
//! last seen, room membership and who is typing. It knows nothing of sockets, of
//! which session listens to what (that is the [`Hub`](crate::hub::Hub)), nor of
//! events (the [`service`](crate::service) derives those from the changes the store
//! reports).
//!
//! # The contract
//!
//! - Every method is one atomic step: no other call sees it half done. In the memory
//!   store that is one lock; a Redis store makes each step one Lua script, so several
//!   nodes can share it.
//! - Every method costs O(1) or O(log n) in the number of users and rooms, except
//!   [`Store::room_snapshot`] (O(members shown)) and the per-room work of a user-wide
//!   change, which is bounded by the rooms one user is in (sessions × rooms per
//!   session). Nothing scans all users or all keys.
//! - A method that changes a user returns a [`UserChange`]: the record before and
//!   after, and every room whose membership or member presence the change touches.
//!   After every change the record's `since` and `last_seen` follow
//!   [`UserRecord::settle`].
//! - Membership is per session; a user is a member of a room while any of their
//!   sessions is. Room counts and snapshots count only members others can see (not
//!   `invisible` users).
//! - Typing is per user and room, owned by the session that set it. It ends when its
//!   deadline passes ([`Store::clear_typing`] with that deadline), when the owner
//!   session stops being in the room, lingers or closes.
//! - A user without a session is forgotten once the retention (`--retention-days`)
//!   has passed since their record last changed: from then on they read as
//!   [`UserRecord::unknown`]. A user with a session, lingering or live, is kept. The
//!   Redis store gives the record a TTL; the memory store keeps the records to forget
//!   in time order and sweeps them a bounded batch at a time (`memory::retention`).
//! - Ids are validated before they reach the store. Every method takes them in one
//!   order: user, session, room.
//!
//! A store that several nodes share also keeps their leases: [`NodeLeases`], a trait
//! of its own, which a single-process store does not implement.

mod leases;
pub mod memory;
pub mod redis;

pub use leases::NodeLeases;

use async_trait::async_trait;
use presence_protocol::{ActivityState, ChosenStatus, CustomStatus, LastSeenPrivacy};

pub use crate::presence::{SessionState, UserRecord};

/// A session to add.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub user: String,
    pub name: String,
    pub device: String,
    /// The server node that holds the socket.
    pub node: String,
}

/// A room touched by a change, with the user's membership before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomEffect {
    pub room: String,
    /// Members others can see, after the change.
    pub count: u64,
    pub was_member: bool,
    pub is_member: bool,
    /// The change ended this user's typing in this room.
    pub typing_ended: bool,
}

/// What a change did to a user.
#[derive(Debug, Clone)]
pub struct UserChange {
    pub before: UserRecord,
    pub after: UserRecord,
    pub rooms: Vec<RoomEffect>,
}

/// The result of [`Store::open_session`].
#[derive(Debug, Clone)]
pub struct Opened {
    pub change: UserChange,
    /// A lingering session of the same user and device that this one took over, and
    /// the rooms it was in; they now belong to the new session. The caller confirms
    /// them when the client joins them again, and leaves the others when the grace
    /// period ends.
    pub resumed: Option<Resumed>,
    /// A lingering session of another device that was closed to make room under the
    /// session limit.
    pub evicted: Option<UserChange>,
}

/// A lingering session taken over by a new one.
#[derive(Debug, Clone)]
pub struct Resumed {
    pub session: String,
    pub rooms: Vec<String>,
}

/// A user-wide setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserUpdate {
    Status(ChosenStatus),
    Custom(Option<CustomStatus>),
    Privacy(LastSeenPrivacy),
    /// Clears the custom status if it is still the one that expires at this time.
    ExpireCustom {
        expires_at: u64,
    },
}

impl UserUpdate {
    /// Applies the update to a record (every store does it this way).
    pub fn apply(&self, rec: &mut UserRecord) {
        match self {
            Self::Status(status) => rec.chosen = *status,
            Self::Custom(custom) => rec.custom.clone_from(custom),
            Self::Privacy(privacy) => rec.privacy = *privacy,
            Self::ExpireCustom { expires_at } => {
                if rec.custom.as_ref().and_then(|c| c.expires_at) == Some(*expires_at) {
                    rec.custom = None;
                }
            }
        }
    }
}

/// What `room_snapshot` returns.
#[derive(Debug, Clone, Default)]
pub struct RoomSnapshot {
    /// Members others can see.
    pub count: u64,
    /// All of them, or in a large room the first `shown`.
    pub members: Vec<UserRecord>,
    /// Users typing now, others-visible only.
    pub typing: Vec<String>,
}

/// The result of setting typing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypingOutcome {
    /// The user was not typing in this room and now is: tell the room.
    Started,
    /// The user was typing already; the deadline moved.
    Refreshed,
    /// The user is invisible: nothing to tell anyone.
    Hidden,
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The user has as many sessions as allowed.
    #[error("user has {0} sessions already")]
    TooManySessions(usize),
    /// No such session (it was closed meanwhile, or swept).
    #[error("session {0} is gone")]
    NoSession(String),
    /// The backend could not be reached or failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// The presence state. See the module docs for the contract every method keeps.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Adds a live session. If the user has a lingering session with the same device
    /// it is taken over (see [`Opened::resumed`]): the user's device count stays the
    /// same, so a reload shows no flap. Fails with `TooManySessions` when the user
    /// already has `max_sessions` sessions and none of them lingers.
    async fn open_session(
        &self,
        session: NewSession,
        max_sessions: usize,
        now_ms: u64,
    ) -> Result<Opened, StoreError>;

    /// The socket of a session is gone: it keeps its user present (and its rooms) until
    /// [`close_session`](Store::close_session) or a resume. Ends its typing.
    async fn linger_session(
        &self,
        user: &str,
        session: &str,
        now_ms: u64,
    ) -> Result<UserChange, StoreError>;

    /// Removes a session and its memberships. Closing a session that is gone (taken
    /// over, or closed already) returns `Ok(None)`.
    async fn close_session(
        &self,
        user: &str,
        session: &str,
        now_ms: u64,
    ) -> Result<Option<UserChange>, StoreError>;

    /// Sets one session's activity.
    async fn set_activity(
        &self,
        user: &str,
        session: &str,
        activity: ActivityState,
        now_ms: u64,
    ) -> Result<UserChange, StoreError>;

    /// Changes a user-wide setting. The change's rooms are every room the user is in.
    async fn update_user(
        &self,
        user: &str,
        update: UserUpdate,
        now_ms: u64,
    ) -> Result<UserChange, StoreError>;

    /// Makes a session a member of a room (a no-op if it is one already).
    async fn join(
        &self,
        user: &str,
        session: &str,
        room: &str,
        now_ms: u64,
    ) -> Result<UserChange, StoreError>;

    /// Ends a session's membership of a room (a no-op if it is none).
    async fn leave(
        &self,
        user: &str,
        session: &str,
        room: &str,
        now_ms: u64,
    ) -> Result<UserChange, StoreError>;

    /// The members others can see and who is typing. A room of more than `large`
    /// members lists only `shown` of them.
    async fn room_snapshot(
        &self,
        room: &str,
        large: u64,
        shown: usize,
    ) -> Result<RoomSnapshot, StoreError>;

    /// The records of these users, in order; users never seen come back as
    /// [`UserRecord::unknown`].
    async fn users(&self, ids: &[String]) -> Result<Vec<UserRecord>, StoreError>;

    /// Starts or refreshes typing of `user` in `room`, owned by `session`, until
    /// `until_ms`. The caller has checked that the session is in the room.
    async fn set_typing(
        &self,
        user: &str,
        session: &str,
        room: &str,
        until_ms: u64,
    ) -> Result<TypingOutcome, StoreError>;

    /// Ends typing of `user` in `room`: at once with `deadline_ms: None`, or only if the
    /// typing still ends at `deadline_ms` (a timer firing after a refresh does
    /// nothing). Returns whether the user was typing, visibly, and now is not.
    async fn clear_typing(
        &self,
        user: &str,
        room: &str,
        deadline_ms: Option<u64>,
    ) -> Result<bool, StoreError>;

    /// Whether the store can serve (`/readyz`).
    async fn ready(&self) -> bool;
}
