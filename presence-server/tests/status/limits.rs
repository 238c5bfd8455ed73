//! Security and limits: the token's watch patterns, the watched-users limit.

use super::*;

#[tokio::test(start_paused = true)]
async fn token_watch_patterns_limit_watch_and_query() {
    let server = TestServer::start().await;
    let mut alice = server
        .client_with(&token_with("alice", None, Some(&["team-*"]), 3600))
        .await;

    let state = watch(&mut alice, &["team-bob"], 1).await;
    assert_eq!(state[0].user, "team-bob");

    alice
        .send(json!({"type": "watch", "users": ["carol"], "ref": 2}))
        .await;
    assert_eq!(error_for(&mut alice, 2).await, ErrorCode::Forbidden);
    alice
        .send(json!({"type": "query", "users": ["carol"], "ref": 3}))
        .await;
    assert_eq!(error_for(&mut alice, 3).await, ErrorCode::Forbidden);
    alice
        .send(json!({"type": "watch", "users": ["team-eve", "carol"], "ref": 4}))
        .await;
    assert_eq!(error_for(&mut alice, 4).await, ErrorCode::Forbidden);
    let ok = query(&mut alice, &["team-eve"], 5).await;
    assert_eq!(ok[0].user, "team-eve");

    // Nothing about carol leaks: the first presence alice hears is team-bob's.
    let _carol = server.client("carol").await;
    let _bob = server.client("team-bob").await;
    let first = wait_for(&mut alice, "a presence event", |f| match f {
        ServerFrame::Presence { presence } => Some(presence.clone()),
        _ => None,
    })
    .await;
    assert_eq!(first.user, "team-bob", "{first:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn watching_more_users_than_allowed_is_too_many() {
    let server = TestServer::with(|c| c.max_watched_per_session = 2).await;
    let mut carol = server.client("carol").await;
    carol
        .send(json!({"type": "watch", "users": ["u1", "u2", "u3"], "ref": 1}))
        .await;
    assert_eq!(error_for(&mut carol, 1).await, ErrorCode::TooMany);

    assert_eq!(watch(&mut carol, &["u1", "u2"], 2).await.len(), 2);
    carol
        .send(json!({"type": "watch", "users": ["u3"], "ref": 3}))
        .await;
    assert_eq!(error_for(&mut carol, 3).await, ErrorCode::TooMany);

    // Unwatching frees a place.
    request(&mut carol, json!({"type": "unwatch", "users": ["u1"]}), 4).await;
    assert_eq!(watch(&mut carol, &["u3"], 5).await[0].user, "u3");
    server.shutdown().await.unwrap();
}
