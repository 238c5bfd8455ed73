//! Joining and leaving; coalesced diffs: a quiet room's change at once, then one per
//! window.

use super::*;

#[tokio::test(start_paused = true)]
async fn joining_answers_the_room_state_and_others_see_joins_and_leaves() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let (count, members, typing) = state_parts(join_with_ref(&mut alice, "lobby", 7).await);
    assert_eq!(count, 1);
    assert_eq!(members.len(), 1);
    let a = member(&members, "alice");
    assert_eq!(a.name, "Alice");
    assert_eq!(a.status, EffectiveStatus::Online);
    assert_eq!(a.devices, 1);
    assert_eq!(a.last_seen, None);
    assert!(typing.is_empty());

    let mut bob = server.client("bob").await;
    let (count, members, typing) = state_parts(join_with_ref(&mut bob, "lobby", 8).await);
    assert_eq!(count, 2);
    assert_eq!(members.len(), 2);
    assert_eq!(member(&members, "alice").status, EffectiveStatus::Online);
    let b = member(&members, "bob");
    assert_eq!(
        (b.name.as_str(), b.status, b.devices),
        ("Bob", EffectiveStatus::Online, 1)
    );
    assert!(typing.is_empty());

    let diff = alice.recv_until(|f| is_join(f, "lobby", "bob")).await;
    let ServerFrame::RoomDiff { joins, leaves, .. } = diff else {
        unreachable!()
    };
    let b = member(&joins, "bob");
    assert_eq!((b.status, b.devices), (EffectiveStatus::Online, 1));
    assert!(leaves.is_empty());

    leave(&mut bob, "lobby", 9).await;
    let diff = alice.recv_until(|f| is_leave(f, "lobby", "bob")).await;
    let ServerFrame::RoomDiff { joins, leaves, .. } = diff else {
        unreachable!()
    };
    assert_eq!(leaves, vec!["bob".to_owned()]);
    assert!(joins.iter().all(|p| p.user != "bob"));

    // The room now has only alice.
    let mut carol = server.client("carol").await;
    let (count, members, _) = state_parts(carol.join("lobby").await);
    assert_eq!(count, 2);
    assert!(members.iter().all(|p| p.user != "bob"), "{members:?}");
    server.shutdown().await.expect("shutdown");
}

/// The users in the `room_diff`'s `joins`, sorted.
fn joined(f: &ServerFrame) -> Vec<&str> {
    let ServerFrame::RoomDiff { joins, .. } = f else {
        panic!("expected room_diff, got {f:?}")
    };
    let mut users: Vec<&str> = joins.iter().map(|p| p.user.as_str()).collect();
    users.sort_unstable();
    users
}

#[tokio::test(start_paused = true)]
async fn a_quiet_rooms_first_join_goes_out_at_once_and_the_joins_after_it_as_one_diff() {
    // A long window, so "at once" and "together" cannot be told apart by chance.
    let window = Duration::from_millis(2_000);
    let server = TestServer::with(|c| c.coalesce_ms = window.as_millis() as u64).await;
    let mut observer = server.client("observer").await;
    observer.join("party").await;
    let mut first = server.client("first").await;
    let mut guests = Vec::new();
    for name in ["u1", "u2", "u3"] {
        guests.push(server.client(name).await);
    }
    // The observer's own join opened a window; let it pass so the room is quiet. (Its
    // own join may come back in a diff: under paused time the diff and the snapshot
    // share an instant, and the hub keeps a diff it cannot tell is in the state.)
    observer
        .collect_for(window + Duration::from_millis(300))
        .await;

    // The leading edge: the first join goes out at once, by itself.
    let start = Instant::now();
    first.join("party").await;
    let diff = observer
        .recv_raw(window / 2)
        .await
        .unwrap_or_else(|| panic!("no diff within half the window ({:?})", start.elapsed()));
    let Incoming::Frame(diff) = diff else {
        panic!("expected a frame, got {diff:?}")
    };
    assert_eq!(joined(&diff), vec!["first"], "{diff:?}");

    // Three joins spread over ~100 ms, well inside the window that send opened.
    for (i, g) in guests.iter_mut().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        g.join("party").await;
    }
    let diff = observer
        .recv_until(|f| ["u1", "u2", "u3"].iter().any(|u| is_join(f, "party", u)))
        .await;
    assert_eq!(
        joined(&diff),
        vec!["u1", "u2", "u3"],
        "one diff for the three joins: {diff:?}"
    );

    // And no further diff about them.
    let later = observer.collect_for(Duration::from_millis(700)).await;
    for f in &later {
        assert!(
            !["first", "u1", "u2", "u3"]
                .iter()
                .any(|u| is_join(f, "party", u)),
            "a second diff listed a join: {f:?}"
        );
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_change_in_a_quiet_room_arrives_well_before_the_window_ends() {
    let window = Duration::from_millis(2_000);
    let server = TestServer::with(|c| c.coalesce_ms = window.as_millis() as u64).await;
    let mut observer = server.client("observer").await;
    observer.join("quiet").await;
    let mut guest = server.client("guest").await;
    guest.join("quiet").await;
    observer.recv_until(|f| is_join(f, "quiet", "guest")).await;
    // The guest's join went out just now; let its window pass.
    tokio::time::sleep(window + Duration::from_millis(300)).await;

    let start = Instant::now();
    guest
        .send(json!({"type": "set_custom", "custom": {"text": "Lunch"}}))
        .await;
    let Some(Incoming::Frame(diff)) = observer.recv_raw(window / 2).await else {
        panic!("no diff within half the window ({:?})", start.elapsed())
    };
    let ServerFrame::RoomDiff { updates, .. } = &diff else {
        panic!("expected room_diff, got {diff:?}")
    };
    let g = member(updates, "guest");
    assert_eq!(
        g.custom.as_ref().and_then(|c| c.text.as_deref()),
        Some("Lunch")
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_busy_room_never_gets_two_diffs_within_one_window() {
    let window = Duration::from_millis(1_000);
    let server = TestServer::with(|c| c.coalesce_ms = window.as_millis() as u64).await;
    let mut observer = server.client("observer").await;
    observer.join("busy").await;
    let mut chatty = server.client("chatty").await;
    chatty.join("busy").await;

    // A change every 100 ms for 3 s (under the rate limit).
    let changes = async {
        for i in 0..30 {
            chatty
                .send(json!({"type": "set_custom", "custom": {"text": format!("n{i}")}}))
                .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let watch = async {
        let mut diffs = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(5_000);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match observer.recv_raw(left).await {
                None => return diffs,
                Some(Incoming::Frame(f @ ServerFrame::RoomDiff { .. })) => {
                    diffs.push((Instant::now(), f));
                }
                Some(Incoming::Frame(_)) => {}
                Some(Incoming::Close(code)) => panic!("closed ({code:?})"),
            }
        }
    };
    let ((), diffs) = tokio::join!(changes, watch);

    assert!(diffs.len() >= 3, "3 s of changes in {} diffs", diffs.len());
    // Sent a window apart at least; allow for delivery jitter on a busy machine.
    for pair in diffs.windows(2) {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap >= window - Duration::from_millis(200),
            "two diffs {gap:?} apart: {:?} then {:?}",
            pair[0].1,
            pair[1].1
        );
    }
    // Nothing is lost: the last diff carries the last change.
    let Some((_, ServerFrame::RoomDiff { updates, .. })) = diffs.last() else {
        unreachable!()
    };
    let last = member(updates, "chatty");
    assert_eq!(
        last.custom.as_ref().and_then(|c| c.text.as_deref()),
        Some("n29")
    );
    server.shutdown().await.expect("shutdown");
}
