//! The browser skin over [`crate::core`]: it turns browser events into
//! [`Input`](crate::core::Input)s and carries out the core's
//! [`Effect`](crate::core::Effect)s.
//!
//! - `client.rs`: the `PresenceClient` class, the drain loop that keeps re-entrant
//!   calls from listeners safe, and the one timer.
//! - `snapshots.rs`: the snapshot objects, the same one until what it shows changes.
//! - `dom.rs`: the page's listeners (activity, visibility, online/offline, the
//!   back-forward cache) and what each event means to the core.
//! - `handles.rs`: DOM listeners and the WebSocket as values that clean up on drop.
//! - `js.rs`: frames through the browser's `JSON.parse`, snapshot objects,
//!   options, errors.
//! - `types.rs` + `presence-client.d.ts`: the hand-written TypeScript declarations.

mod client;
mod dom;
mod handles;
mod js;
mod snapshots;
mod types;

pub use client::PresenceClient;
