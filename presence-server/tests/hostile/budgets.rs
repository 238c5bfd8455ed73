//! What one user can make the server send: sessions that never read while re-joining
//! a big room (`docs/protocol.md`, "Limits and settings": a session's queue holds at
//! most `--outbound-queue-bytes`, past it the session is closed with 1013), and many
//! sessions of one user toggling typing (a member gets at most one start and one stop
//! of a user per `--typing-window-ms`).

use std::time::Duration;

use presence_protocol::ServerFrame;
use serde_json::json;
use tokio::time::Instant;

use super::common::{http_get_within, token, Client, Incoming};
use super::raw::Raw;
use super::{Got, Target};

/// Joins `n` members with long ids (about 330 bytes each in a `room_state`, as in the
/// measured 1,000-member room of 329 KiB) to `room`, 50 at a time.
async fn big_room(t: &Target, room: &str, n: usize) -> Vec<Client> {
    let mut members = Vec::new();
    for batch in 0..n.div_ceil(50) {
        let joins: Vec<_> = (batch * 50..n.min(batch * 50 + 50))
            .map(|i| {
                let (t, room) = (t.clone(), room.to_owned());
                tokio::spawn(async move {
                    let mut c = t.client(&format!("{i:04}-{}", "m".repeat(120))).await;
                    c.join(&room).await;
                    c
                })
            })
            .collect();
        for j in joins {
            members.push(j.await.unwrap());
        }
    }
    members
}

/// How long the server may take to close the never-reading sessions: their joins
/// cost it a `room_state` each, slow to build in a debug build on a loaded machine.
const CLOSED_WITHIN: Duration = Duration::from_secs(30);

