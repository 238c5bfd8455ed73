//! Tokens and patterns: every JWT trick is refused at `hello` with `unauthorized`
//! and close 4401 (`docs/protocol.md`, "Security (tokens)"); what a token's `rooms`
//! and `watch` patterns do not allow is `forbidden`, what is no valid id is a
//! `bad_request`, and neither closes the connection.

use presence_protocol::ServerFrame;
use presence_server::auth::{Auth, Claims};
use presence_server::clock::now_ms;
use serde_json::json;

use super::common::{token_with, Client, SECRET};
use super::raw::{Raw, TEXT};
use super::{Got, Target};

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

fn claims(sub: &str, exp: u64) -> Claims {
    Claims {
        sub: sub.to_owned(),
        name: Some("Mallory".to_owned()),
        exp,
        rooms: None,
        watch: None,
    }
}

fn in_an_hour() -> u64 {
    now_ms() / 1000 + 3600
}

/// Says hello with `token` on a raw socket: what comes back.
async fn hello_with(t: &Target, token: &str) -> Got {
    let mut raw = Raw::upgrade(t).await;
    let hello = json!({"type": "hello", "token": token, "device": "x"});
    raw.frame(TEXT, true, hello.to_string().as_bytes()).await;
    raw.outcome().await
}

/// An unsigned token: `{"alg":"none"}`, good claims, no signature.
pub(crate) async fn alg_none(t: Target) -> Got {
    let body = serde_json::to_string(&claims("mallory", in_an_hour())).unwrap();
    let unsigned = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&body));
    hello_with(&t, &unsigned).await
}

/// Signed with another secret.
pub(crate) async fn wrong_key(t: Target) -> Got {
    let forged = Auth::hs256(b"another-secret-another-secret-another!")
        .sign(&claims("mallory", in_an_hour()))
        .unwrap();
    hello_with(&t, &forged).await
}

/// Expired a minute ago (past the 5 s leeway).
pub(crate) async fn expired(t: Target) -> Got {
    hello_with(&t, &token_with("mallory", None, None, -60)).await
}

/// Properly signed, with a `sub` that is no valid user id.
pub(crate) async fn bad_sub(t: Target) -> Got {
    let token = Auth::hs256(SECRET.as_bytes())
        .sign(&claims("../admin", in_an_hour()))
        .unwrap();
    hello_with(&t, &token).await
}

/// Not a JWT at all.
pub(crate) async fn not_a_jwt(t: Target) -> Got {
    hello_with(&t, "a.b.c\u{0}").await
}

/// Sends each frame with its own `ref` and reads its answer: the `error` code, or
/// "ok" for any other answer carrying the ref.
async fn answers(c: &mut Client, frames: Vec<serde_json::Value>) -> Got {
    let mut codes = Vec::new();
    for (r, mut frame) in (100u64..).zip(frames) {
        frame["ref"] = json!(r);
        c.send(frame).await;
        let answer = c
            .recv_until(|f| match f {
                ServerFrame::Error { r#ref, .. } => *r#ref == Some(r),
                ServerFrame::RoomState { r#ref, .. } | ServerFrame::PresenceState { r#ref, .. } => {
                    *r#ref == Some(r)
                }
                ServerFrame::Ack { r#ref } => *r#ref == r,
                _ => false,
            })
            .await;
        codes.push(match answer {
            ServerFrame::Error { code, .. } => serde_json::to_value(code)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned(),
            _ => "ok".to_owned(),
        });
    }
    // Still open: a good request is answered.
    c.send(json!({"type": "ping", "ref": 1})).await;
    c.recv_until(|f| matches!(f, ServerFrame::Pong { .. }))
        .await;
    Got::Errors(codes)
}

/// A token for `team-*` rooms: rooms outside the pattern, and ids that try to be
/// patterns or paths.
pub(crate) async fn room_pattern_escapes(t: Target) -> Got {
    let mut c = Client::connect_url(&t.ws_url()).await;
    c.hello(&token_with("mallory", Some(&["team-*"]), None, 3600))
        .await;
    let join = |room: &str| json!({"type": "join", "room": room});
    answers(
        &mut c,
        vec![
            join("other"),
            join("xteam-1"),
            join("Team-1"),
            join("team-*"),
            join("team-1/../admin"),
            join(""),
        ],
    )
    .await
}

/// A token that may watch `bot-*`: users outside the pattern, and ids that try to be
/// patterns.
pub(crate) async fn watch_pattern_escapes(t: Target) -> Got {
    let mut c = Client::connect_url(&t.ws_url()).await;
    c.hello(&token_with("mallory", None, Some(&["bot-*"]), 3600))
        .await;
    answers(
        &mut c,
        vec![
            json!({"type": "watch", "users": ["alice"]}),
            json!({"type": "query", "users": ["bot-1", "botx"]}),
            json!({"type": "watch", "users": ["bot-*"]}),
            json!({"type": "query", "users": ["bot-1\n"]}),
        ],
    )
    .await
}

/// 300 connections at once, each with an unsigned token.
pub(crate) async fn token_spray(t: Target) -> Got {
    let body = serde_json::to_string(&claims("mallory", in_an_hour())).unwrap();
    let unsigned = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&body));
    let attacks: Vec<_> = (0..300)
        .map(|_| {
            let (t, token) = (t.clone(), unsigned.clone());
            tokio::spawn(async move { hello_with(&t, &token).await })
        })
        .collect();
    let mut gots = Vec::new();
    for a in attacks {
        gots.push(a.await.unwrap());
    }
    Got::all_same(gots)
}

/// A display name made to reorder or break what viewers see: a right-to-left
/// override, isolates, marks and controls. They are stripped at `hello`
/// (`docs/protocol.md`, the `name` claim), so a room member sees only the letters;
/// the connection stays open.
pub(crate) async fn hostile_display_name(t: Target) -> Got {
    let mut claims = claims("mallory", in_an_hour());
    claims.name = Some("\u{202E}Mal\u{2066}\u{200F}\u{1B}\nlory\u{85}\u{2069}".to_owned());
    let token = Auth::hs256(SECRET.as_bytes()).sign(&claims).unwrap();
    let mut c = Client::connect_url(&t.ws_url()).await;
    c.hello(&token).await;
    c.join("names").await;
    let mut viewer = t.client("viewer").await;
    let ServerFrame::RoomState { members, .. } = viewer.join("names").await else {
        return Got::Other("no room_state".into());
    };
    match members.iter().find(|p| p.user == "mallory") {
        Some(p) if p.name == "Mallory" => Got::Errors(Vec::new()),
        other => Got::Other(format!("the viewer saw {other:?}")),
    }
}
