//! Status semantics and watching (`docs/protocol.md`, "Semantics" and "Security
//! (tokens)"): the effective-status rules as room members and watchers see them,
//! invisible users, custom status and its expiry, watch / query / unwatch, last-seen
//! privacy, the token's watch patterns and the watched-users limit.
//!
//! The tests run under paused tokio time (`start_paused`), on the server's tokio
//! clock: grace periods and custom status expiry pass when every task waits, and the
//! times the server reports are compared with `server.clock`.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{token, token_with, Client, Incoming, TestServer, WAIT};
use presence_protocol::{
    CustomStatus, EffectiveStatus, ErrorCode, LastSeenApprox, Presence, ServerFrame,
};
use serde_json::{json, Value};
use tokio::time::Instant;

/// Long enough for a coalesced room diff (20 ms window in tests) to have gone out.
const QUIET: Duration = Duration::from_millis(200);

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// Reads frames until `pick` returns something; panics with the skipped frames after
/// [`WAIT`] or on a close.
async fn wait_for<T>(
    c: &mut Client,
    what: &str,
    mut pick: impl FnMut(&ServerFrame) -> Option<T>,
) -> T {
    let deadline = Instant::now() + WAIT;
    let mut skipped = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.recv_raw(left).await {
            Some(Incoming::Frame(f)) => match pick(&f) {
                Some(t) => return t,
                None => skipped.push(f),
            },
            other => panic!("waiting for {what}: got {other:?}; skipped before: {skipped:?}"),
        }
    }
}

/// Reads everything that arrives until the connection has been quiet for 150 ms
/// (setup noise: own joins echoed in diffs, device-count updates…).
async fn drain(c: &mut Client) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match c.recv_raw(Duration::from_millis(150)).await {
            Some(Incoming::Frame(_)) => {}
            Some(Incoming::Close(code)) => panic!("closed while draining: {code:?}"),
            None => return,
        }
    }
    panic!("the connection never went quiet");
}

/// Everything that arrives within `d`.
async fn collect_for(c: &mut Client, d: Duration) -> Vec<ServerFrame> {
    let deadline = Instant::now() + d;
    let mut frames = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.recv_raw(left).await {
            Some(Incoming::Frame(f)) => frames.push(f),
            Some(Incoming::Close(code)) => panic!("closed: {code:?}; frames: {frames:?}"),
            None => return frames,
        }
    }
}

/// What a room member learns about one user from a `room_diff`.
#[derive(Debug, Clone, PartialEq)]
enum News {
    Join(Presence),
    Update(Presence),
    Leave,
}

/// The next `room_diff` of `room` that mentions `user`, as what it says about them.
async fn room_news(c: &mut Client, room: &str, user: &str) -> News {
    wait_for(c, &format!("a room_diff in {room} about {user}"), |f| {
        let ServerFrame::RoomDiff {
            room: r,
            joins,
            leaves,
            updates,
        } = f
        else {
            return None;
        };
        if r != room {
            return None;
        }
        if let Some(p) = joins.iter().find(|p| p.user == user) {
            return Some(News::Join(p.clone()));
        }
        if leaves.iter().any(|u| u == user) {
            return Some(News::Leave);
        }
        updates
            .iter()
            .find(|p| p.user == user)
            .map(|p| News::Update(p.clone()))
    })
    .await
}

/// The next room update about `user`; panics on a join or leave instead.
async fn room_update(c: &mut Client, room: &str, user: &str) -> Presence {
    match room_news(c, room, user).await {
        News::Update(p) => p,
        other => panic!("expected an update of {user} in {room}, got {other:?}"),
    }
}

/// The next `presence` event about `user`.
async fn presence_of(c: &mut Client, user: &str) -> Presence {
    wait_for(c, &format!("a presence event about {user}"), |f| match f {
        ServerFrame::Presence { presence } if presence.user == user => Some(presence.clone()),
        _ => None,
    })
    .await
}

