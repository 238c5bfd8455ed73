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

#[path = "../common/mod.rs"]
mod common;

mod cross_nodes;
mod redis_restart;
mod sigkill;
mod sigterm;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::nodes::{Backend, Deployment, Node, RoomView};
use common::{http_get, Client};
use presence_protocol::{EffectiveStatus, ErrorCode, Presence, ServerFrame};
use serde_json::json;

use cross_nodes::{
    join_leave_and_watch_cross_nodes, typing_status_and_custom_status_cross_nodes,
    user_on_two_nodes_is_one_member,
};
use redis_restart::redis_restart_converges_to_the_truth;
use sigkill::sigkilled_node_is_swept_within_20s;
use sigterm::{
    sigterm_lets_clients_move_without_a_flap,
    sigterm_sessions_not_resumed_leave_after_the_grace_period,
};

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
