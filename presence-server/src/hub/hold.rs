//! The hold/release protocol of joins, watches and resyncs.
//!
//! # The invariant
//!
//! **A session never sees a frame about a topic that is older than the state frame it
//! applies that frame to.** Per subscription (one session in one room, or one session
//! watching one user):
//!
//! - *What is held.* From the moment a subscription is held until its state frame is
//!   queued, every frame the hub sends on that subscription (`room_diff`,
//!   `room_count`, `typing`, `presence`) waits in the hold, in the order the hub sent
//!   it, instead of going to the session's outbox. At most [`MAX_HELD`] frames wait;
//!   one more kills the session (it reconnects and resyncs) rather than buffering for
//!   it without bound.
//! - *When it is held.* A join ([`Hub::subscribe_room`](super::Hub::subscribe_room))
//!   or a watch ([`Hub::subscribe_watch`](super::Hub::subscribe_watch)) holds its new
//!   subscription before the state is read from the store. A resync
//!   ([`Hub::hold_room`](super::Hub::hold_room)) first sends what is pending in the
//!   room (the state it reads will show it), then holds every subscription of the
//!   room that is not held already: a join in progress is left to its own state.
//! - *When it is released.* When the state frame is queued:
//!   [`Hub::release_room`](super::Hub::release_room) (a join's `room_state`),
//!   [`Hub::release_watch`](super::Hub::release_watch) (`presence_state`) or
//!   [`Hub::resync_room`](super::Hub::resync_room) (a resync's fresh `room_state`,
//!   after what is pending has gone out once more). A resync whose read failed
//!   releases what waited, with no state and nothing dropped.
//! - *What order the session sees.* The state frame, then the held frames in the
//!   order they were held, then live frames. The state was read after `snapshot_at`
//!   (the caller takes that instant *before* the read), so a held `room_diff` whose
//!   newest change was delivered before `snapshot_at` is shown by the state already
//!   and is dropped; only *leading* ones are dropped, since a later frame (a resync's
//!   state, say) may need the diffs after it. The first diff sent after the release
//!   leaves out the pending changes delivered before `snapshot_at`, for the same
//!   reason.
//! - *A rejoin during a resync takes the hold over.* A session that joins a room
//!   again while a resync of that room reads its state gets its own hold (the resync
//!   mark is cleared): the resync then skips it, and the rejoin's own state, read
//!   after everything held so far, is the one it sends. Two state frames never race
//!   for one subscription.
//!
//! The last two ordering bugs of the hub were both here (a diff overtaking a resync's
//! state; a rejoin's state sent behind a resync's): the unit tests below pin each case.

use tokio::time::Instant;

use crate::frame::Utf8Bytes;
use crate::outbox::Outbox;

/// Frames that may wait behind a held session's state frame before it is killed.
const MAX_HELD: usize = 256;

/// A frame waiting behind a held session's state frame.
#[derive(Debug)]
pub(super) struct Held {
    frame: Utf8Bytes,
    /// For a `room_diff`: when its newest change was delivered. If that is before the
    /// state's snapshot was read, the state shows all of it and the diff is dropped.
    newest: Option<Instant>,
}

/// One subscription of a session to a room or a watched user.
#[derive(Debug, Default)]
pub(super) struct Sub {
    /// `Some` while the state frame is being prepared: frames wait here.
    held: Option<Vec<Held>>,
    /// When the state frame's snapshot was read: pending changes delivered before then
    /// are in the snapshot already and are not sent again.
    snapshot_at: Option<Instant>,
    /// `held` is a resync's ([`Hub::hold_room`](super::Hub::hold_room)), not a join's.
    resync: bool,
}

impl Sub {
    /// Holds the subscription for a join's (or a watch's) state. A rejoin during a
    /// resync takes the hold over: its state is read after everything held so far,
    /// and it sends that state itself.
    pub(super) fn hold_for_join(&mut self) {
        self.held = Some(Vec::new());
        self.resync = false;
    }

    /// Holds the subscription for a resync's state, unless it is held already (a join
    /// in progress, left to its own state). Whether it was held here.
    pub(super) fn hold_for_resync(&mut self) -> bool {
        if self.held.is_some() {
            return false;
        }
        self.held = Some(Vec::new());
        self.resync = true;
        true
    }

    /// Ends the hold, whoever holds it; what waited.
    pub(super) fn take_held(&mut self) -> Vec<Held> {
        self.held.take().unwrap_or_default()
    }

    /// Ends a resync's hold; `None` if the subscription is not held by a resync (a
    /// rejoin took the hold over, and sends its own state).
    pub(super) fn end_resync(&mut self) -> Option<Vec<Held>> {
        if !std::mem::take(&mut self.resync) {
            return None;
        }
        self.held.take()
    }

    /// When the last state's snapshot was read, if no diff went out since; clears it.
    pub(super) fn take_snapshot_at(&mut self) -> Option<Instant> {
        self.snapshot_at.take()
    }

    /// Sends `frame` to the session, or queues it behind the state frame if the
    /// subscription is held. `newest` is set for a `room_diff` (see [`Held::newest`]).
    pub(super) fn send(&mut self, out: &Outbox, frame: &Utf8Bytes, newest: Option<Instant>) {
        match &mut self.held {
            Some(held) if held.len() < MAX_HELD => held.push(Held {
                frame: frame.clone(),
                newest,
            }),
            Some(_) => out.kill(),
            None => out.send(frame.clone()),
        }
    }

