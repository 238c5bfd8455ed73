//! Bad frames, the frame size limit, ping / pong.

use super::*;

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
