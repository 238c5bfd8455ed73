//! Joins, leaves, watches, typing and statuses cross nodes; one user on two nodes
//! is one member.

use super::*;

// ---------------------------------------------------------------------------------
// 1. Joins, leaves and watches cross nodes.

pub(super) async fn join_leave_and_watch_cross_nodes(backend: Backend) {
    let d = Deployment::new(backend, "cross-join");
    let a = d.node("node-a", &[]).await;
    let b = d.node("node-b", &[]).await;

    let mut bob = b.client("bob", "web").await;
    let state = join(&mut bob, "lobby", 1).await;
    assert_eq!(member_ids(&state), ["bob"]);

    let mut alice = a.client("alice", "web").await;
    let state = join(&mut alice, "lobby", 1).await;
    assert_eq!(state_parts(&state).0, 2, "{state:?}");
    assert_eq!(member_ids(&state), ["alice", "bob"]);

    // The join on A reaches B.
    let diff = bob
        .recv_within(SOON, "alice's join on B", |f| {
            joins_user(f, "lobby", "alice")
        })
        .await;
    let (joins, _, _) = room_diff_of(&diff, "lobby").unwrap();
    let p = joins.iter().find(|p| p.user == "alice").unwrap();
    assert_eq!((p.status, p.devices), (EffectiveStatus::Online, 1));

    // A watch on A sees the status of B's user change.
    let seen = watch(&mut alice, &["bob"], 2).await;
    assert_eq!(
        (seen[0].status, seen[0].devices),
        (EffectiveStatus::Online, 1)
    );
    request(&mut bob, json!({"type": "set_status", "status": "busy"}), 3).await;
    alice
        .recv_within(SOON, "bob busy on A", |f| {
            presence_of(f, "bob").is_some_and(|p| p.status == EffectiveStatus::Busy)
        })
        .await;

    // The leave on A reaches B.
    request(&mut alice, json!({"type": "leave", "room": "lobby"}), 4).await;
    bob.recv_within(SOON, "alice's leave on B", |f| {
        leaves_user(f, "lobby", "alice")
    })
    .await;

    // A fresh member on A sees the room as it is now.
    let mut carol = a.client("carol", "web").await;
    let state = join(&mut carol, "lobby", 1).await;
    assert_eq!(member_ids(&state), ["bob", "carol"]);
    assert_eq!(state_parts(&state).0, 2);

    assert_keys_under_prefix(&d);
}

// ---------------------------------------------------------------------------------
// 2. One user with sessions on two nodes is one member.

const GRACE_2: u64 = 1_500;

pub(super) async fn user_on_two_nodes_is_one_member(backend: Backend) {
    let d = Deployment::new(backend, "two-nodes-one-member");
    let grace = GRACE_2.to_string();
    let flags = ["--grace-ms", grace.as_str()];
    let a = d.node("node-a", &flags).await;
    let b = d.node("node-b", &flags).await;

    let mut web = a.client("alice", "web").await;
    assert_eq!(state_parts(&join(&mut web, "r", 1).await).0, 1);
    let mut phone = b.client("alice", "phone").await;
    let state = join(&mut phone, "r", 1).await;
    let (n, members) = state_parts(&state);
    assert_eq!(n, 1, "one member, however many sessions: {state:?}");
    assert_eq!(members.len(), 1, "{state:?}");
    assert_eq!(members[0].devices, 2, "{state:?}");

    // Observers on both nodes see one member with two devices.
    let mut carol = a.client("carol", "web").await;
    let mut dave = b.client("dave", "web").await;
    for (obs, expected) in [(&mut carol, 2), (&mut dave, 3)] {
        let state = join(obs, "r", 1).await;
        let (n, members) = state_parts(&state);
        assert_eq!(n, expected, "{state:?}");
        let alice: Vec<_> = members.iter().filter(|p| p.user == "alice").collect();
        assert_eq!(alice.len(), 1, "{state:?}");
        assert_eq!(alice[0].devices, 2, "{state:?}");
    }
    let seen = watch(&mut carol, &["alice"], 2).await;
    assert_eq!(seen[0].devices, 2);

    // One session goes: after its grace period alice has one device left, and never
    // leaves meanwhile.
    web.close().await;
    let one_device = |frames: &[ServerFrame]| {
        frames
            .iter()
            .any(|f| update_of(f, "r", "alice").is_some_and(|p| p.devices == 1))
    };
    let within = Duration::from_millis(GRACE_2) + SOON;
    let (on_a, on_b) = tokio::join!(
        carol.collect_until(within, "alice down to one device", |fs| {
            one_device(fs)
                && fs
                    .iter()
                    .any(|f| presence_of(f, "alice").is_some_and(|p| p.devices == 1))
        }),
        dave.collect_until(within, "alice down to one device", one_device),
    );
    for frames in [&on_a, &on_b] {
        assert_eq!(
            count(frames, |f| leaves_user(f, "r", "alice")),
            0,
            "alice still has a session: {frames:#?}"
        );
    }
    assert!(on_a
        .iter()
        .all(|f| presence_of(f, "alice").is_none_or(|p| p.status == EffectiveStatus::Online)));

    // The other goes too: exactly one leave, after the grace period.
    let closed = Instant::now();
    phone.close().await;
    let left = |frames: &[ServerFrame]| frames.iter().any(|f| leaves_user(f, "r", "alice"));
    let (mut on_a, mut on_b) = tokio::join!(
        carol.collect_until(within, "alice's leave on A", left),
        dave.collect_until(within, "alice's leave on B", left),
    );
    let elapsed = closed.elapsed();
    assert!(
        elapsed >= Duration::from_millis(GRACE_2 - 50),
        "alice left {elapsed:?} after her last session closed, before the grace period"
    );
    let (more_a, more_b) = tokio::join!(
        carol.collect_for(Duration::from_secs(2)),
        dave.collect_for(Duration::from_secs(2)),
    );
    on_a.extend(more_a);
    on_b.extend(more_b);
    for frames in [&on_a, &on_b] {
        assert_eq!(
            count(frames, |f| leaves_user(f, "r", "alice")),
            1,
            "exactly one leave: {frames:#?}"
        );
        assert_eq!(count(frames, |f| joins_user(f, "r", "alice")), 0);
    }
    assert!(
        on_a.iter().any(|f| presence_of(f, "alice")
            .is_some_and(|p| p.status == EffectiveStatus::Offline && p.devices == 0)),
        "the watcher sees alice offline: {on_a:#?}"
    );
}

