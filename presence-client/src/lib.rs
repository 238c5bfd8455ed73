//! The presence browser SDK. This crate compiles for `wasm32-unknown-unknown` and
//! shares its frame types with the server through `presence-protocol`; the connection,
//! reconnect, heartbeat, typing debounce and idle detection come next.

pub use presence_protocol as protocol;
