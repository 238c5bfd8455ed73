//! The sans-IO core: every rule of the client, with no browser in sight.
//!
//! [`Core::handle`] takes one [`Input`] (a user call, a socket event, a DOM event, a
//! timer) with the current time in milliseconds, updates the state, and queues
//! [`Effect`]s (open or close the socket, send a frame, fetch a token, emit an event)
//! that the caller drains with [`Core::take_effects`] and carries out. Time only enters
//! through the `now` arguments and randomness only through the seed, so the native
//! tests replay exact timelines.
//!
//! Timers follow the "poll timeout" pattern of sans-IO protocol crates (quinn-proto):
//! instead of one effect per timer, the core exposes [`Core::next_deadline`], the
//! earliest moment anything is due (a reconnect, a ping, a missing pong, idle, a typing
//! stop, a paced frame). The caller keeps one timer at that moment and feeds
//! [`Input::Timer`] when it fires; firing early is harmless, as nothing is due yet.
//!
//! # Map
//!
//! - `vocab.rs`: [`Config`], [`Input`], [`Effect`], [`Event`], [`ClientError`], [`Me`],
//!   the defaults and close codes.
//! - `machine.rs`: the [`Core`] itself: its state (the connection phases and the
//!   pending requests included), [`Core::handle`], the deadline, the views, the app's
//!   calls.
//! - `connection.rs`: moving between phases: attempts, backoff, the token, liveness
//!   (`welcome`, heartbeat, `pong`).
//! - `inbound.rs`: frames from the server into the cache; refusals.
//! - `outbound.rs`: frames to the server: refs, pacing, the resync after a reconnect.
//! - the parts each rule lives in: `backoff.rs`, `cache.rs`, `idle.rs`, `pacer.rs`,
//!   `typing.rs`, `vecmap.rs`, and the JSON codec [`wire`].

mod backoff;
mod cache;
mod connection;
mod idle;
mod inbound;
mod machine;
mod outbound;
mod pacer;
mod typing;
mod vecmap;
mod vocab;
pub mod wire;

pub use backoff::{Backoff, Rng};
pub use cache::{Cache, RoomView, UserView};
pub use idle::IdleTracker;
pub use machine::Core;
pub use pacer::{Pacer, PACE_BURST, PACE_INTERVAL_MS};
pub use typing::TypingDebounce;
pub use vecmap::{VecMap, VecSet};
pub use vocab::{
    valid_id, ClientError, Config, ConnectionState, Effect, Event, Input, Me, CLIENT_NAME,
    CLOSE_GAVE_UP, CLOSE_NORMAL, DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_MAX_MS,
    DEFAULT_HIDDEN_IDLE_MS, DEFAULT_IDLE_AFTER_MS, DEFAULT_STABLE_AFTER_MS, DEFAULT_TYPING_STOP_MS,
};
