//! The browser skin over [`crate::core`]: it turns browser events into
//! [`Input`](crate::core::Input)s and carries out the core's
//! [`Effect`](crate::core::Effect)s.
//!
//! - `client.rs`: the `PresenceClient` class, the drain loop that keeps re-entrant
//!   calls from listeners safe, the one timer, and the snapshot objects.
//! - `handles.rs`: DOM listeners and the WebSocket as values that clean up on drop.
//! - `js.rs`: frames through `JSON.parse`/`JSON.stringify` and serde-wasm-bindgen,
//!   options, errors.
//! - `types.rs` + `presence-client.d.ts`: the hand-written TypeScript declarations.

mod client;
mod handles;
mod js;
mod types;

pub use client::PresenceClient;
