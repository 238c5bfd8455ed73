//! Frames before `hello`: pings are answered at once, only a few are accepted, and a
//! session whose `welcome` cannot be sent never becomes visible.

use super::*;

#[tokio::test]
async fn a_ping_before_hello_is_answered_at_once() {
    let server = TestServer::start().await;
    let mut c = Client::connect(&server).await;
    c.send_pings(1, b"early").await;
    // No `hello` yet: the pong must come without one.
    let (payload, frames) = c
        .recv_pong(common::WAIT)
        .await
        .expect("a pong before hello");
    assert_eq!(payload, b"early");
    assert!(frames.is_empty(), "frames before the pong: {frames:?}");
    c.hello(&token("alice")).await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn a_few_pings_then_hello_get_the_welcome() {
    let server = TestServer::start().await;
    let max = Config::default().max_pre_hello_frames as usize;
    let mut c = Client::connect(&server).await;
    c.send_pings(max, b"p").await;
    c.hello(&token("alice")).await;
    server.shutdown().await.expect("shutdown");
}

/// 300 pings then a valid `hello` used to end in no `welcome`, a 1013 close, and a
/// watcher that saw the user come online.
#[tokio::test]
async fn a_ping_flood_before_hello_closes_4400_and_no_watcher_sees_the_user() {
    let server = TestServer::start().await;
    let mut bob = server.client("bob").await;
    bob.send(json!({"type": "watch", "users": ["alice"], "ref": 1}))
        .await;
    bob.recv_until(|f| matches!(f, ServerFrame::PresenceState { .. }))
        .await;

    let mut attacker = Client::connect(&server).await;
    attacker.send_pings(300, b"flood").await;
    attacker
        .send(json!({"type": "hello", "token": token("alice"), "device": "test"}))
        .await;
    let (frames, code) = attacker.expect_close().await;
    assert_eq!(code, Some(4400), "close code; frames before it: {frames:?}");
    assert!(
        !frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Welcome { .. })),
        "no session may open: {frames:?}"
    );
    // What bob hears next is his own pong: no `presence` of alice came before it.
    expect_still_open(&mut bob, 2).await;
    // Alice was never seen: she is still offline to others.
    bob.send(json!({"type": "query", "users": ["alice"], "ref": 3}))
        .await;
    match bob.recv().await {
        ServerFrame::PresenceState { users, .. } => {
            assert_eq!(users[0].since, 0, "alice was never online: {users:?}");
        }
        other => panic!("expected presence_state, got {other:?}"),
    }
    server.shutdown().await.expect("shutdown");
}