// ---------------------------------------------------------------------------------
// 3. Typing, status and custom status cross nodes.

pub(super) async fn typing_status_and_custom_status_cross_nodes(backend: Backend) {
    let d = Deployment::new(backend, "typing-status");
    let a = d.node("node-a", &[]).await;
    let b = d.node("node-b", &[]).await;

    let mut alice = a.client("alice", "web").await;
    let mut bob = b.client("bob", "web").await;
    join(&mut alice, "r", 1).await;
    join(&mut bob, "r", 1).await;
    alice
        .recv_within(SOON, "bob's join on A", |f| joins_user(f, "r", "bob"))
        .await;
    watch(&mut bob, &["alice"], 2).await;

    // Typing, both ways.
    alice
        .send(json!({"type": "typing", "room": "r", "typing": true}))
        .await;
    bob.recv_within(SOON, "alice typing on B", |f| {
        matches!(f, ServerFrame::Typing { room, user, typing: true } if room == "r" && user == "alice")
    })
    .await;
    alice
        .send(json!({"type": "typing", "room": "r", "typing": false}))
        .await;
    bob.recv_within(SOON, "alice no longer typing on B", |f| {
        matches!(f, ServerFrame::Typing { room, user, typing: false } if room == "r" && user == "alice")
    })
    .await;
    bob.send(json!({"type": "typing", "room": "r", "typing": true}))
        .await;
    alice
        .recv_within(SOON, "bob typing on A", |f| {
            matches!(f, ServerFrame::Typing { room, user, typing: true } if room == "r" && user == "bob")
        })
        .await;

    // Status: the room and the watcher on B see alice busy.
    request(
        &mut alice,
        json!({"type": "set_status", "status": "busy"}),
        3,
    )
    .await;
    let frames = bob
        .collect_until(SOON, "alice busy on B", |fs| {
            fs.iter().any(|f| {
                update_of(f, "r", "alice").is_some_and(|p| p.status == EffectiveStatus::Busy)
            }) && fs
                .iter()
                .any(|f| presence_of(f, "alice").is_some_and(|p| p.status == EffectiveStatus::Busy))
        })
        .await;
    assert_eq!(count(&frames, |f| leaves_user(f, "r", "alice")), 0);

    // Custom status.
    request(
        &mut alice,
        json!({"type": "set_custom", "custom": {"text": "Lunch", "emoji": "🍜"}}),
        4,
    )
    .await;
    let has_lunch = |p: &Presence| {
        p.custom
            .as_ref()
            .is_some_and(|c| c.text.as_deref() == Some("Lunch") && c.emoji.as_deref() == Some("🍜"))
    };
    bob.collect_until(SOON, "alice's custom status on B", |fs| {
        fs.iter()
            .any(|f| update_of(f, "r", "alice").is_some_and(has_lunch))
            && fs
                .iter()
                .any(|f| presence_of(f, "alice").is_some_and(has_lunch))
    })
    .await;

    // A fresh member on B sees both in the room's state.
    let mut carol = b.client("carol", "web").await;
    let state = join(&mut carol, "r", 1).await;
    let (_, members) = state_parts(&state);
    let alice_seen = members.iter().find(|p| p.user == "alice").unwrap();
    assert_eq!(alice_seen.status, EffectiveStatus::Busy);
    assert!(has_lunch(alice_seen), "{alice_seen:?}");

    assert_keys_under_prefix(&d);
}
