//! Session start: tokens and hello.

use super::*;

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
