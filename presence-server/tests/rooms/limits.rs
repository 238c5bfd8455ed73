//! Permissions and limits: token room patterns, rooms per session, sessions per
//! user; large rooms.

use super::*;

#[tokio::test(start_paused = true)]
async fn token_room_patterns_are_enforced() {
    let server = TestServer::start().await;
    let mut alice = server
        .client_with(&token_with("alice", Some(&["team-*"]), None, 3600))
        .await;
    let (count, _, _) = state_parts(join_with_ref(&mut alice, "team-1", 1).await);
    assert_eq!(count, 1);

    join_is_refused(&mut alice, "other", 2, ErrorCode::Forbidden).await;

    // The refused join left no trace, and the connection still works.
    let mut bob = server.client("bob").await;
    let (count, members, _) = state_parts(bob.join("other").await);
    assert_eq!(count, 1);
    assert!(members.iter().all(|p| p.user != "alice"), "{members:?}");
    let (count, _, _) = state_parts(join_with_ref(&mut alice, "team-2", 3).await);
    assert_eq!(count, 1);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_session_may_join_only_so_many_rooms() {
    let server = TestServer::with(|c| c.max_rooms_per_session = 2).await;
    let mut alice = server.client("alice").await;
    alice.join("r1").await;
    alice.join("r2").await;
    join_is_refused(&mut alice, "r3", 3, ErrorCode::TooMany).await;

    // Joining a room again is not a new room; after a leave there is space again.
    join_with_ref(&mut alice, "r1", 4).await;
    leave(&mut alice, "r2", 5).await;
    let (count, _, _) = state_parts(join_with_ref(&mut alice, "r3", 6).await);
    assert_eq!(count, 1);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_user_may_have_only_so_many_sessions() {
    let server = TestServer::with(|c| c.max_sessions_per_user = 2).await;
    let alice_token = token("alice");
    let mut tab1 = server.client_device(&alice_token, "tab1").await;
    let _tab2 = server.client_device(&alice_token, "tab2").await;

    let mut tab3 = Client::connect(&server).await;
    tab3.send(json!({"type": "hello", "token": alice_token, "device": "tab3"}))
        .await;
    let (frames, code) = tab3.expect_close().await;
    assert!(
        frames.iter().any(|f| is_error(f, ErrorCode::TooMany)),
        "expected a too_many error, got {frames:?}"
    );
    assert!(
        !frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Welcome { .. })),
        "{frames:?}"
    );
    assert_eq!(code, Some(1008));
    // The two sessions are unaffected.
    sync(&mut tab1, 1).await;
    server.shutdown().await.expect("shutdown");
}

// ---------------------------------------------------------------------------------
// Large rooms.

#[tokio::test(start_paused = true)]
async fn a_large_room_sends_counts_instead_of_diffs() {
    let server = TestServer::with(|c| c.large_room_threshold = 3).await;
    let mut u1 = server.client("u1").await;
    u1.join("hall").await;
    let mut others = Vec::new();
    for name in ["u2", "u3"] {
        let mut c = server.client(name).await;
        c.join("hall").await;
        others.push(c);
    }
    // Up to the threshold, diffs.
    u1.recv_until(|f| is_join(f, "hall", "u3")).await;

    let mut u4 = server.client("u4").await;
    let (count, members, _) = state_parts(u4.join("hall").await);
    assert_eq!(count, 4);
    assert!(
        !members.is_empty() && members.len() as u64 <= count,
        "{members:?}"
    );

    let no_diff_for = |user: &'static str| {
        move |f: &ServerFrame| {
            assert!(!is_join(f, "hall", user), "a large room sent a diff: {f:?}");
            matches!(f, ServerFrame::RoomCount { room, .. } if room == "hall")
        }
    };
    let f = u1.recv_until(no_diff_for("u4")).await;
    assert_eq!(
        f,
        ServerFrame::RoomCount {
            room: "hall".into(),
            count: 4
        }
    );
    let first_count = Instant::now();

    // At most one count a second.
    let mut u5 = server.client("u5").await;
    u5.join("hall").await;
    let f = u1.recv_until(no_diff_for("u5")).await;
    assert_eq!(
        f,
        ServerFrame::RoomCount {
            room: "hall".into(),
            count: 5
        }
    );
    let gap = first_count.elapsed();
    assert!(
        gap >= Duration::from_millis(900),
        "two room_counts {gap:?} apart"
    );
    drop(others);
    server.shutdown().await.expect("shutdown");
}

// Real time: nothing in it waits for a timer, so pausing time would gain nothing.
#[tokio::test]
async fn a_large_rooms_state_lists_at_most_100_members() {
    let server = TestServer::with(|c| c.large_room_threshold = 3).await;
    let mut members = Vec::new();
    for i in 0..102 {
        let mut c = server.client(&format!("user{i:03}")).await;
        c.join("stadium").await;
        members.push(c);
    }
    let mut last = server.client("latecomer").await;
    let (count, shown, _) = state_parts(last.join("stadium").await);
    assert_eq!(count, 103);
    assert_eq!(shown.len(), 100, "a large room's state lists the first 100");
    drop(members);
    server.shutdown().await.expect("shutdown");
}
