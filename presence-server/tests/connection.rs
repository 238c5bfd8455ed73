//! The connection itself: refusing bad tokens, surviving bad frames, size and rate
//! limits, liveness (server pings, dead and slow clients), shutdown, and the HTTP
//! routes next to the WebSocket.
//!
//! The tests of timeouts and pings run under paused tokio time (`start_paused`), so
//! that the intervals they count are exact however busy the machine; the rest run in
//! real time.
#![allow(clippy::unwrap_used)]

mod common;

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

// ---------------------------------------------------------------------------------
// Session start: tokens and hello
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn token_signed_with_another_secret_is_refused() {
    let server = TestServer::start().await;
    let claims = Claims {
        sub: "mallory".into(),
        name: Some("Mallory".into()),
        exp: now_ms() / 1000 + 3600,
        rooms: None,
        watch: None,
    };
    let forged = Auth::hs256(b"another-secret-another-secret-another!")
        .sign(&claims)
        .unwrap();
    hello_is_refused(&server, &forged, 4401).await;
    // The server itself is fine: a properly signed token still gets in.
    server.client("alice").await;
}

#[tokio::test]
async fn expired_token_is_refused_as_expired() {
    let server = TestServer::start().await;
    let expired = token_with("alice", None, None, -60);
    let message = hello_is_refused(&server, &expired, 4401).await;
    assert!(
        message.contains("expired"),
        "the message should say why: {message:?}"
    );
}

#[tokio::test]
async fn unsigned_alg_none_token_is_refused() {
    let server = TestServer::start().await;
    let claims = json!({"sub": "mallory", "name": "Mallory", "exp": now_ms() / 1000 + 3600});
    let unsigned = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&claims.to_string())
    );
    hello_is_refused(&server, &unsigned, 4401).await;
    // The same claims under an HS256 header but with the signature stripped.
    let stripped = format!(
        "{}.{}.",
        b64(r#"{"alg":"HS256","typ":"JWT"}"#),
        b64(&claims.to_string())
    );
    hello_is_refused(&server, &stripped, 4401).await;
}

#[tokio::test]
async fn token_whose_subject_is_not_a_valid_user_id_is_refused() {
    let server = TestServer::start().await;
    // Properly signed with the server's secret; only `sub` is wrong.
    hello_is_refused(&server, &token("not a valid id!"), 4401).await;
    hello_is_refused(&server, &token(&"a".repeat(129)), 4401).await;
}

#[tokio::test]
async fn garbage_token_is_refused() {
    let server = TestServer::start().await;
    hello_is_refused(&server, "not-a-jwt", 4401).await;
}

#[tokio::test]
async fn first_frame_other_than_hello_is_refused() {
    let server = TestServer::start().await;
    let mut c = Client::connect(&server).await;
    c.send(json!({"type": "ping", "ref": 4})).await;
    let (frames, code) = c.expect_close().await;
    assert_eq!(code, Some(4401), "frames: {frames:?}");
    assert!(
        matches!(frames.as_slice(), [f] if is_error(f, ErrorCode::Unauthorized)),
        "expected one unauthorized error, got {frames:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn client_that_never_says_hello_is_closed_with_4408() {
    let server = TestServer::with(|c| c.hello_timeout_ms = 300).await;
    let started = Instant::now();
    let mut c = Client::connect(&server).await;
    let (frames, code) = c.expect_close().await;
    assert_eq!(code, Some(4408), "frames: {frames:?}");
    assert!(
        matches!(frames.as_slice(), [f] if is_error(f, ErrorCode::Unauthorized)),
        "expected one unauthorized error, got {frames:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "closed after {:?}, before the 300 ms hello timeout",
        started.elapsed()
    );
}

#[tokio::test]
async fn second_hello_is_a_bad_request_and_the_connection_stays_open() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let session = alice.session();
    alice
        .send(json!({"type": "hello", "token": token("alice"), "device": "test"}))
        .await;
    expect_bad_request(&mut alice, None).await;
    expect_still_open(&mut alice, 1).await;
    // Still the same session, still usable.
    assert_eq!(alice.session(), session);
    let ServerFrame::RoomState { members, .. } = alice.join("lobby").await else {
        unreachable!()
    };
    assert_eq!(members.len(), 1);
}

