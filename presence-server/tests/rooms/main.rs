//! Rooms: joining and leaving, coalesced diffs (a quiet room's change at once, then
//! one per window), several tabs of one user, the grace period, typing, token room
//! patterns, limits and large rooms.
//!
//! The tests run under paused tokio time (`start_paused`), on the server's tokio
//! clock: coalescing windows, grace periods and typing expiry pass when every task
//! waits, so the durations they assert are exact, however busy the machine.

#[path = "../common/mod.rs"]
mod common;

mod grace;
mod joins;
mod limits;
mod tabs;
mod typing;
mod typing_flood;

use std::time::Duration;

use common::{token, token_with, Client, Incoming, TestServer};
use presence_protocol::{EffectiveStatus, ErrorCode, Presence, ServerFrame};
use serde_json::json;
use tokio::time::Instant;

// ---------------------------------------------------------------------------------
// Helpers local to this file.

/// Joins `room` with this `ref` and returns the `room_state` (which must echo the ref).
async fn join_with_ref(c: &mut Client, room: &str, r: u64) -> ServerFrame {
    c.send(json!({"type": "join", "room": room, "ref": r}))
        .await;
    let state = c
        .recv_until(|f| matches!(f, ServerFrame::RoomState { room: x, .. } if x == room))
        .await;
    let ServerFrame::RoomState { r#ref, .. } = &state else {
        unreachable!()
    };
    assert_eq!(*r#ref, Some(r), "room_state must echo the join's ref");
    state
}

async fn leave(c: &mut Client, room: &str, r: u64) {
    c.send(json!({"type": "leave", "room": room, "ref": r}))
        .await;
    c.recv_until(|f| *f == ServerFrame::Ack { r#ref: r }).await;
}

async fn typing(c: &mut Client, room: &str, on: bool) {
    c.send(json!({"type": "typing", "room": room, "typing": on}))
        .await;
}

/// Sends a `ping` with a ref and waits for its `pong`: everything sent before it on
/// this connection has been handled by the server.
async fn sync(c: &mut Client, r: u64) {
    c.send(json!({"type": "ping", "ref": r})).await;
    c.recv_until(|f| matches!(f, ServerFrame::Pong { r#ref: Some(x), .. } if *x == r))
        .await;
}

/// `typist` (who is `user`) starts typing in `room`, and `watcher` sees it.
async fn start_typing(typist: &mut Client, user: &str, room: &str, watcher: &mut Client) {
    typing(typist, room, true).await;
    watcher.recv_until(|f| is_typing(f, room, user, true)).await;
}

/// Sends a `query` of `users` with ref `r`; returns the users of its `presence_state`.
async fn query(c: &mut Client, users: &[&str], r: u64) -> Vec<Presence> {
    c.send(json!({"type": "query", "users": users, "ref": r}))
        .await;
    let state = c
        .recv_until(|f| matches!(f, ServerFrame::PresenceState { r#ref: Some(x), .. } if *x == r))
        .await;
    let ServerFrame::PresenceState { users, .. } = state else {
        unreachable!()
    };
    users
}

/// Sends a `join` of `room` with ref `r` and asserts that it is answered by an error
/// with `code` and that ref, not by a `room_state`.
async fn join_is_refused(c: &mut Client, room: &str, r: u64, code: ErrorCode) {
    c.send(json!({"type": "join", "room": room, "ref": r}))
        .await;
    let f = c
        .recv_until(|f| matches!(f, ServerFrame::Error { .. } | ServerFrame::RoomState { .. }))
        .await;
    assert!(
        matches!(&f, ServerFrame::Error { code: got, r#ref: Some(x), .. } if *got == code && *x == r),
        "expected {code:?} for join {r}, got {f:?}"
    );
}

fn state_parts(f: ServerFrame) -> (u64, Vec<Presence>, Vec<String>) {
    match f {
        ServerFrame::RoomState {
            count,
            members,
            typing,
            ..
        } => (count, members, typing),
        other => panic!("expected room_state, got {other:?}"),
    }
}

fn member<'a>(members: &'a [Presence], user: &str) -> &'a Presence {
    members
        .iter()
        .find(|p| p.user == user)
        .unwrap_or_else(|| panic!("{user} is not among the members {members:?}"))
}

fn is_join(f: &ServerFrame, room: &str, user: &str) -> bool {
    matches!(f, ServerFrame::RoomDiff { room: r, joins, .. }
        if r == room && joins.iter().any(|p| p.user == user))
}

fn is_leave(f: &ServerFrame, room: &str, user: &str) -> bool {
    matches!(f, ServerFrame::RoomDiff { room: r, leaves, .. }
        if r == room && leaves.iter().any(|u| u == user))
}

fn is_typing(f: &ServerFrame, room: &str, user: &str, on: bool) -> bool {
    matches!(f, ServerFrame::Typing { room: r, user: u, typing }
        if r == room && u == user && *typing == on)
}

fn is_error(f: &ServerFrame, code: ErrorCode) -> bool {
    matches!(f, ServerFrame::Error { code: c, .. } if *c == code)
}

/// Lets the diffs of earlier joins in `room` reach `observer`: a marker user joins and
/// the observer waits for the diff naming it (earlier changes go out in it or before
/// it). Returns the marker's client, to keep it in the room.
async fn settle(server: &TestServer, observer: &mut Client, room: &str, marker: &str) -> Client {
    let mut m = server.client(marker).await;
    m.join(room).await;
    observer.recv_until(|f| is_join(f, room, marker)).await;
    m
}

/// Asserts that none of `frames` is a join or a leave of `user` in `room`.
fn assert_no_join_or_leave(frames: &[ServerFrame], room: &str, user: &str) {
    for f in frames {
        assert!(
            !is_join(f, room, user) && !is_leave(f, room, user),
            "{user} flapped in {room}: {f:?}\nall frames: {frames:?}"
        );
    }
}