    /// Sends a held subscription's state frame (if any), then the frames that waited
    /// behind it. The diffs sent while the state was read (its own join, say, which the
    /// leading edge sends at once) are in the state if all their changes came before
    /// the snapshot. Only leading ones are dropped: a later frame (a resync's state,
    /// say) may need the diffs after it. Without a state nothing is dropped.
    pub(super) fn release(
        &mut self,
        out: &Outbox,
        held: Vec<Held>,
        state: Option<&Utf8Bytes>,
        snapshot_at: Instant,
    ) {
        let Some(state) = state else {
            send_all(out, held);
            return;
        };
        self.snapshot_at = Some(snapshot_at);
        out.send(state.clone());
        held.into_iter()
            .skip_while(|h| h.newest.is_some_and(|n| n < snapshot_at))
            .for_each(|h| out.send(h.frame));
    }
}

/// Sends what waited, all of it, in order (a watch's hold, after its state).
pub(super) fn send_all(out: &Outbox, held: Vec<Held>) {
    held.into_iter().for_each(|h| out.send(h.frame));
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use presence_protocol::ServerFrame;
    use tokio::time::Instant;

    use super::super::testing::{frames, join, joining, joins, member, state};
    use super::super::Hub;

    #[test]
    fn a_diff_sent_while_held_and_shown_by_the_state_is_dropped() {
        let hub = Hub::new(1000, Duration::from_secs(1), Duration::from_secs(3600));
        let mut observer = member(&hub, "r", "observer");
        let (id, mut rx) = joining(&hub, "r", "joiner");
        // Its own join goes out at once (the leading edge) while it is held...
        hub.deliver(&join("r", "joiner"));
        assert_eq!(joins(&frames(&mut observer)), vec![vec!["joiner"]]);
        // ...and the snapshot, read after it, shows it: only the state is sent.
        hub.release_room("r", id, &state("r"), 2, Instant::now());
        assert!(matches!(
            frames(&mut rx)[..],
            [ServerFrame::RoomState { .. }]
        ));
    }

    #[test]
    fn a_diff_sent_while_held_after_the_snapshot_was_read_is_kept() {
        let hub = Hub::new(1000, Duration::from_secs(1), Duration::ZERO);
        let _observer = member(&hub, "r", "observer");
        let (id, mut rx) = joining(&hub, "r", "joiner");
        hub.deliver(&join("r", "joiner"));
        let snapshot_at = Instant::now();
        hub.deliver(&join("r", "late"));
        hub.release_room("r", id, &state("r"), 2, snapshot_at);
        let got = frames(&mut rx);
        assert!(matches!(got[0], ServerFrame::RoomState { .. }), "{got:?}");
        assert_eq!(joins(&got), vec![vec!["late"]]);
    }

    #[test]
    fn a_diff_delivered_while_a_resync_reads_the_state_comes_after_that_state() {
        let hub = Hub::new(1000, Duration::from_secs(1), Duration::ZERO);
        let mut rx = member(&hub, "r", "observer");
        let held = hub.hold_room("r");
        assert_eq!(held.len(), 1);
        // Delivered before the snapshot is read: the state shows it.
        hub.deliver(&join("r", "early"));
        let snapshot_at = Instant::now();
        // Delivered while it is read, after the snapshot: the state does not show it.
        hub.deliver(&join("r", "late"));
        assert!(
            frames(&mut rx).is_empty(),
            "nothing overtakes the state while it is read"
        );
        hub.resync_room("r", &held, Some((&state("r"), 3)), snapshot_at);
        let got = frames(&mut rx);
        assert!(matches!(got[0], ServerFrame::RoomState { .. }), "{got:?}");
        assert_eq!(joins(&got), vec![vec!["late"]]);
        // Released: the next change goes out at once.
        hub.deliver(&join("r", "next"));
        assert_eq!(joins(&frames(&mut rx)), vec![vec!["next"]]);
    }

    #[test]
    fn a_failed_resync_releases_what_waited_and_leaves_joins_in_progress_alone() {
        let hub = Hub::new(1000, Duration::from_secs(1), Duration::ZERO);
        let mut member_rx = member(&hub, "r", "observer");
        let (joiner, mut joiner_rx) = joining(&hub, "r", "joiner");
        let held = hub.hold_room("r");
        assert_eq!(
            held.len(),
            1,
            "the joiner is held by its join, not the resync"
        );
        hub.deliver(&join("r", "a"));
        hub.resync_room("r", &held, None, Instant::now());
        assert_eq!(joins(&frames(&mut member_rx)), vec![vec!["a"]]);
        assert!(
            frames(&mut joiner_rx).is_empty(),
            "still held for its own state"
        );
        hub.release_room("r", joiner, &state("r"), 2, Instant::now());
        assert!(matches!(
            frames(&mut joiner_rx)[..],
            [ServerFrame::RoomState { .. }]
        ));
    }

    #[test]
    fn a_rejoin_during_a_resync_takes_the_hold_over() {
        let hub = Hub::new(1000, Duration::from_secs(1), Duration::ZERO);
        let (id, mut rx) = joining(&hub, "r", "member");
        hub.release_room("r", id, &state("r"), 1, Instant::now());
        frames(&mut rx);
        let held = hub.hold_room("r");
        hub.deliver(&join("r", "before-the-rejoin"));
        // The same session joins the room again while the resync reads its state.
        hub.subscribe_room("r", id);
        let rejoin_snapshot = Instant::now();
        hub.deliver(&join("r", "after-its-snapshot"));
        hub.resync_room("r", &held, Some((&state("r"), 2)), Instant::now());
        assert!(frames(&mut rx).is_empty(), "the rejoin's state comes first");
        hub.release_room("r", id, &state("r"), 3, rejoin_snapshot);
        let got = frames(&mut rx);
        assert!(matches!(got[0], ServerFrame::RoomState { .. }), "{got:?}");
        assert_eq!(joins(&got), vec![vec!["after-its-snapshot"]]);
    }
}
