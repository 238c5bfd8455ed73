use serde::{Deserialize, Serialize};

use crate::{ActivityState, ChosenStatus, CustomStatus, ErrorCode, LastSeenPrivacy, Presence};

/// A string that never shows in `Debug` output (tokens end up in logs otherwise).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(
    /// The secret itself.
    pub String,
);

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
        /// The signed token that says who the session speaks for.
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
        /// Chosen by the client; the direct answer carries it back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// This device's idle detection result.
    Activity {
        /// Active or idle.
        state: ActivityState,
        /// Chosen by the client; the direct answer carries it back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// The user's chosen status, on all devices.
    SetStatus {
        /// The status to show.
        status: ChosenStatus,
        /// Chosen by the client; the direct answer carries it back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// Sets (or with `null` clears) the custom status.
    SetCustom {
        /// Required: `null` clears, a missing field is a bad frame (not a clear).
        #[serde(deserialize_with = "Option::deserialize")]
        custom: Option<CustomStatus>,
        /// Chosen by the client; the direct answer carries it back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// Enter a room; answered by `room_state`.
    Join {
        /// The room id.
        room: String,
        /// Chosen by the client; the direct answer carries it back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// Leave a room at once.
    Leave {
        /// The room id.
        room: String,
        /// Chosen by the client; the direct answer carries it back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// Receive `presence` events for these users; answered by `presence_state`.
    Watch {
        /// User ids, at most [`MAX_USERS_PER_FRAME`](crate::limits::MAX_USERS_PER_FRAME).
        users: Vec<String>,
        /// Chosen by the client; the direct answer carries it back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// Stop watching these users.
    Unwatch {
        /// User ids, at most [`MAX_USERS_PER_FRAME`](crate::limits::MAX_USERS_PER_FRAME).
        users: Vec<String>,
        /// Chosen by the client; the direct answer carries it back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// A one-off read; answered by `presence_state`.
    Query {
        /// User ids, at most [`MAX_USERS_PER_FRAME`](crate::limits::MAX_USERS_PER_FRAME).
        users: Vec<String>,
        /// Chosen by the client; the direct answer carries it back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// Start (or refresh) or stop typing in a joined room. Never acknowledged.
    Typing {
        /// A room the session has joined.
        room: String,
        /// `true` starts or refreshes, `false` stops.
        typing: bool,
        /// Chosen by the client; the direct answer carries it back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// How others see this user's last seen.
    SetPrivacy {
        /// What others see of this user's last seen.
        last_seen: LastSeenPrivacy,
        /// Chosen by the client; the direct answer carries it back.
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
    /// The user id, from the token.
    pub id: String,
    /// The display name, from the token.
    #[serde(default)]
    pub name: String,
}

/// Every frame the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The answer to a good `hello`.
    Welcome {
        /// This session's id.
        session: String,
        /// Who the session speaks for.
        user: UserInfo,
        /// How often the client should `ping`.
        heartbeat_ms: u64,
        /// How long a `typing:true` lasts unless refreshed.
        typing_ttl_ms: u64,
        /// The server's clock (epoch ms).
        server_time: u64,
    },
    /// The answer to `join`: the room as it is now.
    RoomState {
        /// The room id.
        room: String,
        /// The member count.
        count: u64,
        /// The members (in a large room only the first
        /// [`LARGE_ROOM_MEMBERS_SHOWN`](crate::limits::LARGE_ROOM_MEMBERS_SHOWN)).
        members: Vec<Presence>,
        /// The members typing now.
        typing: Vec<String>,
        /// The `ref` of the request this answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// A large room's member count changed.
    RoomCount {
        /// The room id.
        room: String,
        /// The member count now.
        count: u64,
    },
    /// Members entered, left, or changed; at most one per room per coalescing window.
    RoomDiff {
        /// The room id.
        room: String,
        /// Members who entered.
        #[serde(default)]
        joins: Vec<Presence>,
        /// Members who left, by user id.
        #[serde(default)]
        leaves: Vec<String>,
        /// Members whose presence changed.
        #[serde(default)]
        updates: Vec<Presence>,
    },
    /// The answer to `watch` and `query`.
    PresenceState {
        /// The users asked for.
        users: Vec<Presence>,
        /// The `ref` of the request this answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// A watched user's presence changed.
    Presence {
        /// The user's presence now.
        presence: Presence,
    },
    /// A member started or stopped typing.
    Typing {
        /// The room id.
        room: String,
        /// The member's user id.
        user: String,
        /// Started (`true`) or stopped.
        typing: bool,
    },
    /// A request with a `ref` is done.
    Ack {
        /// The request's `ref`.
        r#ref: u64,
    },
    /// A request failed, or the session is about to be closed.
    Error {
        /// What went wrong, for programs.
        code: ErrorCode,
        /// What went wrong, for people.
        message: String,
        /// The `ref` of the failed request, if it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#ref: Option<u64>,
    },
    /// The answer to `ping`.
    Pong {
        /// The server's clock (epoch ms).
        server_time: u64,
        /// The `ref` of the request this answers.
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
