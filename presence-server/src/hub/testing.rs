//! Helpers for the hub's unit tests: sessions that join and members, events, and what
//! a session's queue holds, decoded.

use presence_protocol::{EffectiveStatus, Presence, ServerFrame};
use tokio::time::Instant;

use super::{Hub, LocalId, Outbox};
use crate::events::{Event, RoomChange};

/// A session `user` that joined `room` and waits for its state (held).
pub(super) fn joining(hub: &Hub, room: &str, user: &str) -> (LocalId, Outbox) {
    let rx = Outbox::new(64);
    let id = hub.register(user, rx.clone());
    hub.subscribe_room(room, id);
    (id, rx)
}

/// A session `user` in `room`, released with an empty state; returns its queue.
pub(super) fn member(hub: &Hub, room: &str, user: &str) -> Outbox {
    let (id, mut rx) = joining(hub, room, user);
    hub.release_room(room, id, &state(room), 1, Instant::now());
    assert!(matches!(
        frames(&mut rx)[..],
        [ServerFrame::RoomState { .. }]
    ));
    rx
}

pub(super) fn state(room: &str) -> ServerFrame {
    ServerFrame::RoomState {
        room: room.into(),
        count: 1,
        members: Vec::new(),
        typing: Vec::new(),
        r#ref: None,
    }
}

pub(super) fn join(room: &str, user: &str) -> Event {
    let presence = Presence {
        user: user.into(),
        name: String::new(),
        status: EffectiveStatus::Online,
        since: 0,
        custom: None,
        last_seen: None,
        last_seen_approx: None,
        devices: 1,
    };
    Event::Room {
        room: room.into(),
        user: user.into(),
        public: Some(RoomChange::Join(presence.clone())),
        own: Some(RoomChange::Join(presence)),
        count: 2,
    }
}

/// The frames queued so far.
pub(super) fn frames(rx: &mut Outbox) -> Vec<ServerFrame> {
    rx.take_texts()
        .iter()
        .map(|t| ServerFrame::decode(t.as_str()).unwrap())
        .collect()
}

/// The users joining in each `room_diff` among `frames`.
pub(super) fn joins(frames: &[ServerFrame]) -> Vec<Vec<&str>> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::RoomDiff { joins, .. } => {
                Some(joins.iter().map(|p| p.user.as_str()).collect())
            }
            _ => None,
        })
        .collect()
}
