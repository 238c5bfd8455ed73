//! The connection itself: refusing bad tokens, surviving bad frames, size and rate
//! limits, liveness (server pings, dead and slow clients), shutdown, and the HTTP
//! routes next to the WebSocket.
//!
//! The tests of timeouts and pings run under paused tokio time (`start_paused`), so
//! that the intervals they count are exact however busy the machine; the rest run in
//! real time.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod admission;
mod budgets;
mod closing;
mod frames;
mod hello;
mod http;
mod liveness;
mod memory;
mod pre_hello;
mod rates;
mod slow;
mod websocket;

use std::time::Duration;

use common::{http_get, http_post_json, http_request, token, token_with, Client, TestServer};
use presence_protocol::{ErrorCode, ServerFrame};
use presence_server::auth::{Auth, Claims};
use presence_server::clock::now_ms;
use presence_server::{Config, ConfigError, StartError};
use serde_json::{json, Value};
use tokio::time::Instant;

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// Says hello with `token` on a fresh connection and expects exactly one `error`
/// frame with code `unauthorized`, then the close `code`. Returns the error message.
async fn hello_is_refused(server: &TestServer, token: &str, close: u16) -> String {
    let mut c = Client::connect(server).await;
    c.send(json!({"type": "hello", "token": token, "device": "test"}))
        .await;
    let (frames, code) = c.expect_close().await;
    assert_eq!(
        code,
        Some(close),
        "close code; frames before it: {frames:?}"
    );
    match frames.as_slice() {
        [ServerFrame::Error {
            code: ErrorCode::Unauthorized,
            message,
            ..
        }] => message.clone(),
        other => panic!("expected one `unauthorized` error before the close, got {other:?}"),
    }
}

/// The next frame must be `bad_request` carrying `reference`.
async fn expect_bad_request(c: &mut Client, reference: Option<u64>) -> String {
    match c.recv().await {
        ServerFrame::Error {
            code: ErrorCode::BadRequest,
            message,
            r#ref,
        } => {
            assert_eq!(r#ref, reference, "the error must echo the frame's ref");
            message
        }
        other => panic!("expected a bad_request error, got {other:?}"),
    }
}

/// The connection still answers: `ping` with `reference` gets its `pong` next.
async fn expect_still_open(c: &mut Client, reference: u64) {
    c.send(json!({"type": "ping", "ref": reference})).await;
    match c.recv().await {
        ServerFrame::Pong { r#ref, .. } => assert_eq!(r#ref, Some(reference)),
        other => panic!("expected pong {reference}, got {other:?}"),
    }
}

/// A `ping` frame of exactly `bytes` bytes (padded with an unknown field, which the
/// server must ignore).
fn ping_of_size(reference: u64, bytes: usize) -> String {
    let empty = json!({"type": "ping", "ref": reference, "pad": ""}).to_string();
    assert!(bytes >= empty.len());
    let frame = json!({"type": "ping", "ref": reference, "pad": "x".repeat(bytes - empty.len())})
        .to_string();
    assert_eq!(frame.len(), bytes);
    frame
}

fn pings(refs: std::ops::RangeInclusive<u64>) -> Vec<String> {
    refs.map(|r| json!({"type": "ping", "ref": r}).to_string())
        .collect()
}

fn is_error(f: &ServerFrame, want: ErrorCode) -> bool {
    matches!(f, ServerFrame::Error { code, .. } if *code == want)
}

fn left(f: &ServerFrame, user: &str) -> bool {
    matches!(f, ServerFrame::RoomDiff { leaves, .. } if leaves.iter().any(|u| u == user))
}

fn joined(f: &ServerFrame, user: &str) -> bool {
    matches!(f, ServerFrame::RoomDiff { joins, .. } if joins.iter().any(|p| p.user == user))
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}
