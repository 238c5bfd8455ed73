//! Several server nodes as real processes of the built binary, on one real Redis and
//! on a real 3-master Redis Cluster: joins, leaves, typing and statuses cross nodes; a
//! user on two nodes is one member; a node killed with SIGKILL is swept (one leave per
//! user per room, everywhere, within 20 s); a Redis restart converges to the truth; a
//! node stopped with SIGTERM lets its clients move to another node without a flap.
//!
//! Each scenario is written once, as a function of the backend, and runs on both
//! (`on_every_backend!` at the end). Nothing waits for a fixed time for something that
//! should happen: frames are awaited with deadlines, and fixed windows only check that
//! something does not happen.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::nodes::{Backend, Deployment, Node, RoomView};
use common::{http_get, Client};
use presence_protocol::{EffectiveStatus, ErrorCode, Presence, ServerFrame};
use serde_json::json;

/// A frame that should come soon (a busy 2-core machine runs other tests meanwhile).
const SOON: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------
// Frame helpers.

fn room_diff_of<'a>(
    f: &'a ServerFrame,
    room: &str,
) -> Option<(&'a [Presence], &'a [String], &'a [Presence])> {
    match f {
        ServerFrame::RoomDiff {
            room: r,
            joins,
            leaves,
            updates,
        } if r == room => Some((joins, leaves, updates)),
        _ => None,
    }
}

fn joins_user(f: &ServerFrame, room: &str, user: &str) -> bool {
    room_diff_of(f, room).is_some_and(|(j, _, _)| j.iter().any(|p| p.user == user))
}

fn leaves_user(f: &ServerFrame, room: &str, user: &str) -> bool {
    room_diff_of(f, room).is_some_and(|(_, l, _)| l.iter().any(|u| u == user))
}

/// The presence of `user` in a `room_diff` update of `room`.
fn update_of<'a>(f: &'a ServerFrame, room: &str, user: &str) -> Option<&'a Presence> {
    room_diff_of(f, room).and_then(|(_, _, u)| u.iter().find(|p| p.user == user))
}

/// The presence of `user` in a `presence` event.
fn presence_of<'a>(f: &'a ServerFrame, user: &str) -> Option<&'a Presence> {
    match f {
        ServerFrame::Presence { presence } if presence.user == user => Some(presence),
        _ => None,
    }
}

fn count(frames: &[ServerFrame], pred: impl Fn(&ServerFrame) -> bool) -> usize {
    frames.iter().filter(|f| pred(f)).count()
}

fn state_parts(f: &ServerFrame) -> (u64, Vec<&Presence>) {
    match f {
        ServerFrame::RoomState { count, members, .. } => (*count, members.iter().collect()),
        other => panic!("expected room_state, got {other:?}"),
    }
}

fn member_ids(f: &ServerFrame) -> Vec<String> {
    state_parts(f).1.iter().map(|p| p.user.clone()).collect()
}

/// `join` with a `ref`; returns the `room_state` that answers it.
async fn join(c: &mut Client, room: &str, r: u64) -> ServerFrame {
    c.send(json!({"type": "join", "room": room, "ref": r}))
        .await;
    c.recv_within(SOON, "the room_state of the join", |f| {
        matches!(f, ServerFrame::RoomState { room: x, r#ref: Some(y), .. } if x == room && *y == r)
    })
    .await
}

/// Sends a request with `ref` and waits for its `ack`; returns the frames that came
/// before it (the room_diff of the change can, say).
async fn request(c: &mut Client, mut frame: serde_json::Value, r: u64) -> Vec<ServerFrame> {
    frame["ref"] = json!(r);
    c.send(frame).await;
    let is_answer = |f: &ServerFrame| match f {
        ServerFrame::Ack { r#ref } => *r#ref == r,
        ServerFrame::Error { r#ref, .. } => *r#ref == Some(r),
        _ => false,
    };
    let mut frames = c
        .collect_until(SOON, "the answer to a request", |fs| {
            fs.iter().any(is_answer)
        })
        .await;
    let answer = frames.pop();
    assert!(
        matches!(answer, Some(ServerFrame::Ack { .. })),
        "expected ack {r}, got {answer:?}"
    );
    frames
}

/// `watch` with a `ref`; returns the presences of the answering `presence_state`.
async fn watch(c: &mut Client, users: &[&str], r: u64) -> Vec<Presence> {
    c.send(json!({"type": "watch", "users": users, "ref": r}))
        .await;
    match c
        .recv_within(
            SOON,
            "the presence_state of the watch",
            |f| matches!(f, ServerFrame::PresenceState { r#ref: Some(x), .. } if *x == r),
        )
        .await
    {
        ServerFrame::PresenceState { users, .. } => users,
        _ => unreachable!(),
    }
}

/// Polls `GET path` on `node` until it answers `status`; panics after `within`.
async fn wait_http(node: &Node, path: &str, status: u16, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let (got, body) = http_get(node.addr, path).await;
        if got == status {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{path} on node {} answered {got} {body:?}, not {status}, for {within:?}",
            node.id
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that every key in the test's Redis is under the test's prefix.
fn assert_keys_under_prefix(d: &Deployment) {
    let keys = d.backend.keys();
    assert!(!keys.is_empty(), "the nodes wrote no key at all");
    let outside = d.keys_outside_prefix();
    assert!(
        outside.is_empty(),
        "keys outside the prefix {:?}: {outside:?}",
        d.prefix
    );
}

// ---------------------------------------------------------------------------------
// 1. Joins, leaves and watches cross nodes.

async fn join_leave_and_watch_cross_nodes(backend: Backend) {
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

async fn user_on_two_nodes_is_one_member(backend: Backend) {
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

async fn typing_status_and_custom_status_cross_nodes(backend: Backend) {
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

// ---------------------------------------------------------------------------------
// 4. A node killed with SIGKILL: exactly one leave per user per room, everywhere,
//    within 20 s, with the default lease settings.

async fn sigkilled_node_is_swept_within_20s(backend: Backend) {
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

// ---------------------------------------------------------------------------------
// 5. A Redis restart (empty) converges to the truth.

async fn redis_restart_converges_to_the_truth(backend: Backend) {
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

// ---------------------------------------------------------------------------------
// 6. SIGTERM: the node's clients move to another node with no flap.

const GRACE_6: u64 = 3_000;

async fn sigterm_lets_clients_move_without_a_flap(backend: Backend) {
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

async fn sigterm_sessions_not_resumed_leave_after_the_grace_period(backend: Backend) {
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

// ---------------------------------------------------------------------------------

/// Each scenario against a single Redis and against a 3-master Redis Cluster.
macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        mod single_redis {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::single()).await;
                }
            )+
        }
        mod redis_cluster {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::cluster()).await;
                }
            )+
        }
    };
}

on_every_backend!(
    join_leave_and_watch_cross_nodes,
    user_on_two_nodes_is_one_member,
    typing_status_and_custom_status_cross_nodes,
    sigkilled_node_is_swept_within_20s,
    redis_restart_converges_to_the_truth,
    sigterm_lets_clients_move_without_a_flap,
    sigterm_sessions_not_resumed_leave_after_the_grace_period,
);
