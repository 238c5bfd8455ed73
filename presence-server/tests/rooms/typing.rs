//! Typing: who is told, when it ends, what a newcomer sees.

use super::*;

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
        tab1.collect_for(Duration::from_millis(800)),
        tab2.collect_for(Duration::from_millis(800))
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
    let [mut alice, mut bob] = server.joined("room", ["alice", "bob"]).await;

    start_typing(&mut alice, "alice", "room", &mut bob).await;
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
    let [mut alice, mut bob] = server.joined("room", ["alice", "bob"]).await;

    start_typing(&mut alice, "alice", "room", &mut bob).await;
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
    let [mut alice, mut bob] = server.joined("room", ["alice", "bob"]).await;

    // Alice types for 1.6 s, refreshing every 250 ms: twice the ttl.
    let typist = async {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        for _ in 0..7 {
            tick.tick().await;
            typing(&mut alice, "room", true).await;
        }
    };
    let (_, frames) = tokio::join!(typist, bob.collect_for(Duration::from_millis(1_600)));
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
    let [mut alice, mut bob] = server.joined("room", ["alice", "bob"]).await;

    start_typing(&mut alice, "alice", "room", &mut bob).await;
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
    let [mut alice, mut bob] = server.joined("room", ["alice", "bob"]).await;

    start_typing(&mut alice, "alice", "room", &mut bob).await;
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
    let [mut alice, _bob] = server.joined("room", ["alice", "bob"]).await;
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
