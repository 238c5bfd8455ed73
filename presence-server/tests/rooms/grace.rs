//! The grace period: a user whose connection ends lingers, and a reconnect within it
//! shows no leave and no join.

use super::*;

#[tokio::test(start_paused = true)]
async fn reconnect_within_grace_shows_no_leave_or_join() {
    let server = TestServer::with(|c| {
        c.grace_ms = 2_000;
        c.typing_ttl_ms = 10_000;
    })
    .await;
    let mut alice = server.client("alice").await;
    alice.join("room").await;
    let mut bob = server.client("bob").await;
    let (count, _, _) = state_parts(bob.join("room").await);
    assert_eq!(count, 2);
    let _marker = settle(&server, &mut bob, "room", "marker").await;
    // Alice types, so that bob can tell when the server noticed her connection go (a
    // lingering session stops typing): the reconnect then surely finds it lingering.
    start_typing(&mut alice, "alice", "room", &mut bob).await;

    let dropped = Instant::now();
    alice.drop_connection();
    let mut seen = vec![
        bob.recv_until(|f| {
            assert!(!is_leave(f, "room", "alice"), "{f:?}");
            is_typing(f, "room", "alice", false)
        })
        .await,
    ];
    let mut alice = server.client("alice").await;
    let (count, members, _) = state_parts(alice.join("room").await);
    assert_eq!(count, 3);
    let a = member(&members, "alice");
    assert_eq!(
        (a.status, a.devices),
        (EffectiveStatus::Online, 1),
        "the reconnect took over the lingering session"
    );

    // Well past the grace period, counted from the drop.
    let left = Duration::from_millis(2_500).saturating_sub(dropped.elapsed());
    seen.extend(bob.collect_for(left).await);
    assert_no_join_or_leave(&seen, "room", "alice");
    for f in &seen {
        if let ServerFrame::RoomDiff { updates, .. } = f {
            for p in updates.iter().filter(|p| p.user == "alice") {
                assert_eq!((p.status, p.devices), (EffectiveStatus::Online, 1), "{f:?}");
            }
        }
    }

    // Still there.
    let mut carol = server.client("carol").await;
    let (count, members, _) = state_parts(carol.join("room").await);
    assert_eq!(count, 4);
    assert_eq!(member(&members, "alice").status, EffectiveStatus::Online);
    drop(alice);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn rooms_not_joined_again_after_a_reconnect_are_left_after_grace() {
    let server = TestServer::with(|c| c.grace_ms = 1_500).await;
    let mut alice = server.client("alice").await;
    alice.join("a").await;
    alice.join("b").await;
    let mut bob = server.client("bob").await;
    bob.join("a").await;
    let mut carol = server.client("carol").await;
    let (count, _, _) = state_parts(carol.join("b").await);
    assert_eq!(count, 2);
    let _marker_a = settle(&server, &mut bob, "a", "marker-a").await;

    let dropped = Instant::now();
    alice.drop_connection();
    let mut alice = server.client("alice").await;
    alice.join("a").await;

    carol.recv_until(|f| is_leave(f, "b", "alice")).await;
    let elapsed = dropped.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1_400),
        "alice left b {elapsed:?} after her connection dropped, inside the 1.5 s grace"
    );

    let frames = bob.collect_for(Duration::from_millis(300)).await;
    assert_no_join_or_leave(&frames, "a", "alice");
    let mut dave = server.client("dave").await;
    let (count, members, _) = state_parts(dave.join("a").await);
    assert_eq!(count, 4);
    member(&members, "alice");
    drop(alice);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn explicitly_leaving_a_room_not_joined_again_after_a_reconnect_is_immediate() {
    let server = TestServer::with(|c| {
        c.grace_ms = 5_000;
        c.typing_ttl_ms = 10_000;
    })
    .await;
    let mut alice = server.client("alice").await;
    alice.join("a").await;
    alice.join("b").await;
    let mut carol = server.client("carol").await;
    carol.join("b").await;
    start_typing(&mut alice, "alice", "b", &mut carol).await;
    alice.drop_connection();
    // The server noticed: alice's session lingers (and stopped typing).
    carol
        .recv_until(|f| is_typing(f, "b", "alice", false))
        .await;

    let mut alice = server.client("alice").await;
    alice.join("a").await;
    let start = Instant::now();
    leave(&mut alice, "b", 2).await;
    carol.recv_until(|f| is_leave(f, "b", "alice")).await;
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(1),
        "leaving b took {elapsed:?} (grace is 5 s and must not apply)"
    );
    server.shutdown().await.expect("shutdown");
}

/// Drops or closes alice's only connection; bob sees her present during the grace
/// period and leaving after it.
async fn user_stays_for_grace_then_leaves(clean_close: bool) {
    let server = TestServer::with(|c| c.grace_ms = 1_000).await;
    let [alice, mut bob] = server.joined("room", ["alice", "bob"]).await;

    let gone = Instant::now();
    if clean_close {
        alice.close().await;
    } else {
        alice.drop_connection();
    }
    let users = query(&mut bob, &["alice"], 4).await;
    assert!(
        gone.elapsed() < Duration::from_millis(800),
        "query too slow to mean anything"
    );
    let a = member(&users, "alice");
    assert_eq!((a.status, a.devices), (EffectiveStatus::Online, 1));

    bob.recv_until(|f| is_leave(f, "room", "alice")).await;
    let elapsed = gone.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "alice left {elapsed:?} after her connection ended, inside the 1 s grace"
    );

    let users = query(&mut bob, &["alice"], 5).await;
    let a = member(&users, "alice");
    assert_eq!((a.status, a.devices), (EffectiveStatus::Offline, 0));
    assert!(a.last_seen.is_some(), "{a:?}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn lost_connection_keeps_user_present_for_grace_then_leaves() {
    user_stays_for_grace_then_leaves(false).await;
}

#[tokio::test(start_paused = true)]
async fn clean_close_keeps_user_present_for_grace_then_leaves() {
    user_stays_for_grace_then_leaves(true).await;
}