// ---------------------------------------------------------------------------------
// Bad frames
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_json_gets_bad_request_and_the_connection_stays_open() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.send_text(r#"{"type":"ping","ref":5"#).await;
    expect_bad_request(&mut alice, None).await;
    alice.send_text("[\"ping\", 5]").await;
    expect_bad_request(&mut alice, None).await;
    expect_still_open(&mut alice, 1).await;
}

#[tokio::test]
async fn unknown_frame_type_gets_bad_request_with_its_ref() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.send(json!({"type": "teleport", "ref": 7})).await;
    expect_bad_request(&mut alice, Some(7)).await;
    alice.send(json!({"ref": 8, "room": "lobby"})).await;
    expect_bad_request(&mut alice, Some(8)).await;
    expect_still_open(&mut alice, 1).await;
}

#[tokio::test]
async fn missing_or_wrongly_typed_field_gets_bad_request_with_its_ref() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.send(json!({"type": "join", "ref": 8})).await;
    expect_bad_request(&mut alice, Some(8)).await;
    alice
        .send(json!({"type": "set_status", "status": 42, "ref": 11}))
        .await;
    expect_bad_request(&mut alice, Some(11)).await;
    alice
        .send(json!({"type": "set_status", "status": "sleeping", "ref": 12}))
        .await;
    expect_bad_request(&mut alice, Some(12)).await;
    expect_still_open(&mut alice, 1).await;
}

#[tokio::test]
async fn invalid_room_id_gets_bad_request_with_its_ref() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice
        .send(json!({"type": "join", "room": "a b", "ref": 9}))
        .await;
    expect_bad_request(&mut alice, Some(9)).await;
    alice
        .send(json!({"type": "join", "room": "r".repeat(129), "ref": 10}))
        .await;
    expect_bad_request(&mut alice, Some(10)).await;
    expect_still_open(&mut alice, 1).await;
    // A 128-character id is fine.
    alice.join(&"r".repeat(128)).await;
}

#[tokio::test]
async fn custom_text_over_128_characters_gets_bad_request() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice
        .send(json!({"type": "set_custom", "custom": {"text": "x".repeat(129)}, "ref": 10}))
        .await;
    expect_bad_request(&mut alice, Some(10)).await;
    expect_still_open(&mut alice, 1).await;
    // 128 characters are fine, even when they take 256 bytes.
    alice
        .send(json!({"type": "set_custom", "custom": {"text": "é".repeat(128)}, "ref": 11}))
        .await;
    assert_eq!(alice.recv().await, ServerFrame::Ack { r#ref: 11 });
}

#[tokio::test]
async fn binary_frame_gets_bad_request_and_the_connection_stays_open() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice
        .send_binary(br#"{"type":"ping","ref":3}"#.to_vec())
        .await;
    expect_bad_request(&mut alice, None).await;
    expect_still_open(&mut alice, 1).await;
}

#[tokio::test]
async fn tenth_bad_frame_closes_the_connection_with_4400() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    // Nine bad frames of every kind, good frames in between: still open.
    let bad: [Value; 8] = [
        json!({"type": "teleport", "ref": 1}),
        json!({"type": "join", "ref": 2}),
        json!({"type": "join", "room": "a b", "ref": 3}),
        json!({"type": "set_custom", "custom": {"text": "x".repeat(129)}, "ref": 4}),
        json!({"type": "set_status", "status": "sleeping", "ref": 5}),
        json!({"type": "hello", "token": token("alice")}),
        json!({"type": "watch", "users": [], "ref": 7}),
        json!({"ref": 8}),
    ];
    for (i, frame) in bad.into_iter().enumerate() {
        let reference = frame.get("ref").and_then(Value::as_u64);
        alice.send(frame).await;
        expect_bad_request(&mut alice, reference).await;
        expect_still_open(&mut alice, 100 + i as u64).await;
    }
    alice.send_binary(vec![1, 2, 3]).await;
    expect_bad_request(&mut alice, None).await;
    expect_still_open(&mut alice, 200).await;
    // The tenth.
    alice.send_text("{oops").await;
    let (frames, code) = alice.expect_close().await;
    assert_eq!(code, Some(4400), "frames: {frames:?}");
    assert!(
        matches!(frames.as_slice(), [f] if is_error(f, ErrorCode::BadRequest)),
        "the tenth bad frame is still answered before the close: {frames:?}"
    );
}

