//! Custom status, its expiry and its validation.

use super::*;

#[tokio::test(start_paused = true)]
async fn custom_status_reaches_room_and_watchers_and_clears_with_null() {
    let server = TestServer::start().await;
    let [mut alice, mut bob, mut carol] = lobby_and_watcher(&server).await;

    request(
        &mut alice,
        json!({"type": "set_custom", "custom": {"text": "Lunch", "emoji": "🍜"}}),
        71,
    )
    .await;
    let seen = room_update(&mut bob, "lobby", "alice").await;
    assert_eq!(seen.custom, Some(custom("Lunch", "🍜")));
    assert_eq!(seen.status, EffectiveStatus::Online);
    let watched = presence_of(&mut carol, "alice").await;
    assert_eq!(watched.custom, Some(custom("Lunch", "🍜")));

    request(
        &mut alice,
        json!({"type": "set_custom", "custom": null}),
        72,
    )
    .await;
    assert_eq!(room_update(&mut bob, "lobby", "alice").await.custom, None);
    assert_eq!(presence_of(&mut carol, "alice").await.custom, None);
    server.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn custom_status_expires_by_itself() {
    let server = TestServer::start().await;
    let [mut alice, mut bob, mut carol] = lobby_and_watcher(&server).await;

    let expires_at = server.clock.now_ms() + 500;
    request(
        &mut alice,
        json!({"type": "set_custom",
               "custom": {"text": "Back in a minute", "expires_at": expires_at}}),
        81,
    )
    .await;
    let expected = CustomStatus {
        text: Some("Back in a minute".into()),
        emoji: None,
        expires_at: Some(expires_at),
    };
    assert_eq!(
        room_update(&mut bob, "lobby", "alice").await.custom,
        Some(expected.clone())
    );
    assert_eq!(
        presence_of(&mut carol, "alice").await.custom,
        Some(expected)
    );

    // No more frames from alice: the server clears it at expires_at and says so.
    let seen = room_update(&mut bob, "lobby", "alice").await;
    assert!(
        server.clock.now_ms() >= expires_at,
        "the custom status went away before it expired"
    );
    assert_eq!(seen.custom, None, "{seen:?}");
    assert_eq!(seen.status, EffectiveStatus::Online);
    let watched = presence_of(&mut carol, "alice").await;
    assert_eq!(watched.custom, None, "{watched:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn custom_status_expiring_in_the_past_or_missing_is_a_bad_request() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut carol = server.client("carol").await;
    watch(&mut carol, &["alice"], 1).await;
    request(
        &mut alice,
        json!({"type": "set_custom", "custom": {"text": "Lunch", "emoji": "🍜"}}),
        91,
    )
    .await;
    assert_eq!(
        presence_of(&mut carol, "alice").await.custom,
        Some(custom("Lunch", "🍜"))
    );

    let past = server.clock.now_ms() - 1_000;
    alice
        .send(json!({"type": "set_custom", "ref": 92,
                     "custom": {"text": "Gone", "expires_at": past}}))
        .await;
    assert_eq!(error_for(&mut alice, 92).await, ErrorCode::BadRequest);

    alice.send(json!({"type": "set_custom", "ref": 93})).await;
    assert_eq!(error_for(&mut alice, 93).await, ErrorCode::BadRequest);

    // Neither changed anything, and the connection is still served.
    carol.expect_silence(QUIET).await;
    let seen = query(&mut carol, &["alice"], 2).await;
    assert_eq!(seen[0].custom, Some(custom("Lunch", "🍜")));
    set_status(&mut alice, "busy", 94).await;
    server.shutdown().await.unwrap();
}
