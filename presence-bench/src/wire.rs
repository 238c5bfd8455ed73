//! The two dialects the generator speaks: our protocol (`docs/protocol.md`) and the
//! baseline's Socket.IO v4 over Engine.IO v4, WebSocket transport only.
//!
//! Socket.IO framing, as much as the generator needs: the Engine.IO packet type is the
//! first character (`0` open, `2` ping, `3` pong, `4` message); a message's Socket.IO
//! packet type is the second (`0` connect, `2` event, `3` ack, `4` connect error), an
//! optional ack id follows, then JSON. So `40{"token":…}` connects to the main
//! namespace with an auth payload, `421["join","r1"]` emits `join` asking for ack 1,
//! `431[]` is that ack, and `42["user-typing",{…}]` is an event.

use std::borrow::Cow;

use serde::Deserialize;

/// Which protocol the connections speak.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// presence's own protocol on `/v1/ws`.
    Presence,
    /// The Socket.IO baseline (`presence-bench/baseline`).
    Socketio,
}

/// The URL to open for `base`: for Socket.IO, the Engine.IO WebSocket path.
pub fn ws_url(dialect: Dialect, base: &str) -> String {
    match dialect {
        Dialect::Presence => base.to_owned(),
        Dialect::Socketio => {
            let trimmed = base.trim_end_matches('/');
            if trimmed.contains("/socket.io") {
                base.to_owned()
            } else {
                format!("{trimmed}/socket.io/?EIO=4&transport=websocket")
            }
        }
    }
}

pub fn user_id(g: usize) -> String {
    format!("u{g}")
}

pub fn room_id(room: usize) -> String {
    format!("r{room}")
}

/// The connection index of a bench user id (`u123` → 123).
pub fn parse_user(id: &str) -> Option<usize> {
    id.strip_prefix('u')?.parse().ok()
}

/// Frames a client sends.
pub mod out {
    use super::Dialect;

    pub fn hello(token: &str) -> String {
        format!(
            r#"{{"type":"hello","token":"{token}","device":"bench","client":"presence-bench"}}"#
        )
    }

    pub fn sio_connect(token: &str) -> String {
        format!(r#"40{{"token":"{token}"}}"#)
    }

    pub fn join(dialect: Dialect, room: &str, reference: u64) -> String {
        match dialect {
            Dialect::Presence => format!(r#"{{"type":"join","room":"{room}","ref":{reference}}}"#),
            Dialect::Socketio => format!(r#"42{reference}["join","{room}"]"#),
        }
    }

    pub fn typing(dialect: Dialect, room: &str, typing: bool) -> String {
        match (dialect, typing) {
            (Dialect::Presence, _) => {
                format!(r#"{{"type":"typing","room":"{room}","typing":{typing}}}"#)
            }
            (Dialect::Socketio, true) => format!(r#"42["typing-start",{{"roomId":"{room}"}}]"#),
            (Dialect::Socketio, false) => format!(r#"42["typing-stop",{{"roomId":"{room}"}}]"#),
        }
    }

    pub fn custom(text: &str) -> String {
        format!(r#"{{"type":"set_custom","custom":{{"text":"{text}"}}}}"#)
    }

    pub const SIO_PONG: &str = "3";
}

/// What the generator cares about in an inbound frame.
#[derive(Debug)]
pub enum In<'a> {
    /// `welcome`, or Socket.IO's namespace connect.
    Welcome,
    /// Engine.IO open packet.
    Open,
    /// Answer to a join: `room_state` / a Socket.IO ack.
    Joined,
    Typing {
        user: Cow<'a, str>,
        typing: bool,
    },
    /// A `room_diff`, kept for the scenario that needs its entries.
    Diff(RoomDiff<'a>),
    /// Engine.IO ping: answer `3`.
    SioPing,
    /// An `error` frame or a Socket.IO connect error.
    Error(Cow<'a, str>),
    Other(Cow<'a, str>),
}

#[derive(Debug, Deserialize)]
pub struct RoomDiff<'a> {
    #[serde(borrow)]
    pub room: Cow<'a, str>,
    #[serde(default, borrow)]
    pub joins: Vec<Entry<'a>>,
    #[serde(default, borrow)]
    pub updates: Vec<Entry<'a>>,
    #[serde(default)]
    pub leaves: Vec<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
pub struct Entry<'a> {
    #[serde(borrow)]
    pub user: Cow<'a, str>,
    #[serde(default, borrow)]
    pub custom: Option<Custom<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct Custom<'a> {
    #[serde(default, borrow)]
    pub text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(default, borrow)]
    code: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct TypingFrame<'a> {
    #[serde(borrow)]
    user: Cow<'a, str>,
    typing: bool,
}

#[derive(Deserialize)]
struct SioTyping<'a> {
    #[serde(rename = "userId", borrow)]
    user_id: Cow<'a, str>,
}

/// Parses one inbound text frame.
pub fn parse(dialect: Dialect, text: &str) -> In<'_> {
    match dialect {
        Dialect::Presence => parse_presence(text),
        Dialect::Socketio => parse_sio(text),
    }
}

fn parse_presence(text: &str) -> In<'_> {
    // Typing frames are the hot path: the server writes `type` first, so one look at
    // the prefix saves a second parse.
    if text.starts_with(r#"{"type":"typing""#) {
        return match serde_json::from_str::<TypingFrame<'_>>(text) {
            Ok(t) => In::Typing {
                user: t.user,
                typing: t.typing,
            },
            Err(_) => In::Other(Cow::Borrowed("typing?")),
        };
    }
    let Ok(head) = serde_json::from_str::<Head<'_>>(text) else {
        return In::Other(Cow::Borrowed("unparsable"));
    };
    match head.ty.as_ref() {
        "typing" => match serde_json::from_str::<TypingFrame<'_>>(text) {
            Ok(t) => In::Typing {
                user: t.user,
                typing: t.typing,
            },
            Err(_) => In::Other(Cow::Borrowed("typing?")),
        },
        "room_diff" => match serde_json::from_str::<RoomDiff<'_>>(text) {
            Ok(diff) => In::Diff(diff),
            Err(_) => In::Other(Cow::Borrowed("room_diff?")),
        },
        "welcome" => In::Welcome,
        "room_state" => In::Joined,
        "error" => In::Error(head.code.unwrap_or(Cow::Borrowed("?"))),
        _ => In::Other(head.ty),
    }
}

