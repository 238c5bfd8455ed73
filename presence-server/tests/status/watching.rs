//! Watch, query, unwatch; last-seen privacy.

use super::*;

#[tokio::test(start_paused = true)]
async fn watching_a_never_seen_user_shows_offline_without_last_seen() {
    let server = TestServer::start().await;
    let mut carol = server.client("carol").await;
    let state = watch(&mut carol, &["ghost"], 7).await;
    assert_eq!(state.len(), 1);
    let ghost = &state[0];
    assert_eq!(ghost.user, "ghost");
    assert_eq!(ghost.status, EffectiveStatus::Offline);
    assert_eq!(ghost.last_seen, None);
    assert_eq!(ghost.last_seen_approx, None);
    assert_eq!(ghost.devices, 0);
    assert_eq!(ghost.custom, None);

    // The watch is live: when the user shows up, the watcher hears of it.
    let _ghost = server.client("ghost").await;
    let p = presence_of(&mut carol, "ghost").await;
    assert_eq!((p.status, p.devices), (EffectiveStatus::Online, 1));
    server.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn watcher_sees_user_go_offline_after_grace_with_exact_last_seen() {
    let server = TestServer::start().await;
    let alice = server.client("alice").await;
    let mut carol = server.client("carol").await;
    let state = watch(&mut carol, &["alice"], 1).await;
    assert_eq!(state[0].status, EffectiveStatus::Online);
    assert_eq!(state[0].devices, 1);
    assert_eq!(state[0].last_seen, None);

    let dropped = server.clock.now_ms();
    alice.drop_connection();
    // The first thing the watcher hears is the offline at the end of the grace period.
    let p = presence_of(&mut carol, "alice").await;
    let received = server.clock.now_ms();
    assert_eq!(p.status, EffectiveStatus::Offline, "{p:?}");
    assert_eq!(p.devices, 0);
    let last_seen = p.last_seen.expect("exact last seen after going offline");
    assert!(
        last_seen >= dropped + 400 && last_seen <= received,
        "last_seen {last_seen} should be the end of the 400 ms grace after {dropped} (received {received})"
    );
    assert_eq!(p.last_seen_approx, None);
    assert_eq!(p.since, last_seen);
    server.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn query_answers_once_without_subscribing() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut dave = server.client("dave").await;
    let users = query(&mut dave, &["alice", "ghost"], 51).await;
    assert_eq!(users.len(), 2);
    assert_eq!(users[0].user, "alice");
    assert_eq!(
        (users[0].status, users[0].devices),
        (EffectiveStatus::Online, 1)
    );
    assert_eq!(users[1].user, "ghost");
    assert_eq!(users[1].status, EffectiveStatus::Offline);

    let mut carol = server.client("carol").await;
    watch(&mut carol, &["alice"], 1).await;
    set_status(&mut alice, "busy", 52).await;
    // Control: a watcher hears it; the one who only asked does not.
    assert_eq!(
        presence_of(&mut carol, "alice").await.status,
        EffectiveStatus::Busy
    );
    dave.expect_silence(QUIET).await;
    server.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn unwatch_stops_presence_events() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut carol = server.client("carol").await;
    watch(&mut carol, &["alice"], 1).await;
    let mut dave = server.client("dave").await;
    watch(&mut dave, &["alice"], 1).await;

    set_status(&mut alice, "busy", 53).await;
    assert_eq!(
        presence_of(&mut carol, "alice").await.status,
        EffectiveStatus::Busy
    );
    assert_eq!(
        presence_of(&mut dave, "alice").await.status,
        EffectiveStatus::Busy
    );

    request(
        &mut carol,
        json!({"type": "unwatch", "users": ["alice"]}),
        54,
    )
    .await;
    set_status(&mut alice, "away", 55).await;
    assert_eq!(
        presence_of(&mut dave, "alice").await.status,
        EffectiveStatus::Away
    );
    carol.expect_silence(QUIET).await;
    server.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------
// Last seen privacy
// ---------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn last_seen_privacy_shapes_what_watchers_see_once_offline() {
    let server = TestServer::start().await;
    let mut carol = server.client("carol").await;
    watch(&mut carol, &["alice"], 1).await;

    for (i, privacy) in ["approximate", "hidden", "exact"].into_iter().enumerate() {
        let r = 100 + 10 * i as u64;
        let mut alice = server.client("alice").await;
        assert_eq!(
            presence_of(&mut carol, "alice").await.status,
            EffectiveStatus::Online
        );
        request(
            &mut alice,
            json!({"type": "set_privacy", "last_seen": privacy}),
            r,
        )
        .await;
        let left = server.clock.now_ms();
        alice.close().await;

        let p = presence_of(&mut carol, "alice").await;
        let received = server.clock.now_ms();
        assert_eq!(p.status, EffectiveStatus::Offline, "{privacy}: {p:?}");
        assert_eq!(p.devices, 0);
        let asked = query(&mut carol, &["alice"], r + 1).await;
        assert_eq!(
            (asked[0].last_seen, asked[0].last_seen_approx),
            (p.last_seen, p.last_seen_approx),
            "{privacy}: query and event agree"
        );
        match privacy {
            "approximate" => {
                assert_eq!(p.last_seen, None, "{p:?}");
                assert_eq!(p.last_seen_approx, Some(LastSeenApprox::Recently), "{p:?}");
            }
            "hidden" => {
                assert_eq!((p.last_seen, p.last_seen_approx), (None, None), "{p:?}");
            }
            _ => {
                let at = p.last_seen.expect("exact last seen");
                assert!(
                    (left..=received).contains(&at),
                    "{at} not in {left}..={received}"
                );
                assert_eq!(p.last_seen_approx, None);
            }
        }
    }
    server.shutdown().await.unwrap();
}