/// A counter on `/metrics` without labels (0 when absent):
/// `presence_outbound_bytes_exceeded_total` counts the sessions closed (1013) for
/// going over their byte budget. Read while the attack keeps the server busy building
/// `room_state`s (seconds of CPU in a debug build on a loaded machine), so it waits as
/// long as [`CLOSED_WITHIN`]; the pair check after the attack is what bounds latency.
async fn counter(t: &Target, name: &str) -> f64 {
    let (status, body) = http_get_within(t.addr, "/metrics", CLOSED_WITHIN).await;
    assert_eq!(status, 200, "{body}");
    let prefix = format!("{name} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// 20 sessions of one user that never read (each with a small receive window, see
/// [`Raw::hello_small_window`]), each joining `room` and re-joining it 34 times in
/// one write (within the rate burst), then 10 times a second for 4 s (under the
/// sustained rate): every answer is a `room_state` of the whole room, far more in all
/// than a session's byte budget and the kernel's buffers. Each session must be closed
/// with 1013. A client that does not read may never see that close frame
/// (`docs/protocol.md`, item 9 of "Where this implementation is specific"): once the
/// server has closed, what the attacker still sends makes the kernel reset the
/// connection. So the closes are counted on `/metrics` ([`counter`]: `closed_by`),
/// waiting up to [`CLOSED_WITHIN`] before reading anything, and a session that does
/// get a close frame must have got 1013.
async fn never_reading_rejoiners(t: Target, members: usize, closed_by: &str) -> Got {
    let room = "big";
    let _members = big_room(&t, room, members).await;
    let before = counter(&t, closed_by).await;
    let mut sessions = Vec::new();
    for _ in 0..20 {
        sessions.push(Raw::hello_small_window(&t, "mallory").await);
    }
    let mut open = vec![true; sessions.len()];
    let joins =
        |n: usize| (0..n).map(|r| json!({"type": "join", "room": room, "ref": r}).to_string());
    for round in 0..5 {
        if round > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        for (raw, open) in sessions.iter_mut().zip(&mut open) {
            let n = if round == 0 { 35 } else { 10 };
            *open = *open && raw.try_texts(joins(n)).await.is_ok();
        }
    }
    // Never read until the server has closed them all (or gave up on it).
    let deadline = Instant::now() + CLOSED_WITHIN;
    while counter(&t, closed_by).await - before < 20.0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reads: Vec<_> = sessions
        .into_iter()
        .map(|raw| tokio::spawn(raw.outcome()))
        .collect();
    let mut other = Vec::new();
    for r in reads {
        match r.await.unwrap() {
            Got::Close(1013) => {}
            Got::NoClose(errors) if errors.is_empty() => {}
            got => other.push(got),
        }
    }
    let closed = counter(&t, closed_by).await - before;
    if other.is_empty() && closed >= 20.0 {
        Got::Close(1013)
    } else {
        let (_, metrics) = http_get_within(t.addr, "/metrics", CLOSED_WITHIN).await;
        let metrics: Vec<_> = metrics
            .lines()
            .filter(|l| l.contains("close") || l.contains("slow") || l.contains("outbound"))
            .collect();
        Got::Other(format!(
            "{closed} sessions counted in {closed_by}; besides a 1013 or a reset, sessions \
             got {other:?}; metrics: {metrics:?}"
        ))
    }
}

/// In a room of 500 members (`room_state` about 165 KiB), under the case's budget of
/// 256 KiB a session: all 20 must be closed for their byte budget.
pub(crate) async fn never_reading_rejoiners_of_a_room(t: Target) -> Got {
    never_reading_rejoiners(t, 500, "presence_outbound_bytes_exceeded_total").await
}

/// The attack as it was measured, with default settings: a room of 1,000 members with
/// the attacker (`room_state` about 330 KiB; one more and the room is large, and its
/// `room_state` lists only 100) under the default budget of 2 MiB a session. Heavy:
/// building 20 × 35 such states takes a debug build tens of seconds of CPU, so run it
/// against the release build (`PRESENCE_TEST_SERVER_BIN=target/release/presence-server`).
pub(crate) async fn never_reading_rejoiners_of_a_big_room(t: Target) -> Got {
    never_reading_rejoiners(t, 999, "presence_outbound_bytes_exceeded_total").await
}

/// 20 sessions of one user in a room, each sending 10 typing toggles (start, stop, …)
/// in one write: a member must get at most one start and one stop of that user in
/// the window, the start first. The case passes a window (30 s) longer than the
/// attack takes on a loaded machine, so that the whole attack falls in one window.
/// Without the per-user window every toggle reached every member (20 sessions made
/// 400,000 frames a second out of a 1,000-member room).
pub(crate) async fn typing_toggled_from_twenty_sessions(t: Target) -> Got {
    let room = "typing";
    let mut member = t.client("member").await;
    member.join(room).await;
    let mut tabs = Vec::new();
    for i in 0..20 {
        let mut tab = Client::connect_url(&t.ws_url()).await;
        tab.hello_device(&token("mallory"), &format!("tab{i}"))
            .await;
        tab.join(room).await;
        tabs.push(tab);
    }
    for tab in &mut tabs {
        tab.send_batch(
            (0..10)
                .map(|i| json!({"type": "typing", "room": room, "typing": i % 2 == 0}).to_string()),
        )
        .await;
    }
    // Every toggle has been handled once each tab answered a ping sent after them.
    for (r, tab) in (1u64..).zip(&mut tabs) {
        tab.send(json!({"type": "ping", "ref": r})).await;
        tab.recv_until(|f| matches!(f, ServerFrame::Pong { .. }))
            .await;
    }
    let mut typing = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(500);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match member.recv_raw(left).await {
            Some(Incoming::Frame(ServerFrame::Typing {
                user, typing: t, ..
            })) if user == "mallory" => {
                typing.push(t);
            }
            Some(Incoming::Frame(_)) => {}
            None => break,
            Some(other) => return Got::Other(format!("the member got {other:?}")),
        }
    }
    if typing.len() <= 2 && typing.first() == Some(&true) {
        Got::errors(&[])
    } else {
        Got::Other(format!(
            "{} typing frames of mallory reached the member: {typing:?}",
            typing.len()
        ))
    }
}
