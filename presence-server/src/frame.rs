//! Serialized protocol frames: what the hub fans out and a session's queue holds.
//!
//! A frame is serialized once per view and the same bytes go to every recipient, so
//! the serialized form is cheap to clone. It knows nothing of how it travels: the
//! WebSocket codec ([`ws`](crate::ws)) frames it on the way out.

use bytes::Bytes;
use presence_protocol::ServerFrame;

use crate::metrics;

/// UTF-8 text, cheap to clone: one serialized frame shared by every recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    pub const fn from_static(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }

    pub fn as_str(&self) -> &str {
        // Only built from `str`s.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

/// Serializes a frame the server sends, and counts it by type.
pub(crate) fn serialize(frame: &ServerFrame) -> Utf8Bytes {
    metrics::frame_out(frame.type_name());
    Utf8Bytes::from(frame.to_json())
}
