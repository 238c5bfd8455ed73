//! Status semantics and watching (`docs/protocol.md`, "Semantics" and "Security
//! (tokens)"): the effective-status rules as room members and watchers see them,
//! invisible users, custom status and its expiry, watch / query / unwatch, last-seen
//! privacy, the token's watch patterns and the watched-users limit.
//!
//! The tests run under paused tokio time (`start_paused`), on the server's tokio
//! clock: grace periods and custom status expiry pass when every task waits, and the
//! times the server reports are compared with `server.clock`.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod custom_status;
mod effective;
mod invisible;
mod limits;
mod retention;
mod watching;

use std::time::Duration;

use common::{token, token_with, Client, Incoming, TestServer, WAIT};
use presence_protocol::{
    CustomStatus, EffectiveStatus, ErrorCode, LastSeenApprox, Presence, ServerFrame,
};
use serde_json::{json, Value};
use tokio::time::Instant;

/// Long enough for a coalesced room diff (20 ms window in tests) to have gone out.
const QUIET: Duration = Duration::from_millis(200);

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// Reads frames until `pick` returns something; panics with the skipped frames after
/// [`WAIT`] or on a close.
async fn wait_for<T>(
    c: &mut Client,
    what: &str,
    mut pick: impl FnMut(&ServerFrame) -> Option<T>,
) -> T {
    let deadline = Instant::now() + WAIT;
    let mut skipped = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.recv_raw(left).await {
            Some(Incoming::Frame(f)) => match pick(&f) {
                Some(t) => return t,
                None => skipped.push(f),
            },
            other => panic!("waiting for {what}: got {other:?}; skipped before: {skipped:?}"),
        }
    }
}

/// Reads everything that arrives until the connection has been quiet for 150 ms
/// (setup noise: own joins echoed in diffs, device-count updates…).
async fn drain(c: &mut Client) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match c.recv_raw(Duration::from_millis(150)).await {
            Some(Incoming::Frame(_)) => {}
            Some(Incoming::Close(code)) => panic!("closed while draining: {code:?}"),
            None => return,
        }
    }
    panic!("the connection never went quiet");
}

/// What a room member learns about one user from a `room_diff`.
#[derive(Debug, Clone, PartialEq)]
enum News {
    Join(Presence),
    Update(Presence),
    Leave,
}

/// The next `room_diff` of `room` that mentions `user`, as what it says about them.
async fn room_news(c: &mut Client, room: &str, user: &str) -> News {
    wait_for(c, &format!("a room_diff in {room} about {user}"), |f| {
        let ServerFrame::RoomDiff {
            room: r,
            joins,
            leaves,
            updates,
        } = f
        else {
            return None;
        };
        if r != room {
            return None;
        }
        if let Some(p) = joins.iter().find(|p| p.user == user) {
            return Some(News::Join(p.clone()));
        }
        if leaves.iter().any(|u| u == user) {
            return Some(News::Leave);
        }
        updates
            .iter()
            .find(|p| p.user == user)
            .map(|p| News::Update(p.clone()))
    })
    .await
}

/// The next room update about `user`; panics on a join or leave instead.
async fn room_update(c: &mut Client, room: &str, user: &str) -> Presence {
    match room_news(c, room, user).await {
        News::Update(p) => p,
        other => panic!("expected an update of {user} in {room}, got {other:?}"),
    }
}

/// The next `presence` event about `user`.
async fn presence_of(c: &mut Client, user: &str) -> Presence {
    wait_for(c, &format!("a presence event about {user}"), |f| match f {
        ServerFrame::Presence { presence } if presence.user == user => Some(presence.clone()),
        _ => None,
    })
    .await
}

/// Waits for the `ack` carrying `r`.
async fn ack(c: &mut Client, r: u64) {
    wait_for(c, &format!("ack {r}"), |f| match f {
        ServerFrame::Ack { r#ref } if *r#ref == r => Some(()),
        ServerFrame::Error { r#ref, .. } if *r#ref == Some(r) => {
            panic!("expected ack {r}, got {f:?}")
        }
        _ => None,
    })
    .await;
}

/// Sends `frame` with `"ref": r` and waits for its ack.
async fn request(c: &mut Client, mut frame: Value, r: u64) {
    frame["ref"] = json!(r);
    c.send(frame).await;
    ack(c, r).await;
}

async fn set_status(c: &mut Client, status: &str, r: u64) {
    request(c, json!({"type": "set_status", "status": status}), r).await;
}

async fn activity(c: &mut Client, state: &str, r: u64) {
    request(c, json!({"type": "activity", "state": state}), r).await;
}

/// The `error` answering the request with `r`.
async fn error_for(c: &mut Client, r: u64) -> ErrorCode {
    wait_for(c, &format!("an error with ref {r}"), |f| match f {
        ServerFrame::Error {
            code,
            r#ref: Some(x),
            ..
        } if *x == r => Some(*code),
        ServerFrame::Ack { r#ref } if *r#ref == r => panic!("expected an error, got {f:?}"),
        ServerFrame::PresenceState { r#ref: Some(x), .. } if *x == r => {
            panic!("expected an error, got {f:?}")
        }
        _ => None,
    })
    .await
}

/// The `presence_state` answering the request with `r`.
async fn presence_state(c: &mut Client, r: u64) -> Vec<Presence> {
    wait_for(c, &format!("presence_state {r}"), |f| match f {
        ServerFrame::PresenceState {
            users,
            r#ref: Some(x),
        } if *x == r => Some(users.clone()),
        ServerFrame::Error { r#ref: Some(x), .. } if *x == r => {
            panic!("expected presence_state {r}, got {f:?}")
        }
        _ => None,
    })
    .await
}

async fn watch(c: &mut Client, users: &[&str], r: u64) -> Vec<Presence> {
    c.send(json!({"type": "watch", "users": users, "ref": r}))
        .await;
    presence_state(c, r).await
}

async fn query(c: &mut Client, users: &[&str], r: u64) -> Vec<Presence> {
    c.send(json!({"type": "query", "users": users, "ref": r}))
        .await;
    presence_state(c, r).await
}

fn members(state: &ServerFrame) -> (u64, Vec<Presence>) {
    match state {
        ServerFrame::RoomState { count, members, .. } => (*count, members.clone()),
        other => panic!("expected room_state, got {other:?}"),
    }
}

fn custom(text: &str, emoji: &str) -> CustomStatus {
    CustomStatus {
        text: Some(text.to_owned()),
        emoji: Some(emoji.to_owned()),
        expires_at: None,
    }
}

/// alice and bob in `lobby`, and carol watching alice (online to her, ref 1), with
/// what the setup sent drained from all three: where most tests here start.
async fn lobby_and_watcher(server: &TestServer) -> [Client; 3] {
    let [mut alice, mut bob] = server.joined("lobby", ["alice", "bob"]).await;
    let mut carol = server.client("carol").await;
    let state = watch(&mut carol, &["alice"], 1).await;
    assert_eq!(state[0].status, EffectiveStatus::Online);
    for c in [&mut alice, &mut bob, &mut carol] {
        drain(c).await;
    }
    [alice, bob, carol]
}
