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

/// A hello with a token whose `name` claim is this; returns the name as `welcome`
/// reports it and as another member of a room sees it.
async fn name_seen(server: &TestServer, sub: &str, name: &str) -> (String, String) {
    let claims = Claims {
        sub: sub.into(),
        name: Some(name.into()),
        exp: now_ms() / 1000 + 3600,
        rooms: None,
        watch: None,
    };
    let token = Auth::hs256(common::SECRET.as_bytes())
        .sign(&claims)
        .unwrap();
    let mut c = server.client_with(&token).await;
    let Some(ServerFrame::Welcome { user, .. }) = c.welcome.clone() else {
        panic!("no welcome: {:?}", c.welcome);
    };
    c.join(&format!("names-{sub}")).await;
    let mut viewer = server.client("viewer").await;
    let state = viewer.join(&format!("names-{sub}")).await;
    let ServerFrame::RoomState { members, .. } = state else {
        panic!("expected room_state, got {state:?}");
    };
    let seen = members
        .iter()
        .find(|p| p.user == sub)
        .map(|p| p.name.clone())
        .unwrap();
    (user.name, seen)
}

#[tokio::test]
async fn control_and_bidi_characters_are_stripped_from_display_names() {
    let server = TestServer::start().await;
    // A right-to-left override that would flip what follows it for every viewer, an
    // isolate, marks, a bell, an escape sequence, a newline and a C1 control.
    let hostile =
        "\u{202E}Eve\u{2066}\u{200F}\u{0007}\u{001B}[31m\n\u{0085}\u{202A}lyn\u{2069}\u{200E}";
    let (welcome, seen) = name_seen(&server, "eve", hostile).await;
    assert_eq!(welcome, "Eve[31mlyn");
    assert_eq!(seen, "Eve[31mlyn");
    // Nothing but such characters: blank, so the user id stands in.
    let (welcome, seen) = name_seen(&server, "blank", "\u{202E}\u{0000}\u{2067}\t").await;
    assert_eq!((welcome.as_str(), seen.as_str()), ("blank", "blank"));
    // The length bound counts what is left: 64 characters survive 100 overrides.
    let padded = format!("{}{}", "\u{202D}".repeat(100), "n".repeat(70));
    let (welcome, seen) = name_seen(&server, "long", &padded).await;
    assert_eq!(welcome, "n".repeat(64));
    assert_eq!(seen, welcome);
}