fn parse_sio(text: &str) -> In<'_> {
    let bytes = text.as_bytes();
    match bytes.first() {
        Some(b'0') => In::Open,
        Some(b'2') => In::SioPing,
        Some(b'4') => match bytes.get(1) {
            Some(b'0') => In::Welcome,
            Some(b'3') => In::Joined,
            Some(b'4') => In::Error(Cow::Borrowed("connect_error")),
            Some(b'2') => parse_sio_event(&text[2..]),
            _ => In::Other(Cow::Borrowed("sio?")),
        },
        _ => In::Other(Cow::Borrowed("eio?")),
    }
}

fn parse_sio_event(json: &str) -> In<'_> {
    // Events are `["name",{payload}]`; the name decides.
    let name_end = json.find("\",").unwrap_or(0);
    let name = json.get(2..name_end).unwrap_or("");
    let typing = match name {
        "user-typing" => true,
        "user-stopped-typing" => false,
        other => return In::Other(Cow::Borrowed(other)),
    };
    let payload = &json[name_end + 2..json.len().saturating_sub(1)];
    match serde_json::from_str::<SioTyping<'_>>(payload) {
        Ok(p) => In::Typing {
            user: p.user_id,
            typing,
        },
        Err(_) => In::Other(Cow::Borrowed("sio-typing?")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_our_typing_and_diffs() {
        let w = r#"{"type":"welcome","session":"s","user":{"id":"u1","name":"u1"},"heartbeat_ms":1,"typing_ttl_ms":1,"server_time":1}"#;
        assert!(matches!(parse(Dialect::Presence, w), In::Welcome));
        let t = r#"{"room":"r1","type":"typing","user":"u7","typing":false}"#;
        assert!(matches!(
            parse(Dialect::Presence, t),
            In::Typing { typing: false, .. }
        ));
        let t = r#"{"type":"typing","room":"r1","user":"u7","typing":true}"#;
        assert!(
            matches!(parse(Dialect::Presence, t), In::Typing { user, typing: true } if user == "u7")
        );
        let d = r#"{"type":"room_diff","room":"r1","joins":[],"leaves":["u3"],"updates":[{"user":"u2","name":"u2","status":"online","since":1,"custom":{"text":"c0.5"},"last_seen":null,"last_seen_approx":null,"devices":1}]}"#;
        let In::Diff(diff) = parse(Dialect::Presence, d) else {
            panic!("not a diff")
        };
        assert_eq!(diff.leaves.len(), 1);
        assert_eq!(
            diff.updates[0]
                .custom
                .as_ref()
                .and_then(|c| c.text.as_deref()),
            Some("c0.5")
        );
    }

    #[test]
    fn parses_socketio() {
        assert!(matches!(
            parse(Dialect::Socketio, r#"0{"sid":"x"}"#),
            In::Open
        ));
        assert!(matches!(parse(Dialect::Socketio, "2"), In::SioPing));
        assert!(matches!(
            parse(Dialect::Socketio, r#"40{"sid":"y"}"#),
            In::Welcome
        ));
        assert!(matches!(parse(Dialect::Socketio, "431[]"), In::Joined));
        let e = r#"42["user-stopped-typing",{"userId":"u9"}]"#;
        assert!(
            matches!(parse(Dialect::Socketio, e), In::Typing { user, typing: false } if user == "u9")
        );
        let e = r#"42["user-typing",{"userId":"u9","userName":"u9"}]"#;
        assert!(
            matches!(parse(Dialect::Socketio, e), In::Typing { user, typing: true } if user == "u9")
        );
        let e = r#"42["user-online",{"userId":"u9","timestamp":1}]"#;
        assert!(matches!(parse(Dialect::Socketio, e), In::Other(n) if n == "user-online"));
    }
}