/// Waits for the `ack` carrying `r`.
async fn ack(c: &mut Client, r: u64) {
    wait_for(c, &format!("ack {r}"), |f| match f {
        ServerFrame::Ack { r#ref } if *r#ref == r => Some(()),
        ServerFrame::Error { r#ref, .. } if *r#ref == Some(r) => {
            panic!("expected ack {r}, got {f:?}")
        }
        _ => None,
    })
    .await;
}

/// Sends `frame` with `"ref": r` and waits for its ack.
async fn request(c: &mut Client, mut frame: Value, r: u64) {
    frame["ref"] = json!(r);
    c.send(frame).await;
    ack(c, r).await;
}

async fn set_status(c: &mut Client, status: &str, r: u64) {
    request(c, json!({"type": "set_status", "status": status}), r).await;
}

async fn activity(c: &mut Client, state: &str, r: u64) {
    request(c, json!({"type": "activity", "state": state}), r).await;
}

/// The `error` answering the request with `r`.
async fn error_for(c: &mut Client, r: u64) -> ErrorCode {
    wait_for(c, &format!("an error with ref {r}"), |f| match f {
        ServerFrame::Error {
            code,
            r#ref: Some(x),
            ..
        } if *x == r => Some(*code),
        ServerFrame::Ack { r#ref } if *r#ref == r => panic!("expected an error, got {f:?}"),
        ServerFrame::PresenceState { r#ref: Some(x), .. } if *x == r => {
            panic!("expected an error, got {f:?}")
        }
        _ => None,
    })
    .await
}

/// The `presence_state` answering the request with `r`.
async fn presence_state(c: &mut Client, r: u64) -> Vec<Presence> {
    wait_for(c, &format!("presence_state {r}"), |f| match f {
        ServerFrame::PresenceState {
            users,
            r#ref: Some(x),
        } if *x == r => Some(users.clone()),
        ServerFrame::Error { r#ref: Some(x), .. } if *x == r => {
            panic!("expected presence_state {r}, got {f:?}")
        }
        _ => None,
    })
    .await
}

async fn watch(c: &mut Client, users: &[&str], r: u64) -> Vec<Presence> {
    c.send(json!({"type": "watch", "users": users, "ref": r}))
        .await;
    presence_state(c, r).await
}

async fn query(c: &mut Client, users: &[&str], r: u64) -> Vec<Presence> {
    c.send(json!({"type": "query", "users": users, "ref": r}))
        .await;
    presence_state(c, r).await
}

fn members(state: &ServerFrame) -> (u64, Vec<Presence>) {
    match state {
        ServerFrame::RoomState { count, members, .. } => (*count, members.clone()),
        other => panic!("expected room_state, got {other:?}"),
    }
}

fn custom(text: &str, emoji: &str) -> CustomStatus {
    CustomStatus {
        text: Some(text.to_owned()),
        emoji: Some(emoji.to_owned()),
        expires_at: None,
    }
}

// ---------------------------------------------------------------------------------
// Effective status
// ---------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn chosen_busy_then_away_then_online_reaches_room_and_watchers() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.join("lobby").await;
    let mut bob = server.client("bob").await;
    bob.join("lobby").await;
    let mut carol = server.client("carol").await;
    let state = watch(&mut carol, &["alice"], 1).await;
    assert_eq!(state[0].status, EffectiveStatus::Online);
    for c in [&mut alice, &mut bob, &mut carol] {
        drain(c).await;
    }

    for (i, (chosen, expected)) in [
        ("busy", EffectiveStatus::Busy),
        ("away", EffectiveStatus::Away),
        ("online", EffectiveStatus::Online),
    ]
    .into_iter()
    .enumerate()
    {
        let r = 10 + i as u64;
        let before = server.clock.now_ms();
        set_status(&mut alice, chosen, r).await;

        let seen = room_update(&mut bob, "lobby", "alice").await;
        assert_eq!(
            seen.status, expected,
            "room member after {chosen}: {seen:?}"
        );
        assert_eq!(seen.devices, 1);
        assert!(seen.since >= before, "since must move: {seen:?}");
        assert_eq!(seen.last_seen, None);

        let watched = presence_of(&mut carol, "alice").await;
        assert_eq!(
            watched.status, expected,
            "watcher after {chosen}: {watched:?}"
        );
        assert_eq!(watched, seen, "room and watchers see the same presence");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn one_idle_device_keeps_user_online_until_every_device_is_idle() {
    let server = TestServer::start().await;
    let mut web = server.client_device(&token("alice"), "web").await;
    web.join("lobby").await;
    let mut phone = server.client_device(&token("alice"), "phone").await;
    let mut bob = server.client("bob").await;
    let (_, listed) = members(&bob.join("lobby").await);
    let listed_alice = listed.iter().find(|p| p.user == "alice").unwrap();
    assert_eq!(listed_alice.devices, 2);
    let mut carol = server.client("carol").await;
    let state = watch(&mut carol, &["alice"], 1).await;
    assert_eq!(
        (state[0].status, state[0].devices),
        (EffectiveStatus::Online, 2)
    );
    for c in [&mut web, &mut phone, &mut bob, &mut carol] {
        drain(c).await;
    }

    // The web tab goes idle; the phone is still active: nothing visible changes.
    activity(&mut web, "idle", 21).await;
    bob.expect_silence(QUIET).await;
    carol.expect_silence(Duration::from_millis(50)).await;
    let now = query(&mut carol, &["alice"], 2).await;
    assert_eq!(now[0].status, EffectiveStatus::Online);

    // The phone goes idle too: every device is idle, so alice is away.
    activity(&mut phone, "idle", 22).await;
    let seen = room_update(&mut bob, "lobby", "alice").await;
    assert_eq!((seen.status, seen.devices), (EffectiveStatus::Away, 2));
    let watched = presence_of(&mut carol, "alice").await;
    assert_eq!(
        (watched.status, watched.devices),
        (EffectiveStatus::Away, 2)
    );

    // One device is active again: online.
    activity(&mut web, "active", 23).await;
    let seen = room_update(&mut bob, "lobby", "alice").await;
    assert_eq!(seen.status, EffectiveStatus::Online);
    let watched = presence_of(&mut carol, "alice").await;
    assert_eq!(watched.status, EffectiveStatus::Online);
    server.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn status_changes_that_change_nothing_send_nothing() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.join("lobby").await;
    let mut bob = server.client("bob").await;
    bob.join("lobby").await;
    let mut carol = server.client("carol").await;
    watch(&mut carol, &["alice"], 1).await;
    for c in [&mut alice, &mut bob, &mut carol] {
        drain(c).await;
    }

    set_status(&mut alice, "away", 31).await;
    assert_eq!(
        room_update(&mut bob, "lobby", "alice").await.status,
        EffectiveStatus::Away
    );
    assert_eq!(
        presence_of(&mut carol, "alice").await.status,
        EffectiveStatus::Away
    );

    // Chosen away, then the device goes idle: still away, so nothing is sent.
    activity(&mut alice, "idle", 32).await;
    bob.expect_silence(QUIET).await;
    carol.expect_silence(Duration::from_millis(50)).await;

    // Chosen online while the only device is idle: the effective status stays away.
    set_status(&mut alice, "online", 33).await;
    bob.expect_silence(QUIET).await;
    carol.expect_silence(Duration::from_millis(50)).await;

    // The device is active again: now it is online.
    activity(&mut alice, "active", 34).await;
    assert_eq!(
        room_update(&mut bob, "lobby", "alice").await.status,
        EffectiveStatus::Online
    );
    assert_eq!(
        presence_of(&mut carol, "alice").await.status,
        EffectiveStatus::Online
    );

    // Online a second time: nothing.
    set_status(&mut alice, "online", 35).await;
    bob.expect_silence(QUIET).await;
    carol.expect_silence(Duration::from_millis(50)).await;
    server.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------
// Invisible
// ---------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn going_invisible_looks_like_leaving_to_others_but_not_to_yourself() {
    let server = TestServer::start().await;
    let mut web = server.client_device(&token("alice"), "web").await;
    web.join("lobby").await;
    let mut phone = server.client_device(&token("alice"), "phone").await;
    phone.join("lobby").await;
    let mut bob = server.client("bob").await;
    bob.join("lobby").await;
    let mut carol = server.client("carol").await;
    watch(&mut carol, &["alice"], 1).await;
    for c in [&mut web, &mut phone, &mut bob, &mut carol] {
        drain(c).await;
    }

    let before = server.clock.now_ms();
    set_status(&mut web, "invisible", 41).await;
    let after_ack = server.clock.now_ms();

    // Room members see alice leave.
    assert_eq!(room_news(&mut bob, "lobby", "alice").await, News::Leave);

    // Watchers see her offline, last seen the moment she went invisible.
    let watched = presence_of(&mut carol, "alice").await;
    assert_eq!(watched.status, EffectiveStatus::Offline, "{watched:?}");
    assert_eq!(watched.devices, 0, "{watched:?}");
    let last_seen = watched
        .last_seen
        .expect("exact last seen of an invisible user");
    assert!(
        (before..=after_ack).contains(&last_seen),
        "last_seen {last_seen} should be when she went invisible ({before}..={after_ack})"
    );
    assert_eq!(watched.last_seen_approx, None);

    // Her other device does not see her leave; any update it gets is not offline.
    for frame in collect_for(&mut phone, QUIET).await {
        if let ServerFrame::RoomDiff {
            joins,
            leaves,
            updates,
            ..
        } = &frame
        {
            assert!(
                !leaves.iter().any(|u| u == "alice"),
                "her own session saw her leave: {frame:?}"
            );
            for p in joins.iter().chain(updates).filter(|p| p.user == "alice") {
                assert_ne!(p.status, EffectiveStatus::Offline, "{frame:?}");
                assert_eq!(p.devices, 2, "{frame:?}");
            }
        }
    }

    // Visible again: the room sees her join, watchers see her online.
    set_status(&mut web, "online", 42).await;
    match room_news(&mut bob, "lobby", "alice").await {
        News::Join(p) => {
            assert_eq!((p.status, p.devices), (EffectiveStatus::Online, 2));
            assert_eq!(p.last_seen, None);
        }
        other => panic!("expected alice to join again, got {other:?}"),
    }
    let watched = presence_of(&mut carol, "alice").await;
    assert_eq!(
        (watched.status, watched.devices, watched.last_seen),
        (EffectiveStatus::Online, 2, None)
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn invisible_user_types_unseen_and_is_missing_from_room_state() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.join("lobby").await;
    let mut bob = server.client("bob").await;
    bob.join("lobby").await;
    bob.join("side").await;
    drain(&mut bob).await;

    set_status(&mut alice, "invisible", 51).await;
    assert_eq!(room_news(&mut bob, "lobby", "alice").await, News::Leave);

    // Her typing is not sent. (A ping behind it proves the server has read it.)
    alice
        .send(json!({"type": "typing", "room": "lobby", "typing": true}))
        .await;
    alice.send(json!({"type": "ping", "ref": 52})).await;
    wait_for(&mut alice, "pong 52", |f| {
        matches!(
            f,
            ServerFrame::Pong {
                r#ref: Some(52),
                ..
            }
        )
        .then_some(())
    })
    .await;
    bob.expect_silence(QUIET).await;

    // A new member does not find her in the room.
    let mut dave = server.client("dave").await;
    let (count, listed) = members(&dave.join("lobby").await);
    let mut names: Vec<&str> = listed.iter().map(|p| p.user.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["bob", "dave"], "{listed:?}");
    assert_eq!(count, 2);
    assert!(matches!(
        room_news(&mut bob, "lobby", "dave").await,
        News::Join(_)
    ));

    // Her own join lists herself, as she sees herself; the others are not told.
    let (_, listed) = members(&alice.join("side").await);
    let me = listed
        .iter()
        .find(|p| p.user == "alice")
        .unwrap_or_else(|| panic!("her own room_state should list her: {listed:?}"));
    assert_eq!(me.status, EffectiveStatus::Online);
    assert_eq!(me.devices, 1);
    assert!(listed.iter().any(|p| p.user == "bob"), "{listed:?}");
    bob.expect_silence(QUIET).await;
    server.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn invisible_user_watching_themselves_sees_their_real_status() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let state = watch(&mut alice, &["alice"], 1).await;
    assert_eq!(state[0].status, EffectiveStatus::Online);
    let mut carol = server.client("carol").await;
    watch(&mut carol, &["alice"], 2).await;
    drain(&mut alice).await;

    set_status(&mut alice, "invisible", 61).await;
    // Control: others see her offline.
    assert_eq!(
        presence_of(&mut carol, "alice").await.status,
        EffectiveStatus::Offline
    );
    // What she is told about herself is never offline.
    for frame in collect_for(&mut alice, QUIET).await {
        if let ServerFrame::Presence { presence } = &frame {
            assert_ne!(presence.status, EffectiveStatus::Offline, "{frame:?}");
            assert_eq!(presence.devices, 1, "{frame:?}");
        }
    }
    let me = query(&mut alice, &["alice"], 62).await;
    assert_eq!((me[0].status, me[0].devices), (EffectiveStatus::Online, 1));

    // Another of her sessions that starts watching her now sees her too.
    let mut phone = server.client_device(&token("alice"), "phone").await;
    let me = watch(&mut phone, &["alice"], 63).await;
    assert_eq!((me[0].status, me[0].devices), (EffectiveStatus::Online, 2));
    // While carol still sees her offline.
    let seen = query(&mut carol, &["alice"], 64).await;
    assert_eq!(
        (seen[0].status, seen[0].devices),
        (EffectiveStatus::Offline, 0)
    );
    server.shutdown().await.unwrap();
}

// ---------------------------------------------------------------------------------
// Custom status
// ---------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn custom_status_reaches_room_and_watchers_and_clears_with_null() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.join("lobby").await;
    let mut bob = server.client("bob").await;
    bob.join("lobby").await;
    let mut carol = server.client("carol").await;
    watch(&mut carol, &["alice"], 1).await;
    for c in [&mut alice, &mut bob, &mut carol] {
        drain(c).await;
    }

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
    let mut alice = server.client("alice").await;
    alice.join("lobby").await;
    let mut bob = server.client("bob").await;
    bob.join("lobby").await;
    let mut carol = server.client("carol").await;
    watch(&mut carol, &["alice"], 1).await;
    for c in [&mut alice, &mut bob, &mut carol] {
        drain(c).await;
    }

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

// ---------------------------------------------------------------------------------
// Watch, query, unwatch
// ---------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------
// Security and limits
// ---------------------------------------------------------------------------------

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
