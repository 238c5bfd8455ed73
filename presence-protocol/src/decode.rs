use serde::Deserialize;

use crate::limits::{
    MAX_CLIENT_LEN, MAX_CUSTOM_EMOJI_LEN, MAX_CUSTOM_TEXT_LEN, MAX_USERS_PER_FRAME,
};
use crate::{validate_device, validate_id, validate_ids, ClientFrame, InvalidField, ServerFrame};

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// Not JSON, or not a JSON object.
    Json,
    /// No `type` field, or not a string.
    MissingType,
    /// A `type` this version does not know.
    UnknownType(String),
    /// A known `type` with a missing or wrongly typed field.
    Shape,
    /// Well-formed, but a value is out of range (an id, a length).
    Invalid(InvalidField),
}

/// A frame that could not be decoded. Never a panic: every input gives either a frame
/// or this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// What kind of failure, for the server's answer and its metrics.
    pub kind: DecodeErrorKind,
    /// Human-readable, for the `message` of the `bad_request` answer.
    pub message: String,
    /// The frame's `ref`, when it had a readable one, so the answer can carry it.
    pub reference: Option<u64>,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DecodeError {}

/// The parts of any frame we can still read when the frame as a whole is bad. `type` is
/// read as any value so that a non-string `type` is "missing type", not "malformed JSON".
#[derive(Deserialize)]
struct Envelope {
    #[serde(default, rename = "type")]
    kind: Option<serde_json::Value>,
    #[serde(default, rename = "ref")]
    reference: Option<serde_json::Value>,
}

/// Whether `text` can only be a JSON object: serde would otherwise also accept a JSON
/// array for a struct or an internally tagged enum (`["ping",7]` as a `ping`).
fn starts_as_object(text: &str) -> bool {
    text.trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('{')
}

/// Parses one frame of type `T`, which must be a JSON object.
fn parse<T: serde::de::DeserializeOwned>(text: &str, known: &[&str]) -> Result<T, DecodeError> {
    if !starts_as_object(text) {
        return Err(DecodeError {
            kind: DecodeErrorKind::Json,
            message: "malformed JSON: a frame must be a JSON object".into(),
            reference: None,
        });
    }
    serde_json::from_str(text).map_err(|e| classify(text, known, e))
}

const CLIENT_TYPES: &[&str] = &[
    "hello",
    "ping",
    "activity",
    "set_status",
    "set_custom",
    "join",
    "leave",
    "watch",
    "unwatch",
    "query",
    "typing",
    "set_privacy",
];

const SERVER_TYPES: &[&str] = &[
    "welcome",
    "room_state",
    "room_count",
    "room_diff",
    "presence_state",
    "presence",
    "typing",
    "ack",
    "error",
    "pong",
];

fn classify(text: &str, known: &[&str], err: serde_json::Error) -> DecodeError {
    let Ok(env) = serde_json::from_str::<Envelope>(text) else {
        return DecodeError {
            kind: DecodeErrorKind::Json,
            message: format!("malformed JSON: {err}"),
            reference: None,
        };
    };
    let reference = env.reference.as_ref().and_then(serde_json::Value::as_u64);
    match env.kind.as_ref().and_then(serde_json::Value::as_str) {
        None => DecodeError {
            kind: DecodeErrorKind::MissingType,
            message: "missing string field `type`".into(),
            reference,
        },
        Some(t) if !known.contains(&t) => DecodeError {
            message: format!("unknown frame type {t:?}"),
            kind: DecodeErrorKind::UnknownType(t.to_owned()),
            reference,
        },
        Some(t) => DecodeError {
            kind: DecodeErrorKind::Shape,
            message: format!("bad `{t}` frame: {err}"),
            reference,
        },
    }
}

impl ClientFrame {
    /// Parses and validates one client frame.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        let frame: Self = parse(text, CLIENT_TYPES)?;
        frame.validate().map_err(|invalid| DecodeError {
            message: invalid.to_string(),
            reference: frame.reference(),
            kind: DecodeErrorKind::Invalid(invalid),
        })?;
        Ok(frame)
    }

    /// Checks the values the types alone do not: ids, lengths, list sizes. (Checks
    /// that need the clock or the server's configuration, such as an `expires_at` in
    /// the past or a room limit, are the server's.)
    pub fn validate(&self) -> Result<(), InvalidField> {
        match self {
            Self::Hello { device, client, .. } => {
                if let Some(device) = device {
                    validate_device(device)?;
                }
                if let Some(client) = client {
                    max_chars("client", client, MAX_CLIENT_LEN)?;
                }
                Ok(())
            }
            Self::Join { room, .. } | Self::Leave { room, .. } | Self::Typing { room, .. } => {
                validate_id("room", room)
            }
            Self::Watch { users, .. } | Self::Unwatch { users, .. } | Self::Query { users, .. } => {
                validate_ids("users", users, MAX_USERS_PER_FRAME)
            }
            Self::SetCustom {
                custom: Some(custom),
                ..
            } => {
                let text = custom.text.as_deref().unwrap_or("");
                let emoji = custom.emoji.as_deref().unwrap_or("");
                max_chars("custom.text", text, MAX_CUSTOM_TEXT_LEN)?;
                max_chars("custom.emoji", emoji, MAX_CUSTOM_EMOJI_LEN)?;
                if text.trim().is_empty() && emoji.trim().is_empty() {
                    return Err(InvalidField {
                        field: "custom",
                        reason: "needs a non-empty `text` or `emoji` (send `null` to clear)".into(),
                    });
                }
                Ok(())
            }
            Self::SetCustom { custom: None, .. }
            | Self::Ping { .. }
            | Self::Activity { .. }
            | Self::SetStatus { .. }
            | Self::SetPrivacy { .. } => Ok(()),
        }
    }

    /// The frame as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

impl ServerFrame {
    /// Parses one server frame.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        parse(text, SERVER_TYPES)
    }
}

fn max_chars(field: &'static str, value: &str, max: usize) -> Result<(), InvalidField> {
    let n = value.chars().count();
    if n > max {
        return Err(InvalidField {
            field,
            reason: format!("at most {max} characters, got {n}"),
        });
    }
    Ok(())
}
