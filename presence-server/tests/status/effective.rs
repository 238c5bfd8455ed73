//! Effective status: chosen status and device activity, as room members and
//! watchers see them.

use super::*;

#[tokio::test(start_paused = true)]
async fn chosen_busy_then_away_then_online_reaches_room_and_watchers() {
    let server = TestServer::start().await;
    let [mut alice, mut bob, mut carol] = lobby_and_watcher(&server).await;

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
    let [mut alice, mut bob, mut carol] = lobby_and_watcher(&server).await;

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
