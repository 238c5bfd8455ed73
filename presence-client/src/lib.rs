//! The presence browser SDK: a WebAssembly client for presence-server.
//!
//! # Layout
//!
//! - [`core`]: every rule of the client as a sans-IO state machine: the connection
//!   (connecting → open → reconnecting → closed), backoff with full jitter, heartbeat,
//!   close codes, typing debounce, idle rules, outbound pacing, the local presence
//!   cache and the resync after a reconnect. Time and randomness come in from outside,
//!   so it compiles and is tested natively (`cargo test -p presence-client`).
//! - [`web`]: the thin browser skin: the `PresenceClient` class exported to
//!   JavaScript, the WebSocket, one timer, the DOM listeners, the snapshot objects and
//!   the hand-written TypeScript types. It only turns browser events into
//!   [`core::Input`]s and carries out [`core::Effect`]s.
//!
//! The frames are `presence-protocol`'s types, the same the server uses. Incoming text
//! goes through the browser's own `JSON.parse` and a small codec over those types
//! (`core::wire`, checked against the protocol crate's serde encoding on every
//! fixture); neither serde_json nor serde's derived code ends up in the wasm.
//!
//! # Size
//!
//! `scripts/test-wasm.sh` builds the release package with opt-level `z`, fat LTO, one
//! codegen unit and `panic = "abort"` (through `CARGO_PROFILE_RELEASE_*`: profiles live
//! in the workspace manifest), runs binaryen 132's `wasm-opt -Oz`, and fails when the
//! `.wasm` plus its JS glue exceed 40 KB gzipped.

#![warn(missing_docs, unreachable_pub)]

pub mod core;
pub mod web;

pub use presence_protocol as protocol;

/// Talc instead of Rust's default wasm allocator (dlmalloc): a fraction of the code for
/// the same job, and the allocator is a sizeable share of a small module.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
