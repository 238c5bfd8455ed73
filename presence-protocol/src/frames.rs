use serde::{Deserialize, Serialize};

use crate::{ActivityState, ChosenStatus, CustomStatus, ErrorCode, LastSeenPrivacy, Presence};

/// A string that never shows in `Debug` output (tokens end up in logs otherwise).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Every frame a client sends. `ref` is an optional client-chosen integer that the
/// server's direct answer carries back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// The first frame of a connection.
    Hello {
        token: Secret,
        /// A free label (web, ios, desktop…), at most 32 characters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device: Option<String>,
        /// The client library and version, for logs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
    },
    /// Liveness; answered by `pong`.
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// This device's idle detection result.
    Activity {
        state: ActivityState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// The user's chosen status, on all devices.
    SetStatus {
        status: ChosenStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// Sets (or with `null` clears) the custom status.
    SetCustom {
        /// Required: `null` clears, a missing field is a bad frame (not a clear).
        #[serde(deserialize_with = "Option::deserialize")]
        custom: Option<CustomStatus>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// Enter a room; answered by `room_state`.
    Join {
        room: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// Leave a room at once.
    Leave {
        room: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// Receive `presence` events for these users; answered by `presence_state`.
    Watch {
        users: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// Stop watching these users.
    Unwatch {
        users: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// A one-off read; answered by `presence_state`.
    Query {
        users: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// Start (or refresh) or stop typing in a joined room. Never acknowledged.
    Typing {
        room: String,
        typing: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// How others see this user's last seen.
    SetPrivacy {
        last_seen: LastSeenPrivacy,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
}

impl ClientFrame {
    /// The wire `type`, for logs and metric labels.
    pub const fn type_name(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "hello",
            Self::Ping { .. } => "ping",
            Self::Activity { .. } => "activity",
            Self::SetStatus { .. } => "set_status",
            Self::SetCustom { .. } => "set_custom",
            Self::Join { .. } => "join",
            Self::Leave { .. } => "leave",
            Self::Watch { .. } => "watch",
            Self::Unwatch { .. } => "unwatch",
            Self::Query { .. } => "query",
            Self::Typing { .. } => "typing",
            Self::SetPrivacy { .. } => "set_privacy",
        }
    }

    /// The frame's `ref`, if it has one.
    pub const fn reference(&self) -> Option<u64> {
        match self {
            Self::Hello { .. } => None,
            Self::Ping { r#ref }
            | Self::Activity { r#ref, .. }
            | Self::SetStatus { r#ref, .. }
            | Self::SetCustom { r#ref, .. }
            | Self::Join { r#ref, .. }
            | Self::Leave { r#ref, .. }
            | Self::Watch { r#ref, .. }
            | Self::Unwatch { r#ref, .. }
            | Self::Query { r#ref, .. }
            | Self::Typing { r#ref, .. }
            | Self::SetPrivacy { r#ref, .. } => *r#ref,
        }
    }
}

/// The user a session speaks for, as `welcome` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// Every frame the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The answer to a good `hello`.
    Welcome {
        session: String,
        user: UserInfo,
        heartbeat_ms: u64,
        typing_ttl_ms: u64,
        server_time: u64,
    },
    /// The answer to `join`: the room as it is now.
    RoomState {
        room: String,
        count: u64,
        members: Vec<Presence>,
        typing: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// A large room's member count changed.
    RoomCount { room: String, count: u64 },
    /// Members entered, left, or changed; at most one per room per coalescing window.
    RoomDiff {
        room: String,
        #[serde(default)]
        joins: Vec<Presence>,
        #[serde(default)]
        leaves: Vec<String>,
        #[serde(default)]
        updates: Vec<Presence>,
    },
    /// The answer to `watch` and `query`.
    PresenceState {
        users: Vec<Presence>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// A watched user's presence changed.
    Presence { presence: Presence },
    /// A member started or stopped typing.
    Typing {
        room: String,
        user: String,
        typing: bool,
    },
    /// A request with a `ref` is done.
    Ack { r#ref: u64 },
    /// A request failed, or the session is about to be closed.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// The answer to `ping`.
    Pong {
        server_time: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
}

impl ServerFrame {
    /// The wire `type`, for logs and metric labels.
    pub const fn type_name(&self) -> &'static str {
        match self {
            Self::Welcome { .. } => "welcome",
            Self::RoomState { .. } => "room_state",
            Self::RoomCount { .. } => "room_count",
            Self::RoomDiff { .. } => "room_diff",
            Self::PresenceState { .. } => "presence_state",
            Self::Presence { .. } => "presence",
            Self::Typing { .. } => "typing",
            Self::Ack { .. } => "ack",
            Self::Error { .. } => "error",
            Self::Pong { .. } => "pong",
        }
    }

    /// An `error` frame.
    pub fn error(code: ErrorCode, message: impl Into<String>, r#ref: Option<u64>) -> Self {
        Self::Error {
            code,
            message: message.into(),
            r#ref,
        }
    }

    /// The frame as JSON text.
    #[cfg(feature = "json")]
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every map key is a string and no
        // Serialize impl here returns an error.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}
