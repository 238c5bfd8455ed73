//! Invisible users: gone to others, present to themselves.

use super::*;

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
    for frame in phone.collect_for(QUIET).await {
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
    let [mut alice, mut bob] = server.joined("lobby", ["alice", "bob"]).await;
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
    for frame in alice.collect_for(QUIET).await {
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
