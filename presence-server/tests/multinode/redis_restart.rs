//! A Redis restart (empty) converges to the truth.

use super::*;

// ---------------------------------------------------------------------------------
// 5. A Redis restart (empty) converges to the truth.

pub(super) async fn redis_restart_converges_to_the_truth(backend: Backend) {
    let mut d = Deployment::new(backend, "redis-restart");
    let flags = [
        "--lease-ttl-ms",
        "3000",
        "--lease-renew-ms",
        "1000",
        "--grace-ms",
        "1000",
    ];
    let a = d.node("node-a", &flags).await;
    let b = d.node("node-b", &flags).await;

    let mut alice = a.client("alice", "web").await;
    let mut carol = a.client("carol", "web").await;
    let mut bob = b.client("bob", "web").await;
    let mut dave = b.client("dave", "web").await;
    let mut va = RoomView::new("r");
    let mut vc = RoomView::new("r");
    let mut vb = RoomView::new("r");
    let mut vd = RoomView::new("r");
    va.apply(&join(&mut alice, "r", 1).await);
    vc.apply(&join(&mut carol, "r", 1).await);
    vb.apply(&join(&mut bob, "r", 1).await);
    vd.apply(&join(&mut dave, "r", 1).await);
    let everyone = ["alice", "bob", "carol", "dave"];
    tokio::join!(
        alice.track_until(&mut va, SOON, "everyone", |v| v.is(&everyone)),
        carol.track_until(&mut vc, SOON, "everyone", |v| v.is(&everyone)),
        bob.track_until(&mut vb, SOON, "everyone", |v| v.is(&everyone)),
        dave.track_until(&mut vd, SOON, "everyone", |v| v.is(&everyone)),
    );
    // dave also watches carol and bob.
    let mut watched: BTreeMap<String, Presence> = watch(&mut dave, &["carol", "bob"], 2)
        .await
        .into_iter()
        .map(|p| (p.user.clone(), p))
        .collect();
    assert_eq!(watched["carol"].status, EffectiveStatus::Online);

    // Redis goes away.
    d.backend.kill();
    for node in [&a, &b] {
        wait_http(node, "/readyz", 503, SOON).await;
    }
    // A request that needs Redis fails promptly with `internal`, and the node serves on.
    let asked = Instant::now();
    alice
        .send(json!({"type": "join", "room": "elsewhere", "ref": 7}))
        .await;
    let answer = alice
        .recv_within(Duration::from_secs(20), "the answer to a join", |f| {
            matches!(f, ServerFrame::Error { r#ref: Some(7), .. })
                || matches!(f, ServerFrame::RoomState { room, .. } if room == "elsewhere")
        })
        .await;
    let took = asked.elapsed();
    eprintln!("a join while Redis was down was answered in {took:?}: {answer:?}");
    assert!(
        matches!(
            answer,
            ServerFrame::Error {
                code: ErrorCode::Internal,
                ..
            }
        ),
        "a join while Redis is down: {answer:?}"
    );
    assert!(
        took < Duration::from_secs(6),
        "the join's error took {took:?}"
    );
    alice.send(json!({"type": "ping", "ref": 8})).await;
    alice
        .recv_within(SOON, "pong", |f| {
            matches!(f, ServerFrame::Pong { r#ref: Some(8), .. })
        })
        .await;
    assert_eq!(http_get(a.addr, "/healthz").await.0, 200);

    // carol disconnects while Redis is down (the node logs that it could not record
    // it).
    carol.close().await;
    a.wait_log(SOON, "the failed linger of carol", |l| {
        l.contains("linger failed") && l.contains("carol")
    })
    .await;

    // Redis comes back, empty.
    d.backend.start_again();
    let restarted = Instant::now();
    for node in [&a, &b] {
        wait_http(node, "/readyz", 200, SOON).await;
    }
    let converge = Duration::from_secs(20);

    // The store converges: a fresh client sees every live member and no ghost.
    let mut erin = b.client("erin", "web").await;
    let with_erin = ["alice", "bob", "dave", "erin"];
    let mut r = 1;
    loop {
        let state = join(&mut erin, "r", r).await;
        if member_ids(&state) == with_erin && state_parts(&state).0 == 4 {
            break;
        }
        assert!(
            restarted.elapsed() < converge,
            "a fresh member never saw the true room: {state:?}"
        );
        r += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "a fresh member saw the true room {:?} after the restart; subscribers of the \
         room's channel: {}",
        restarted.elapsed(),
        room_subscribers(&d, "r")
    );

    // Every remaining client ends with the truth: no ghost (carol), no lost member
    // (alice on A, bob and dave on B), and erin, who joined on B after the restart.
    let (_, _, frames_d) = tokio::join!(
        alice.track_until(
            &mut va,
            converge,
            "the true members on alice (node A)",
            |v| v.is(&with_erin)
        ),
        bob.track_until(&mut vb, converge, "the true members on bob (node B)", |v| v
            .is(&with_erin)),
        dave.track_until(
            &mut vd,
            converge,
            "the true members on dave (node B)",
            |v| v.is(&with_erin)
        ),
    );
    eprintln!(
        "every client saw the true room {:?} after the restart",
        restarted.elapsed()
    );
    apply_presences(&mut watched, &frames_d);

    // Events flow between the nodes again, both ways. (A change's room_diff may come
    // before the ack of the request that made it.)
    request(
        &mut alice,
        json!({"type": "set_status", "status": "busy"}),
        9,
    )
    .await
    .iter()
    .for_each(|f| va.apply(f));
    request(&mut bob, json!({"type": "set_status", "status": "away"}), 9)
        .await
        .iter()
        .for_each(|f| vb.apply(f));
    let statuses = |v: &RoomView| {
        v.members
            .get("alice")
            .is_some_and(|p| p.status == EffectiveStatus::Busy)
            && v.members
                .get("bob")
                .is_some_and(|p| p.status == EffectiveStatus::Away)
    };
    let (_, _, frames_d) = tokio::join!(
        alice.track_until(&mut va, SOON, "bob away on alice (node A)", statuses),
        bob.track_until(&mut vb, SOON, "alice busy on bob (node B)", statuses),
        dave.track_until(&mut vd, SOON, "alice busy on dave (node B)", statuses),
    );
    apply_presences(&mut watched, &frames_d);

    // The views stay true, and the watcher ends with carol offline and bob away.
    let (fa, fb, fd) = tokio::join!(
        alice.collect_for(Duration::from_secs(1)),
        bob.collect_for(Duration::from_secs(1)),
        dave.collect_for(Duration::from_secs(1)),
    );
    apply_presences(&mut watched, &fd);
    for (view, frames) in [(&mut va, fa), (&mut vb, fb), (&mut vd, fd)] {
        frames.iter().for_each(|f| view.apply(f));
        assert!(view.is(&with_erin), "{view:?}");
    }
    assert_eq!(
        (watched["carol"].status, watched["carol"].devices),
        (EffectiveStatus::Offline, 0),
        "the watcher still sees carol, who left while Redis was down: {watched:?}"
    );
    assert_eq!(watched["bob"].status, EffectiveStatus::Away, "{watched:?}");
}

/// How many connections subscribe to `room`'s channel, per Redis server (for
/// failure messages).
fn room_subscribers(d: &Deployment, room: &str) -> String {
    let channel = format!("{}:{{r:{room}}}:ch", d.prefix);
    let numsub = if d.backend.is_cluster() {
        "SHARDNUMSUB"
    } else {
        "NUMSUB"
    };
    d.backend
        .servers()
        .iter()
        .map(|s| {
            let out = s.cli(&["PUBSUB", numsub, &channel]);
            format!("{}: {}", s.port, out.lines().nth(1).unwrap_or("?"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Applies the `presence` events among `frames` to what a watcher knows.
fn apply_presences(watched: &mut BTreeMap<String, Presence>, frames: &[ServerFrame]) {
    for f in frames {
        if let ServerFrame::Presence { presence } = f {
            watched.insert(presence.user.clone(), presence.clone());
        }
    }
}
