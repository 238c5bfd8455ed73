//! A node killed with SIGKILL is swept.

use super::*;

// ---------------------------------------------------------------------------------
// 4. A node killed with SIGKILL: exactly one leave per user per room, everywhere,
//    within 20 s, with the default lease settings.

pub(super) async fn sigkilled_node_is_swept_within_20s(backend: Backend) {
    let d = Deployment::new(backend, "sigkill");
    let lease = ["--lease-ttl-ms", "15000", "--lease-renew-ms", "5000"];
    let a = d.node("node-a", &lease).await;
    let b = d.node("node-b", &lease).await;
    let mut c = d.node("node-c", &lease).await;

    let mut u1 = c.client("u1", "web").await;
    let mut u2 = c.client("u2", "web").await;
    for u in [&mut u1, &mut u2] {
        join(u, "r1", 1).await;
        join(u, "r2", 2).await;
    }
    let mut oa = a.client("oa", "web").await;
    let mut ob = b.client("ob", "web").await;
    for obs in [&mut oa, &mut ob] {
        for (i, room) in ["r1", "r2"].into_iter().enumerate() {
            let state = join(obs, room, i as u64 + 1).await;
            let ids = member_ids(&state);
            assert!(
                ids.contains(&"u1".to_owned()) && ids.contains(&"u2".to_owned()),
                "{state:?}"
            );
        }
        let seen = watch(obs, &["u1"], 3).await;
        assert_eq!(seen[0].status, EffectiveStatus::Online);
    }

    // The bound holds whenever the node dies; the hardest moment is right after it
    // renewed its lease (a whole TTL still to run), so the kill follows a renewal.
    let lease_left = wait_for_lease_renewal(&d, "node-c").await;
    c.kill();
    let killed = Instant::now();
    // The users' sockets die with the node; nobody sends anything on them again.
    drop((u1, u2));

    let ((at_a, frames_a), (at_b, frames_b)) = tokio::join!(
        observe_sweep(&mut oa, killed),
        observe_sweep(&mut ob, killed)
    );
    eprintln!("after the kill, the observer on A saw everything in {at_a:?}, on B in {at_b:?}");
    for (node, at, frames) in [("A", at_a, &frames_a), ("B", at_b, &frames_b)] {
        assert!(
            at < Duration::from_secs(20),
            "the observer on {node} saw every leave only {at:?} after the kill (the \
             lease of node-c had {lease_left} ms left at the kill)"
        );
        for room in ["r1", "r2"] {
            for user in ["u1", "u2"] {
                assert_eq!(
                    count(frames, |f| leaves_user(f, room, user)),
                    1,
                    "observer on {node}: exactly one leave of {user} in {room}: {frames:#?}"
                );
                assert_eq!(count(frames, |f| joins_user(f, room, user)), 0);
            }
        }
        let offline = frames
            .iter()
            .filter_map(|f| presence_of(f, "u1"))
            .filter(|p| p.status == EffectiveStatus::Offline)
            .count();
        assert_eq!(
            offline, 1,
            "observer on {node}: u1 offline once: {frames:#?}"
        );
    }

    // One live node swept the dead one, once.
    let sweeps: usize = [&a, &b]
        .iter()
        .map(|n| {
            n.log()
                .lines()
                .filter(|l| {
                    l.contains("swept a dead node")
                        && l.split_whitespace().any(|w| w == "node=node-c")
                })
                .count()
        })
        .sum();
    assert_eq!(sweeps, 1, "node-c must be swept exactly once");

    // The store agrees: a fresh member sees only the observers.
    let mut fresh = a.client("fresh", "web").await;
    let state = join(&mut fresh, "r1", 1).await;
    assert_eq!(member_ids(&state), ["fresh", "oa", "ob"]);
    assert_eq!(state_parts(&state).0, 3);
}

/// Waits until `node` renews its lease (its time to live jumps up) and returns the
/// time to live (ms) it then has. Polls the Redis server that holds the lease.
async fn wait_for_lease_renewal(d: &Deployment, node: &str) -> i64 {
    let key = format!("{}:{{n:{node}}}:lease", d.prefix);
    let pttl = |s: &common::redis::RedisServer| s.cli(&["PTTL", &key]).trim().parse::<i64>().ok();
    let servers = d.backend.servers();
    let holder = servers
        .iter()
        .find(|s| pttl(s).is_some())
        .unwrap_or_else(|| panic!("no Redis server holds {key}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = pttl(holder).unwrap();
    loop {
        let now = pttl(holder).unwrap();
        if now > last {
            return now;
        }
        last = now;
        assert!(Instant::now() < deadline, "{node} renewed no lease");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Collects an observer's frames until it saw every leave of the SIGKILL scenario
/// and u1 going offline, then two more seconds (to catch duplicates). Returns when,
/// after the kill, it had seen everything.
async fn observe_sweep(obs: &mut Client, killed: Instant) -> (Duration, Vec<ServerFrame>) {
    let everything = |frames: &[ServerFrame]| {
        ["r1", "r2"].iter().all(|r| {
            ["u1", "u2"]
                .iter()
                .all(|u| frames.iter().any(|f| leaves_user(f, r, u)))
        }) && frames
            .iter()
            .any(|f| presence_of(f, "u1").is_some_and(|p| p.status == EffectiveStatus::Offline))
    };
    let mut frames = obs
        .collect_until(
            Duration::from_secs(40),
            "every leave, and u1 offline",
            everything,
        )
        .await;
    let at = killed.elapsed();
    frames.extend(obs.collect_for(Duration::from_secs(2)).await);
    (at, frames)
}
