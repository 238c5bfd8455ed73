//! Rooms: joining and leaving, coalesced diffs (a quiet room's change at once, then
//! one per window), several tabs of one user, the grace period, typing, token room
//! patterns, limits and large rooms.
//!
//! The tests run under paused tokio time (`start_paused`), on the server's tokio
//! clock: coalescing windows, grace periods and typing expiry pass when every task
//! waits, so the durations they assert are exact, however busy the machine.

mod common;

use std::time::Duration;

use common::{token, token_with, Client, Incoming, TestServer};
use presence_protocol::{EffectiveStatus, ErrorCode, Presence, ServerFrame};
use serde_json::json;
use tokio::time::Instant;

// ---------------------------------------------------------------------------------
// Helpers local to this file.

/// Every frame that arrives within `d` (panics if the socket closes meanwhile).
async fn collect(c: &mut Client, d: Duration) -> Vec<ServerFrame> {
    let deadline = tokio::time::Instant::now() + d;
    let mut frames = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match c.recv_raw(left).await {
            None => return frames,
            Some(Incoming::Frame(f)) => frames.push(f),
            Some(Incoming::Close(code)) => {
                panic!("socket closed ({code:?}) while collecting; frames so far: {frames:?}")
            }
        }
    }
}

/// Joins `room` with this `ref` and returns the `room_state` (which must echo the ref).
async fn join_with_ref(c: &mut Client, room: &str, r: u64) -> ServerFrame {
    c.send(json!({"type": "join", "room": room, "ref": r}))
        .await;
    let state = c
        .recv_until(|f| matches!(f, ServerFrame::RoomState { room: x, .. } if x == room))
        .await;
    let ServerFrame::RoomState { r#ref, .. } = &state else {
        unreachable!()
    };
    assert_eq!(*r#ref, Some(r), "room_state must echo the join's ref");
    state
}

async fn leave(c: &mut Client, room: &str, r: u64) {
    c.send(json!({"type": "leave", "room": room, "ref": r}))
        .await;
    c.recv_until(|f| *f == ServerFrame::Ack { r#ref: r }).await;
}

async fn typing(c: &mut Client, room: &str, on: bool) {
    c.send(json!({"type": "typing", "room": room, "typing": on}))
        .await;
}

/// Sends a `ping` with a ref and waits for its `pong`: everything sent before it on
/// this connection has been handled by the server.
async fn sync(c: &mut Client, r: u64) {
    c.send(json!({"type": "ping", "ref": r})).await;
    c.recv_until(|f| matches!(f, ServerFrame::Pong { r#ref: Some(x), .. } if *x == r))
        .await;
}

fn state_parts(f: ServerFrame) -> (u64, Vec<Presence>, Vec<String>) {
    match f {
        ServerFrame::RoomState {
            count,
            members,
            typing,
            ..
        } => (count, members, typing),
        other => panic!("expected room_state, got {other:?}"),
    }
}

fn member<'a>(members: &'a [Presence], user: &str) -> &'a Presence {
    members
        .iter()
        .find(|p| p.user == user)
        .unwrap_or_else(|| panic!("{user} is not among the members {members:?}"))
}

fn is_join(f: &ServerFrame, room: &str, user: &str) -> bool {
    matches!(f, ServerFrame::RoomDiff { room: r, joins, .. }
        if r == room && joins.iter().any(|p| p.user == user))
}

fn is_leave(f: &ServerFrame, room: &str, user: &str) -> bool {
    matches!(f, ServerFrame::RoomDiff { room: r, leaves, .. }
        if r == room && leaves.iter().any(|u| u == user))
}

fn is_typing(f: &ServerFrame, room: &str, user: &str, on: bool) -> bool {
    matches!(f, ServerFrame::Typing { room: r, user: u, typing }
        if r == room && u == user && *typing == on)
}

fn is_error(f: &ServerFrame, code: ErrorCode) -> bool {
    matches!(f, ServerFrame::Error { code: c, .. } if *c == code)
}

/// Lets the diffs of earlier joins in `room` reach `observer`: a marker user joins and
/// the observer waits for the diff naming it (earlier changes go out in it or before
/// it). Returns the marker's client, to keep it in the room.
async fn settle(server: &TestServer, observer: &mut Client, room: &str, marker: &str) -> Client {
    let mut m = server.client(marker).await;
    m.join(room).await;
    observer.recv_until(|f| is_join(f, room, marker)).await;
    m
}

/// Asserts that none of `frames` is a join or a leave of `user` in `room`.
fn assert_no_join_or_leave(frames: &[ServerFrame], room: &str, user: &str) {
    for f in frames {
        assert!(
            !is_join(f, room, user) && !is_leave(f, room, user),
            "{user} flapped in {room}: {f:?}\nall frames: {frames:?}"
        );
    }
}

// ---------------------------------------------------------------------------------
// Joining and leaving.

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
    collect(&mut observer, window + Duration::from_millis(300)).await;

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
    let later = collect(&mut observer, Duration::from_millis(700)).await;
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

// ---------------------------------------------------------------------------------
// Several sessions of one user.

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

    let frames = collect(&mut bob, Duration::from_millis(400)).await;
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
    let mut alice = server.client("alice").await;
    alice.join("room").await;
    let mut bob = server.client("bob").await;
    bob.join("room").await;

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

// ---------------------------------------------------------------------------------
// The grace period.

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
    typing(&mut alice, "room", true).await;
    bob.recv_until(|f| is_typing(f, "room", "alice", true))
        .await;

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
    seen.extend(collect(&mut bob, left).await);
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

    let frames = collect(&mut bob, Duration::from_millis(300)).await;
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
    typing(&mut alice, "b", true).await;
    carol.recv_until(|f| is_typing(f, "b", "alice", true)).await;
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
    let mut alice = server.client("alice").await;
    alice.join("room").await;
    let mut bob = server.client("bob").await;
    bob.join("room").await;

    let gone = Instant::now();
    if clean_close {
        alice.close().await;
    } else {
        alice.drop_connection();
    }
    bob.send(json!({"type": "query", "users": ["alice"], "ref": 4}))
        .await;
    let state = bob
        .recv_until(|f| matches!(f, ServerFrame::PresenceState { r#ref: Some(4), .. }))
        .await;
    let ServerFrame::PresenceState { users, .. } = state else {
        unreachable!()
    };
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

    bob.send(json!({"type": "query", "users": ["alice"], "ref": 5}))
        .await;
    let state = bob
        .recv_until(|f| matches!(f, ServerFrame::PresenceState { r#ref: Some(5), .. }))
        .await;
    let ServerFrame::PresenceState { users, .. } = state else {
        unreachable!()
    };
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

// ---------------------------------------------------------------------------------
// Typing.

#[tokio::test(start_paused = true)]
async fn typing_reaches_others_but_not_the_typists_other_tabs() {
    let server = TestServer::start().await; // typing ttl 400 ms
    let alice_token = token("alice");
    let mut tab1 = server.client_device(&alice_token, "tab1").await;
    tab1.join("room").await;
    let mut tab2 = server.client_device(&alice_token, "tab2").await;
    tab2.join("room").await;
    let mut bob = server.client("bob").await;
    bob.join("room").await;

    typing(&mut tab1, "room", true).await;
    bob.recv_until(|f| is_typing(f, "room", "alice", true))
        .await;
    // Long enough to cover the start and the expiry (400 ms).
    let (own1, own2) = tokio::join!(
        collect(&mut tab1, Duration::from_millis(800)),
        collect(&mut tab2, Duration::from_millis(800))
    );
    for f in own1.iter().chain(&own2) {
        assert!(
            !matches!(f, ServerFrame::Typing { .. }),
            "a typist's own session got {f:?}"
        );
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn typing_stop_is_delivered() {
    let server = TestServer::with(|c| c.typing_ttl_ms = 10_000).await;
    let mut alice = server.client("alice").await;
    alice.join("room").await;
    let mut bob = server.client("bob").await;
    bob.join("room").await;

    typing(&mut alice, "room", true).await;
    bob.recv_until(|f| is_typing(f, "room", "alice", true))
        .await;
    let start = Instant::now();
    typing(&mut alice, "room", false).await;
    bob.recv_until(|f| is_typing(f, "room", "alice", false))
        .await;
    assert!(start.elapsed() < Duration::from_secs(2));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn typing_expires_by_itself() {
    let server = TestServer::with(|c| c.typing_ttl_ms = 400).await;
    let mut alice = server.client("alice").await;
    alice.join("room").await;
    let mut bob = server.client("bob").await;
    bob.join("room").await;

    typing(&mut alice, "room", true).await;
    bob.recv_until(|f| is_typing(f, "room", "alice", true))
        .await;
    let started = Instant::now();
    // Alice sends nothing more.
    bob.recv_until(|f| {
        assert!(!is_leave(f, "room", "alice"), "{f:?}");
        is_typing(f, "room", "alice", false)
    })
    .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250),
        "typing ended {elapsed:?} after it started, before its 400 ms ttl"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn refreshing_typing_keeps_it_going_without_a_new_event() {
    let server = TestServer::with(|c| c.typing_ttl_ms = 800).await;
    let mut alice = server.client("alice").await;
    alice.join("room").await;
    let mut bob = server.client("bob").await;
    bob.join("room").await;

    // Alice types for 1.6 s, refreshing every 250 ms: twice the ttl.
    let typist = async {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        for _ in 0..7 {
            tick.tick().await;
            typing(&mut alice, "room", true).await;
        }
    };
    let (_, frames) = tokio::join!(typist, collect(&mut bob, Duration::from_millis(1_600)));
    let events: Vec<&ServerFrame> = frames
        .iter()
        .filter(|f| matches!(f, ServerFrame::Typing { .. }))
        .collect();
    assert_eq!(
        events.len(),
        1,
        "one typing:true and nothing else while refreshing: {events:?}"
    );
    assert!(is_typing(events[0], "room", "alice", true), "{events:?}");

    // Once the refreshes stop, it runs out.
    bob.recv_until(|f| {
        assert!(!is_typing(f, "room", "alice", true), "{f:?}");
        is_typing(f, "room", "alice", false)
    })
    .await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn typing_in_a_room_not_joined_is_refused() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice
        .send(json!({"type": "typing", "room": "elsewhere", "typing": true, "ref": 5}))
        .await;
    let f = alice.recv().await;
    assert!(
        matches!(
            f,
            ServerFrame::Error {
                code: ErrorCode::NotJoined,
                r#ref: Some(5),
                ..
            }
        ),
        "{f:?}"
    );

    // After leaving a room, too.
    alice.join("room").await;
    leave(&mut alice, "room", 6).await;
    alice
        .send(json!({"type": "typing", "room": "room", "typing": true, "ref": 7}))
        .await;
    let f = alice
        .recv_until(|f| is_error(f, ErrorCode::NotJoined))
        .await;
    assert!(
        matches!(f, ServerFrame::Error { r#ref: Some(7), .. }),
        "{f:?}"
    );
    // The connection stays usable.
    sync(&mut alice, 8).await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn leaving_the_room_ends_typing() {
    let server = TestServer::with(|c| c.typing_ttl_ms = 10_000).await;
    let mut alice = server.client("alice").await;
    alice.join("room").await;
    let mut bob = server.client("bob").await;
    bob.join("room").await;

    typing(&mut alice, "room", true).await;
    bob.recv_until(|f| is_typing(f, "room", "alice", true))
        .await;
    let start = Instant::now();
    leave(&mut alice, "room", 2).await;
    bob.recv_until(|f| is_typing(f, "room", "alice", false) || is_leave(f, "room", "alice"))
        .await;
    assert!(start.elapsed() < Duration::from_secs(2));

    // A newcomer sees nobody typing.
    let mut carol = server.client("carol").await;
    let (count, _, typing) = state_parts(carol.join("room").await);
    assert_eq!(count, 2);
    assert!(typing.is_empty(), "{typing:?}");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn losing_the_connection_ends_typing_before_grace_ends() {
    let server = TestServer::with(|c| {
        c.typing_ttl_ms = 10_000;
        c.grace_ms = 10_000;
    })
    .await;
    let mut alice = server.client("alice").await;
    alice.join("room").await;
    let mut bob = server.client("bob").await;
    bob.join("room").await;

    typing(&mut alice, "room", true).await;
    bob.recv_until(|f| is_typing(f, "room", "alice", true))
        .await;
    let start = Instant::now();
    alice.drop_connection();
    bob.recv_until(|f| {
        assert!(!is_leave(f, "room", "alice"), "left inside grace: {f:?}");
        is_typing(f, "room", "alice", false)
    })
    .await;
    assert!(start.elapsed() < Duration::from_secs(2));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_newcomer_sees_who_is_typing() {
    let server = TestServer::with(|c| c.typing_ttl_ms = 10_000).await;
    let mut alice = server.client("alice").await;
    alice.join("room").await;
    let mut bob = server.client("bob").await;
    bob.join("room").await;
    typing(&mut alice, "room", true).await;
    sync(&mut alice, 1).await;

    let mut carol = server.client("carol").await;
    let (count, _, typing) = state_parts(carol.join("room").await);
    assert_eq!(count, 3);
    assert_eq!(typing, vec!["alice".to_owned()]);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(start_paused = true)]
async fn a_users_join_arrives_before_their_typing() {
    let server = TestServer::with(|c| c.coalesce_ms = 200).await;
    let mut bob = server.client("bob").await;
    bob.join("room").await;
    let mut alice = server.client("alice").await;
    alice
        .send(json!({"type": "join", "room": "room", "ref": 1}))
        .await;
    typing(&mut alice, "room", true).await;

    let mut saw_join = false;
    bob.recv_until(|f| {
        saw_join |= is_join(f, "room", "alice");
        is_typing(f, "room", "alice", true)
    })
    .await;
    assert!(saw_join, "bob saw alice type before he saw her join");
    server.shutdown().await.expect("shutdown");
}

// ---------------------------------------------------------------------------------
// Permissions and limits.

#[tokio::test(start_paused = true)]
async fn token_room_patterns_are_enforced() {
    let server = TestServer::start().await;
    let mut alice = server
        .client_with(&token_with("alice", Some(&["team-*"]), None, 3600))
        .await;
    let (count, _, _) = state_parts(join_with_ref(&mut alice, "team-1", 1).await);
    assert_eq!(count, 1);

    alice
        .send(json!({"type": "join", "room": "other", "ref": 2}))
        .await;
    let f = alice
        .recv_until(|f| matches!(f, ServerFrame::Error { .. } | ServerFrame::RoomState { .. }))
        .await;
    assert!(
        matches!(
            f,
            ServerFrame::Error {
                code: ErrorCode::Forbidden,
                r#ref: Some(2),
                ..
            }
        ),
        "{f:?}"
    );

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
    alice
        .send(json!({"type": "join", "room": "r3", "ref": 3}))
        .await;
    let f = alice
        .recv_until(|f| matches!(f, ServerFrame::Error { .. } | ServerFrame::RoomState { .. }))
        .await;
    assert!(
        matches!(
            f,
            ServerFrame::Error {
                code: ErrorCode::TooMany,
                r#ref: Some(3),
                ..
            }
        ),
        "{f:?}"
    );

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
