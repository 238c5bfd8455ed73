//! A node stopped with SIGTERM: its clients move to another node with no flap, and
//! those that do not come back leave after the grace period.

use super::*;

// ---------------------------------------------------------------------------------
// 6. SIGTERM: the node's clients move to another node with no flap.

const GRACE_6: u64 = 3_000;

pub(super) async fn sigterm_lets_clients_move_without_a_flap(backend: Backend) {
    let d = Deployment::new(backend, "sigterm-move");
    let grace = GRACE_6.to_string();
    let flags = ["--grace-ms", grace.as_str()];
    let mut a = d.node("node-a", &flags).await;
    let b = d.node("node-b", &flags).await;

    let mut u1 = a.client("u1", "laptop").await;
    let mut u2 = a.client("u2", "phone").await;
    join(&mut u1, "r", 1).await;
    join(&mut u2, "r", 1).await;
    let mut obs = b.client("obs", "web").await;
    let state = join(&mut obs, "r", 1).await;
    assert_eq!(member_ids(&state), ["obs", "u1", "u2"]);
    let seen = watch(&mut obs, &["u1"], 2).await;
    assert_eq!(seen[0].devices, 1);

    a.terminate();
    let stopped = Instant::now();
    for u in [&mut u1, &mut u2] {
        let (_, code) = u.expect_close().await;
        assert_eq!(code, Some(1012), "a clean shutdown closes with 1012");
    }
    // They come back on B with the same device labels, and join again.
    let mut u1 = b.client("u1", "laptop").await;
    let mut u2 = b.client("u2", "phone").await;
    for u in [&mut u1, &mut u2] {
        let state = join(u, "r", 1).await;
        assert_eq!(member_ids(&state), ["obs", "u1", "u2"]);
        assert!(
            state_parts(&state).1.iter().all(|p| p.devices == 1),
            "a resumed session is the same device: {state:?}"
        );
    }
    let moved = stopped.elapsed();
    assert!(
        moved < Duration::from_millis(GRACE_6),
        "the clients took {moved:?} to move, longer than the grace period: raise it"
    );

    // The observer sees no flap for grace + 2 s after the shutdown.
    let window = Duration::from_millis(GRACE_6 + 2_000).saturating_sub(stopped.elapsed());
    let frames = obs.collect_for(window).await;
    for user in ["u1", "u2"] {
        assert_eq!(
            count(&frames, |f| leaves_user(f, "r", user)
                || joins_user(f, "r", user)),
            0,
            "{user} flapped: {frames:#?}"
        );
        assert!(
            frames.iter().all(|f| update_of(f, "r", user)
                .is_none_or(|p| p.status == EffectiveStatus::Online && p.devices == 1)),
            "{frames:#?}"
        );
    }
    assert!(
        frames
            .iter()
            .all(|f| presence_of(f, "u1").is_none_or(|p| p.status == EffectiveStatus::Online)),
        "the watcher saw u1 change: {frames:#?}"
    );

    let status = a.wait_exit(SOON).await;
    assert!(status.success(), "node A exited with {status:?}");

    // A fresh member sees the room as it is.
    let mut fresh = b.client("fresh", "web").await;
    let state = join(&mut fresh, "r", 1).await;
    assert_eq!(member_ids(&state), ["fresh", "obs", "u1", "u2"]);
}

// ---------------------------------------------------------------------------------
// 7. SIGTERM: a client that does not come back leaves after the grace period (the
//    node's sessions linger for the grace period, then another node sweeps them).

pub(super) async fn sigterm_sessions_not_resumed_leave_after_the_grace_period(backend: Backend) {
    let d = Deployment::new(backend, "sigterm-gone");
    let grace = GRACE_6.to_string();
    // Default lease TTL; frequent renewals and sweeps keep the expected delay short.
    let flags = [
        "--grace-ms",
        grace.as_str(),
        "--lease-ttl-ms",
        "15000",
        "--lease-renew-ms",
        "1000",
    ];
    let mut a = d.node("node-a", &flags).await;
    let b = d.node("node-b", &flags).await;

    let mut gone = a.client("gone", "web").await;
    join(&mut gone, "r", 1).await;
    let mut obs = b.client("obs", "web").await;
    assert_eq!(member_ids(&join(&mut obs, "r", 1).await), ["gone", "obs"]);
    watch(&mut obs, &["gone"], 2).await;

    a.terminate();
    let stopped = Instant::now();
    let (_, code) = gone.expect_close().await;
    assert_eq!(code, Some(1012));
    let status = a.wait_exit(SOON).await;
    assert!(status.success(), "node A exited with {status:?}");

    let mut frames = obs
        .collect_until(Duration::from_secs(30), "gone's leave", |fs| {
            fs.iter().any(|f| leaves_user(f, "r", "gone"))
        })
        .await;
    let at = stopped.elapsed();
    eprintln!("the observer saw the leave {at:?} after the SIGTERM");
    frames.extend(obs.collect_for(Duration::from_secs(1)).await);
    assert!(
        at >= Duration::from_millis(GRACE_6 - 100),
        "gone left {at:?} after the shutdown, before the grace period ended"
    );
    // The shutdown itself, the grace period, then at most a renewal interval until a
    // sweep, with a wide margin (a lease left to expire by itself takes 14-16 s).
    let expected = Duration::from_millis(GRACE_6 + 2 * 1_000 + 6_000);
    assert!(
        at < expected,
        "a session of a node stopped with SIGTERM that did not come back left {at:?} \
         after the shutdown; expected within {expected:?} (grace {GRACE_6} ms + sweep)"
    );
    assert_eq!(count(&frames, |f| leaves_user(f, "r", "gone")), 1);
    assert!(frames
        .iter()
        .any(|f| presence_of(f, "gone").is_some_and(|p| p.status == EffectiveStatus::Offline)));
}
