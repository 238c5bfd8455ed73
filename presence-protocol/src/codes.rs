use serde::{Deserialize, Serialize};

/// The `code` of an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed JSON, unknown `type`, a missing or wrongly typed field, a value out of
    /// range. The connection stays open (up to the bad-frame limit).
    BadRequest,
    /// The token is missing, expired, unsigned or badly signed. Followed by close 4401.
    Unauthorized,
    /// The token does not allow joining that room or watching that user.
    Forbidden,
    /// `typing` in a room the session has not joined.
    NotJoined,
    /// The connection sends faster than its rate limit.
    RateLimited,
    /// Too many rooms per session, watched users per session or sessions per user.
    TooMany,
    /// The server could not do it (for example its store is unreachable); retry later.
    Internal,
    /// The node is under memory pressure (too many bytes queued for its sessions) and
    /// refused a request that would queue a lot more, such as a `join` of a large room.
    /// Nothing changed; retry later, with backoff.
    Busy,
    /// A code this version does not know (a newer server). Never sent by this version.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The wire name, for logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotJoined => "not_joined",
            Self::RateLimited => "rate_limited",
            Self::TooMany => "too_many",
            Self::Internal => "internal",
            Self::Busy => "busy",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every WebSocket close code the server sends, and what a client should do on each:
/// the one table the server closes from and the client decides from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CloseCode {
    /// Normal close (also the answer to a client's close frame that carried no code).
    Normal = 1000,
    /// The client broke the WebSocket protocol (RFC 6455): unmasked frame, reserved
    /// bits, fragmented or long control frame, unknown opcode.
    ProtocolError = 1002,
    /// A text frame that is not UTF-8.
    InvalidData = 1007,
    /// The user is at the sessions-per-user limit: reconnect later, with backoff.
    PolicyViolation = 1008,
    /// An inbound frame was larger than the limit.
    FrameTooBig = 1009,
    /// The server node is shutting down: reconnect (to another node) at once.
    Restarting = 1012,
    /// The client did not read fast enough (its outbound queue overflowed): reconnect
    /// and resync.
    TryAgainLater = 1013,
    /// Too many bad frames.
    ProtocolAbuse = 4400,
    /// The token was refused: get a fresh token before reconnecting.
    Unauthorized = 4401,
    /// No `hello` within the time limit.
    HelloTimeout = 4408,
    /// The rate limit was exceeded again and again.
    RateLimitAbuse = 4429,
}

impl CloseCode {
    /// The numeric code.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// Looks up a code the server may send.
    pub const fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            1000 => Self::Normal,
            1002 => Self::ProtocolError,
            1007 => Self::InvalidData,
            1008 => Self::PolicyViolation,
            1009 => Self::FrameTooBig,
            1012 => Self::Restarting,
            1013 => Self::TryAgainLater,
            4400 => Self::ProtocolAbuse,
            4401 => Self::Unauthorized,
            4408 => Self::HelloTimeout,
            4429 => Self::RateLimitAbuse,
            _ => return None,
        })
    }

    /// Whether a client should reconnect by itself after this close. 4401 needs a new
    /// token first and 4400 means the client is broken, so both say no; a normal close
    /// from the server (1000) still says yes, since the client did not ask for it.
    pub const fn should_reconnect(self) -> bool {
        !matches!(self, Self::Unauthorized | Self::ProtocolAbuse)
    }
}