// ---------------------------------------------------------------------------------
// Frame size
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn frame_over_max_frame_bytes_closes_with_1009() {
    let server = TestServer::start().await;
    let limit = common::test_config().max_frame_bytes;
    assert_eq!(limit, 8 * 1024, "the default limit is 8 KiB");
    let mut alice = server.client("alice").await;
    alice.send_text(ping_of_size(1, limit + 1)).await;
    let (frames, code) = alice.expect_close().await;
    assert_eq!(code, Some(1009), "frames: {frames:?}");
}

#[tokio::test]
async fn frame_far_over_the_limit_closes_with_1009_too() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.send_text(ping_of_size(1, 64 * 1024)).await;
    let (frames, code) = alice.expect_close().await;
    assert_eq!(code, Some(1009), "frames: {frames:?}");
}

#[tokio::test]
async fn frames_up_to_the_limit_are_fine() {
    let server = TestServer::start().await;
    let limit = common::test_config().max_frame_bytes;
    let mut alice = server.client("alice").await;
    alice.send_text(ping_of_size(1, limit - 1)).await;
    assert!(matches!(
        alice.recv().await,
        ServerFrame::Pong { r#ref: Some(1), .. }
    ));
    alice.send_text(ping_of_size(2, limit)).await;
    assert!(matches!(
        alice.recv().await,
        ServerFrame::Pong { r#ref: Some(2), .. }
    ));
}

#[tokio::test]
async fn configured_frame_limit_applies_to_hello_too() {
    let server = TestServer::with(|c| c.max_frame_bytes = 1024).await;
    let mut c = Client::connect(&server).await;
    let hello = json!({"type": "hello", "token": token("alice"), "pad": "x".repeat(1024)});
    c.send(hello).await;
    let (frames, code) = c.expect_close().await;
    assert_eq!(code, Some(1009), "frames: {frames:?}");
}

// ---------------------------------------------------------------------------------
// ping / pong
// ---------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn ping_is_answered_with_pong_carrying_server_time_and_ref() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let before = server.clock.now_ms();
    alice.send(json!({"type": "ping", "ref": 42})).await;
    let ServerFrame::Pong { server_time, r#ref } = alice.recv().await else {
        panic!("expected pong")
    };
    let after = server.clock.now_ms();
    assert_eq!(r#ref, Some(42));
    assert!(
        (before..=after).contains(&server_time),
        "server_time {server_time} not within [{before}, {after}]"
    );
    // Without a ref the pong has none; unknown extra fields are ignored.
    alice
        .send(json!({"type": "ping", "future": {"x": 1}}))
        .await;
    assert!(matches!(
        alice.recv().await,
        ServerFrame::Pong { r#ref: None, .. }
    ));
}

// ---------------------------------------------------------------------------------
// Rate limits
// ---------------------------------------------------------------------------------
// Real time: the rate limiter refills by the real clock, not tokio's.

#[tokio::test]
async fn flood_of_100_frames_gets_one_rate_limited_error_then_close_4429() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.send_batch(pings(1..=100)).await;
    let (frames, code) = alice.expect_close().await;
    assert_eq!(code, Some(4429));
    let errors: Vec<_> = frames
        .iter()
        .filter(|f| matches!(f, ServerFrame::Error { .. }))
        .collect();
    assert!(
        matches!(errors.as_slice(), [f] if is_error(f, ErrorCode::RateLimited)),
        "expected exactly one rate_limited error, got {errors:?}"
    );
    // The burst (40 by default) went through, in order.
    let pongs: Vec<u64> = frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Pong { r#ref, .. } => *r#ref,
            _ => None,
        })
        .collect();
    assert!(pongs.len() >= 40, "only {} pongs", pongs.len());
    assert_eq!(pongs[..40], (1..=40).collect::<Vec<u64>>());
}

#[tokio::test]
async fn client_within_its_rate_is_never_limited() {
    let server = TestServer::with(|c| {
        c.rate_per_sec = 20;
        c.rate_burst = 40;
    })
    .await;
    let mut alice = server.client("alice").await;
    // A burst inside the burst size …
    alice.send_batch(pings(1..=30)).await;
    for r in 1..=30 {
        match alice.recv().await {
            ServerFrame::Pong { r#ref, .. } => assert_eq!(r#ref, Some(r)),
            other => panic!("expected pong {r}, got {other:?}"),
        }
    }
    // … then a steady 10 frames a second, under the sustained 20.
    for r in 31..=40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        expect_still_open(&mut alice, r).await;
    }
    alice.expect_silence(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn nineteen_over_limit_frames_in_a_row_are_tolerated() {
    // One frame a second: no token comes back while the test runs.
    let server = TestServer::with(|c| {
        c.rate_per_sec = 1;
        c.rate_burst = 40;
    })
    .await;
    let mut alice = server.client("alice").await;
    alice.send_batch(pings(1..=59)).await;
    for r in 1..=40 {
        assert!(matches!(alice.recv().await, ServerFrame::Pong { r#ref: Some(x), .. } if x == r));
    }
    assert!(is_error(&alice.recv().await, ErrorCode::RateLimited));
    // Nineteen over the limit: warned once, not closed.
    alice.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn twentieth_over_limit_frame_in_a_row_closes_with_4429() {
    let server = TestServer::with(|c| {
        c.rate_per_sec = 1;
        c.rate_burst = 40;
    })
    .await;
    let mut alice = server.client("alice").await;
    alice.send_batch(pings(1..=60)).await;
    let (frames, code) = alice.expect_close().await;
    assert_eq!(code, Some(4429), "frames: {frames:?}");
    assert_eq!(frames.len(), 41, "40 pongs and one error: {frames:?}");
    assert!(is_error(&frames[40], ErrorCode::RateLimited));
}

// ---------------------------------------------------------------------------------
// Liveness: server pings, dead connections
// ---------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn server_sends_websocket_pings_every_ping_interval() {
    let server = TestServer::with(|c| c.ping_interval_ms = 100).await;
    let mut alice = server.client("alice").await;
    let n = alice.count_pings(Duration::from_millis(650)).await;
    assert!(n >= 3, "only {n} pings in 650 ms at one per 100 ms");
    assert!(n <= 8, "{n} pings in 650 ms at one per 100 ms");
}

#[tokio::test(start_paused = true)]
async fn client_that_answers_pings_stays_connected_without_sending_frames() {
    let server = TestServer::with(|c| {
        c.ping_interval_ms = 100;
        c.dead_after_ms = 300;
    })
    .await;
    let mut alice = server.client("alice").await;
    // Only WebSocket pongs (answered by tungstenite while polled) for over three
    // dead_after periods.
    let n = alice.count_pings(Duration::from_millis(1_000)).await;
    assert!(n >= 3, "only {n} pings");
    expect_still_open(&mut alice, 1).await;
}

#[tokio::test(start_paused = true)]
async fn client_that_stops_answering_pings_is_dropped_and_leaves_after_grace() {
    let server = TestServer::with(|c| {
        c.ping_interval_ms = 100;
        c.dead_after_ms = 300;
        c.grace_ms = 400;
    })
    .await;
    let mut alice = server.client("alice").await;
    alice.join("room").await;
    let mut bob = server.client("bob").await;
    bob.join("room").await;
    alice.recv_until(|f| joined(f, "bob")).await;
    // From here bob's socket is never polled, so it answers no ping.
    let started = Instant::now();
    let diff = alice.recv_until(|f| left(f, "bob")).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(500),
        "bob left after {elapsed:?}: sooner than dead_after 300 ms + grace 400 ms; {diff:?}"
    );
    // Bob's connection is gone: what he reads now ends in a close.
    bob.expect_close().await;
    // Alice, who kept answering, is still there.
    expect_still_open(&mut alice, 1).await;
}

// ---------------------------------------------------------------------------------
// Slow clients
// ---------------------------------------------------------------------------------
// Real time: what ends `slow` is real kernel socket buffers filling up.

#[tokio::test]
async fn client_that_never_reads_is_dropped_when_its_queue_overflows() {
    // A write timeout longer than the test: only the full queue can end `slow`.
    slow_client_is_dropped_while_the_others_keep_up(16, 600_000).await;
}

#[tokio::test]
async fn client_that_never_reads_is_dropped_when_a_write_waits_too_long() {
    // A queue that never fills here: only the write that waits on `slow`'s full socket
    // for longer than the write timeout can end it.
    slow_client_is_dropped_while_the_others_keep_up(10_000_000, 300).await;
}

async fn slow_client_is_dropped_while_the_others_keep_up(queue: usize, write_timeout_ms: u64) {
    let server = TestServer::with(|c| {
        c.outbound_queue = queue;
        c.write_timeout_ms = write_timeout_ms;
        // Nor can the dead-connection check end it: `slow` answers no ping.
        c.ping_interval_ms = 300_000;
        c.dead_after_ms = 600_000;
        // The typist sends thousands of frames a second: no rate limit here.
        c.rate_per_sec = 1_000_000;
        c.rate_burst = 1_000_000;
        c.grace_ms = 400;
    })
    .await;
    // Long ids make every event big (~300 bytes), so that kernel buffers fill sooner.
    // Measured on loopback with default buffers: `slow` is cut off after ~10,000
    // events (~3 MB) and seen leaving after ~17,000, about a second into the rounds.
    let room = format!("room-{}", "r".repeat(123));
    let typist_id = format!("typist-{}", "t".repeat(121));
    let mut slow = server.client("slow").await;
    slow.join(&room).await;
    let mut fast = server.client("fast").await;
    fast.join(&room).await;
    let mut typist = server.client(&typist_id).await;
    typist.join(&room).await;
    fast.recv_until(|f| joined(f, &typist_id)).await;
    // From here `slow` never reads. The typist starts and stops typing in rounds
    // (typing events are not coalesced: each is a frame to every member); `fast`
    // reads every one of them, in order, before the next round.
    const ROUND: usize = 10;
    const MAX_ROUNDS: usize = 20_000;
    let started = Instant::now();
    let mut slow_left = false;
    let mut events = 0usize;
    for _ in 0..MAX_ROUNDS {
        let frames = (0..ROUND)
            .map(|i| json!({"type": "typing", "room": room, "typing": i % 2 == 0}).to_string());
        typist.send_batch(frames).await;
        let mut n = 0;
        fast.recv_until(|f| match f {
            ServerFrame::Typing { user, typing, .. } => {
                assert_eq!(user, &typist_id);
                assert_eq!(
                    *typing,
                    n % 2 == 0,
                    "typing event {} out of order",
                    events + n
                );
                n += 1;
                n == ROUND
            }
            ServerFrame::Error { .. } => panic!("fast got an error: {f:?}"),
            f => {
                slow_left |= left(f, "slow");
                false
            }
        })
        .await;
        events += ROUND;
        if slow_left {
            break;
        }
    }
    assert!(
        slow_left,
        "`slow` was still a member after {events} typing events of ~300 bytes ({:?})",
        started.elapsed()
    );
    // `fast` still gets everything, up to the last update.
    let text = "z".repeat(128);
    typist
        .send(json!({"type": "set_custom", "custom": {"text": text}, "ref": 1}))
        .await;
    typist
        .recv_until(|f| {
            assert!(
                !is_error(f, ErrorCode::RateLimited),
                "typist limited: {f:?}"
            );
            *f == ServerFrame::Ack { r#ref: 1 }
        })
        .await;
    fast.recv_until(|f| {
        matches!(f, ServerFrame::RoomDiff { updates, joins, .. }
            if updates.iter().chain(joins).any(|p| p.user == typist_id
                && p.custom.as_ref().and_then(|c| c.text.as_deref()) == Some(text.as_str())))
    })
    .await;
    // `slow` reads at last: whatever was still buffered, then the end.
    let (_, code) = slow.expect_close().await;
    assert!(
        matches!(code, None | Some(1013)),
        "a dropped slow client is closed with 1013 or just cut off, got {code:?}"
    );
}

// ---------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn graceful_shutdown_closes_every_connection_with_1012() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let mut alice = server.client("alice").await;
    alice.join("room").await;
    let mut bob = server.client("bob").await;
    bob.join("room").await;
    let mut anonymous = Client::connect(&server).await; // no hello yet
    server.shutdown().await.unwrap();
    for (who, c) in [
        ("alice", &mut alice),
        ("bob", &mut bob),
        ("anonymous", &mut anonymous),
    ] {
        let (frames, code) = c.expect_close().await;
        assert_eq!(code, Some(1012), "{who}: frames {frames:?}");
    }
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed after shutdown"
    );
}

// ---------------------------------------------------------------------------------
// HTTP routes
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn health_and_readiness_answer_200() {
    let server = TestServer::start().await;
    let (status, body) = http_get(server.addr, "/healthz").await;
    assert_eq!((status, body.trim()), (200, "ok"));
    let (status, body) = http_get(server.addr, "/readyz").await;
    assert_eq!((status, body.trim()), (200, "ready"));
    let (status, _) = http_get(server.addr, "/no-such-route").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn metrics_show_connections_and_inbound_frames() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    expect_still_open(&mut alice, 1).await;
    alice.join("room").await;
    let (status, body) = http_get(server.addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    let sample = |name: &str| -> Option<f64> {
        body.lines()
            .filter(|l| !l.starts_with('#'))
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    // Other tests in this process share the recorder: only lower bounds hold.
    let connections = sample("presence_connections ").expect("presence_connections gauge");
    assert!(connections >= 1.0, "presence_connections {connections}");
    let pings = sample("presence_frames_in_total{type=\"ping\"}").expect("ping frames counter");
    assert!(pings >= 1.0);
    let joins = sample("presence_frames_in_total{type=\"join\"}").expect("join frames counter");
    assert!(joins >= 1.0);
}

#[tokio::test]
async fn development_mode_mints_tokens_that_work_for_hello() {
    let server = TestServer::with(|c| c.jwt_secret = None).await;
    let (status, body) = http_post_json(
        server.addr,
        "/dev/token",
        &json!({"user": "alice", "name": "Alice"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let minted = answer["token"].as_str().expect("a token string");
    let alice = server.client_with(minted).await;
    let Some(ServerFrame::Welcome { user, .. }) = &alice.welcome else {
        unreachable!()
    };
    assert_eq!((user.id.as_str(), user.name.as_str()), ("alice", "Alice"));
    // Tokens signed with the harness secret mean nothing to a development server.
    hello_is_refused(&server, &token("alice"), 4401).await;
}

#[tokio::test]
async fn development_token_is_not_accepted_by_a_server_with_a_secret() {
    let dev = TestServer::with(|c| c.jwt_secret = None).await;
    let (status, body) = http_post_json(dev.addr, "/dev/token", &json!({"user": "alice"})).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let minted = answer["token"].as_str().unwrap().to_owned();
    let real = TestServer::start().await;
    hello_is_refused(&real, &minted, 4401).await;
}

#[tokio::test]
async fn token_route_does_not_exist_when_a_secret_is_set() {
    let server = TestServer::start().await;
    let (status, _) = http_post_json(
        server.addr,
        "/dev/token",
        &json!({"user": "alice", "name": "Alice"}),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn token_route_refuses_bad_bodies_with_a_json_error() {
    let server = TestServer::with(|c| c.jwt_secret = None).await;
    let check = |status: u16, body: &str| {
        assert_eq!(status, 400, "{body}");
        let answer: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("the error body is not JSON ({e}): {body}"));
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "no error message: {body}");
    };
    let (status, body) = http_post_json(
        server.addr,
        "/dev/token",
        &json!({"user": "a b", "name": "A"}),
    )
    .await;
    check(status, &body);
    let (status, body) = http_post_json(server.addr, "/dev/token", &json!({"name": "A"})).await;
    check(status, &body);
    let (status, body) = http_request(
        server.addr,
        "POST",
        "/dev/token",
        Some("{not json".to_owned()),
    )
    .await;
    check(status, &body);
}

#[tokio::test]
async fn development_mode_refuses_to_listen_on_a_public_address() {
    let dev = || Config {
        jwt_secret: None,
        ..common::test_config()
    };
    for public in ["0.0.0.0:8080", "[::]:8080", "192.0.2.1:8080"] {
        let result = presence_server::build(dev(), public.parse().unwrap()).await;
        assert!(
            matches!(
                result,
                Err(StartError::Config(ConfigError::PublicBindWithoutSecret(_)))
            ),
            "{public}: {result:?}"
        );
    }
    // Loopback is development mode's home; a secret makes any address fine.
    assert!(
        presence_server::build(dev(), "127.0.0.1:8080".parse().unwrap())
            .await
            .is_ok()
    );
    assert!(
        presence_server::build(common::test_config(), "0.0.0.0:8080".parse().unwrap())
            .await
            .is_ok()
    );
}

/// A WebSocket opened by hand on a raw socket, to send what a WebSocket library would
/// refuse to.
async fn raw_websocket(server: &TestServer) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(
        b"GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.unwrap());
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    tcp
}

/// Reads server frames until a close frame; returns its code.
async fn raw_close_code(tcp: &mut tokio::net::TcpStream) -> u16 {
    use tokio::io::AsyncReadExt;
    let read = async {
        loop {
            let b0 = tcp.read_u8().await.unwrap();
            let len = match tcp.read_u8().await.unwrap() {
                126 => usize::from(tcp.read_u16().await.unwrap()),
                127 => usize::try_from(tcp.read_u64().await.unwrap()).unwrap(),
                n => usize::from(n),
            };
            let mut payload = vec![0; len];
            tcp.read_exact(&mut payload).await.unwrap();
            if b0 & 0x0F == 0x8 {
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("a close frame")
}

/// A masked client frame.
fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [7u8, 1, 8, 2];
    let mut f = vec![b0, 0x80 | u8::try_from(payload.len()).unwrap()];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

#[tokio::test]
async fn websocket_protocol_violations_close_with_1002_and_bad_utf8_with_1007() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    // An unmasked client frame.
    let mut tcp = raw_websocket(&server).await;
    tcp.write_all(b"\x81\x02hi").await.unwrap();
    assert_eq!(raw_close_code(&mut tcp).await, 1002);
    // Text that is not UTF-8.
    let mut tcp = raw_websocket(&server).await;
    tcp.write_all(&masked(0x81, &[0xC3, 0x28])).await.unwrap();
    assert_eq!(raw_close_code(&mut tcp).await, 1007);
    // A ping before hello is answered with a pong carrying its payload.
    let mut tcp = raw_websocket(&server).await;
    tcp.write_all(&masked(0x89, b"are you there"))
        .await
        .unwrap();
    let mut pong = [0u8; 15];
    tokio::io::AsyncReadExt::read_exact(&mut tcp, &mut pong)
        .await
        .unwrap();
    assert_eq!(&pong[..2], b"\x8a\x0d");
    assert_eq!(&pong[2..], b"are you there");
}

#[tokio::test]
async fn a_clients_close_is_answered_with_its_code() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let mut tcp = raw_websocket(&server).await;
    tcp.write_all(&masked(0x88, &4000u16.to_be_bytes()))
        .await
        .unwrap();
    assert_eq!(raw_close_code(&mut tcp).await, 4000);
}

#[tokio::test]
async fn a_request_that_is_not_a_websocket_upgrade_gets_a_clear_error() {
    let server = TestServer::start().await;
    let (status, body) = http_get(server.addr, "/v1/ws").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("upgrade"), "{body}");
}
