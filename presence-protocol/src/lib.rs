//! The presence wire protocol, version 1.
//!
//! Every frame is one JSON object in one WebSocket text frame, tagged by `"type"`.
//! [`ClientFrame`] is everything a client may send, [`ServerFrame`] everything the
//! server sends. Both the server and the wasm client take their types from here, so the
//! two sides cannot drift. `docs/protocol.md` in the repository describes each frame
//! with an example; the fixtures under `tests/fixtures/` hold one of each.
//!
//! This crate has no runtime dependencies besides serde (and serde_json behind the
//! default `json` feature), so it compiles for `wasm32-unknown-unknown`.
//!
//! Forward compatibility: unknown fields are ignored on both sides; an unknown `type` is
//! a [`DecodeError`] that the receiver answers (server) or skips (client).

#![warn(missing_docs)]

mod codes;
#[cfg(feature = "json")]
mod decode;
mod frames;
mod ids;
pub mod limits;
mod presence;

pub use codes::{CloseCode, ErrorCode};
#[cfg(feature = "json")]
pub use decode::{DecodeError, DecodeErrorKind};
pub use frames::{ClientFrame, Secret, ServerFrame, UserInfo};
pub use ids::{validate_device, validate_id, validate_ids, InvalidField};
pub use presence::{
    ActivityState, ChosenStatus, CustomStatus, EffectiveStatus, LastSeenApprox, LastSeenPrivacy,
    Presence,
};

/// The protocol version this crate speaks; the WebSocket route is `/v1/ws`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The WebSocket path of this protocol version.
pub const WS_PATH: &str = "/v1/ws";
