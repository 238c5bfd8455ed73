//! One user's many sessions toggling typing: what reaches the other members.

use super::*;

/// 20 sessions of one user toggling typing used to fan out every start and every
/// stop: a member got a frame per toggle. Now a restart within the typing window is
/// dropped, so a member gets at most one start and one stop per window.
#[tokio::test(start_paused = true)]
async fn twenty_sessions_toggling_typing_make_at_most_a_start_and_a_stop_per_window() {
    // Typing lasts longer than the test, so only the toggles end it.
    let server = TestServer::with(|c| c.typing_ttl_ms = 60_000).await;
    let alice_token = token("alice");
    let mut tabs = Vec::new();
    for i in 0..20 {
        let mut tab = server.client_device(&alice_token, &format!("tab{i}")).await;
        tab.join("room").await;
        tabs.push(tab);
    }
    let mut bob = server.client("bob").await;
    bob.join("room").await;

    const TOGGLES: usize = 10;
    for tab in &mut tabs {
        let frames = (0..TOGGLES)
            .map(|i| json!({"type": "typing", "room": "room", "typing": i % 2 == 0}).to_string());
        tab.send_batch(frames).await;
    }
    // Every toggle has been handled once each tab answered a ping sent after them.
    for (i, tab) in tabs.iter_mut().enumerate() {
        sync(tab, i as u64 + 100).await;
    }
    // Well within one window (1,000 ms by default) of the first start.
    let frames = bob.collect_for(Duration::from_millis(200)).await;
    let typing: Vec<bool> = frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Typing { user, typing, .. } if user == "alice" => Some(*typing),
            _ => None,
        })
        .collect();
    assert!(
        typing.len() <= 2,
        "{} typing frames of alice reached bob in one window: {typing:?}",
        typing.len()
    );
    assert_eq!(typing.first(), Some(&true), "the first start goes out");
    server.shutdown().await.expect("shutdown");
}

/// A large room's typing changes are coalesced like its other changes: at most one
/// batch per window, the newest change per user, and the first at once.
#[tokio::test(start_paused = true)]
async fn a_large_rooms_typing_changes_are_coalesced_per_window() {
    let server = TestServer::with(|c| {
        c.large_room_threshold = 2;
        c.coalesce_ms = 1_000;
        c.typing_ttl_ms = 60_000;
        // Only the coalescing here: no per-user typing window.
        c.typing_window_ms = 0;
    })
    .await;
    let [mut alice, mut bob, _carol, _dave] = server
        .joined("room", ["alice", "bob", "carol", "dave"])
        .await;
    const TOGGLES: usize = 11; // true, false, …, true
    alice
        .send_batch(
            (0..TOGGLES).map(|i| {
                json!({"type": "typing", "room": "room", "typing": i % 2 == 0}).to_string()
            }),
        )
        .await;
    sync(&mut alice, 100).await;
    // The first start goes out at once; the ten changes after it within the window go
    // out as one, the newest, once the window has passed.
    let frames = bob.collect_for(Duration::from_millis(2_500)).await;
    let typing: Vec<bool> = frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Typing { user, typing, .. } if user == "alice" => Some(*typing),
            _ => None,
        })
        .collect();
    assert_eq!(
        typing,
        [true, true],
        "typing frames of alice that reached bob"
    );
    server.shutdown().await.expect("shutdown");
}
