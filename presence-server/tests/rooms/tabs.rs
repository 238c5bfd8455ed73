//! Several sessions (tabs) of one user.

use super::*;

#[tokio::test(start_paused = true)]
async fn second_tab_counts_as_the_same_member() {
    let server = TestServer::start().await;
    let mut bob = server.client("bob").await;
    bob.join("room").await;

    let alice_token = token("alice");
    let mut tab1 = server.client_device(&alice_token, "tab1").await;
    let (count, _, _) = state_parts(tab1.join("room").await);
    assert_eq!(count, 2);
    bob.recv_until(|f| is_join(f, "room", "alice")).await;

    let mut tab2 = server.client_device(&alice_token, "tab2").await;
    let (count, members, _) = state_parts(tab2.join("room").await);
    assert_eq!(count, 2, "two tabs of alice are one member: {members:?}");
    assert_eq!(members.len(), 2);
    assert_eq!(member(&members, "alice").devices, 2);

    let frames = bob.collect_for(Duration::from_millis(400)).await;
    for f in &frames {
        assert!(
            !is_join(f, "room", "alice"),
            "second join for a second tab: {f:?}"
        );
        assert!(!is_leave(f, "room", "alice"), "unexpected leave: {f:?}");
        if let ServerFrame::RoomDiff { updates, .. } = f {
            for p in updates.iter().filter(|p| p.user == "alice") {
                assert_eq!(p.devices, 2, "{f:?}");
                assert_eq!(p.status, EffectiveStatus::Online);
            }
        }
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn user_leaves_only_when_the_last_tab_goes() {
    let server = TestServer::start().await; // grace 400 ms
    let mut bob = server.client("bob").await;
    bob.join("room").await;
    let alice_token = token("alice");
    let mut tab1 = server.client_device(&alice_token, "tab1").await;
    tab1.join("room").await;
    let mut tab2 = server.client_device(&alice_token, "tab2").await;
    tab2.join("room").await;
    bob.recv_until(|f| {
        matches!(f, ServerFrame::RoomDiff { joins, updates, .. }
        if joins.iter().chain(updates).any(|p| p.user == "alice" && p.devices == 2))
    })
    .await;

    // Closing the first tab: after the grace period alice is down to one device, and
    // never left.
    tab1.close().await;
    let update = bob
        .recv_until(|f| {
            assert!(
                !is_leave(f, "room", "alice"),
                "alice left with a tab open: {f:?}"
            );
            matches!(f, ServerFrame::RoomDiff { updates, .. }
                if updates.iter().any(|p| p.user == "alice" && p.devices == 1))
        })
        .await;
    let ServerFrame::RoomDiff { updates, .. } = update else {
        unreachable!()
    };
    assert_eq!(member(&updates, "alice").status, EffectiveStatus::Online);
    let mut carol = server.client("carol").await;
    let (count, members, _) = state_parts(carol.join("room").await);
    assert_eq!(count, 3);
    assert_eq!(member(&members, "alice").devices, 1);

    // Closing the last tab: alice leaves once the grace period is over.
    let closed = Instant::now();
    tab2.close().await;
    bob.recv_until(|f| is_leave(f, "room", "alice")).await;
    let elapsed = closed.elapsed();
    assert!(
        elapsed >= Duration::from_millis(350),
        "alice left {elapsed:?} after her last tab closed, inside the 400 ms grace period"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn explicit_leave_takes_effect_at_once() {
    let server = TestServer::with(|c| c.grace_ms = 5_000).await;
    let [mut alice, mut bob] = server.joined("room", ["alice", "bob"]).await;

    let start = Instant::now();
    leave(&mut alice, "room", 3).await;
    bob.recv_until(|f| is_leave(f, "room", "alice")).await;
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(1),
        "an explicit leave took {elapsed:?} (grace is 5 s and must not apply)"
    );
    server.shutdown().await.expect("shutdown");
}
