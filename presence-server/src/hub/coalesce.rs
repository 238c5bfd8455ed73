//! The per-room coalescing windows: at most one `room_diff` per room per window
//! (`--coalesce-ms`), with a leading edge, and counts instead of diffs in large rooms.
//!
//! A room's changes are folded per user into its pending diff ([`RoomWindow::pend`]).
//! The first change in a room that sent nothing within the last window goes out at
//! once; changes that follow within the window wait and go out together once the
//! window since that send has passed. A large room (more visible members than
//! `--large-room`) sends its `room_count` instead, at most once per count interval.
//!
//! This module decides *what* goes out and *when* ([`Windows::take`]); the hub sends
//! it to the room's subscriptions, through their holds.

use std::collections::HashMap;
use std::time::Duration;

use presence_protocol::ServerFrame;
use tokio::time::Instant;

use crate::events::RoomChange;
use crate::frame::{serialize, Utf8Bytes};

/// A pending change of one user in a room.
#[derive(Debug)]
pub(super) struct Pending {
    user: String,
    change: RoomChange,
    /// When the newest change folded in here was delivered.
    at: Instant,
}

/// A room's coalescing state.
#[derive(Debug, Default)]
pub(super) struct RoomWindow {
    /// Pending changes by user, in first-change order.
    public: Vec<Pending>,
    own: Vec<Pending>,
    pub(super) count: u64,
    /// Has changes not sent yet; a dirty room is in the hub's list of dirty rooms.
    pub(super) dirty: bool,
    count_sent: Option<(u64, Instant)>,
    /// When the room's pending changes last went out: the next may go out once the
    /// window since then has passed.
    last_sent: Option<Instant>,
    /// A large room's typing changes not sent yet, the newest per user, in
    /// first-change order.
    pub(super) typing: Vec<(String, bool)>,
    /// When a large room's typing changes last went out.
    pub(super) typing_sent: Option<Instant>,
}

/// The windows' settings, the same for every room.
#[derive(Debug)]
pub(super) struct Windows {
    pub(super) large_room: u64,
    pub(super) room_count_interval: Duration,
    /// The coalescing window: at most one `room_diff` per room per window.
    pub(super) window: Duration,
}

/// What a room sends now, from [`Windows::take`].
#[derive(Debug)]
pub(super) enum Flush {
    /// Nothing (yet).
    Nothing,
    /// A large room's `room_count`, to every subscription.
    Count(Utf8Bytes),
    /// A small room's pending changes.
    Diffs {
        /// Large until now: the members only had counts, and need the list again.
        became_small: bool,
        /// `None` when nothing is pending.
        diffs: Option<Diffs>,
    },
}

/// A small room's pending changes, taken out of its window to be sent.
#[derive(Debug)]
pub(super) struct Diffs {
    public: Vec<Pending>,
    own: Vec<Pending>,
}

impl RoomWindow {
    /// Folds a change delivered at `at` into the pending diff (a large room keeps
    /// none: keeping its changes would only cost a scan per event).
    pub(super) fn pend(
        &mut self,
        windows: &Windows,
        user: &str,
        public: Option<&RoomChange>,
        own: Option<&RoomChange>,
        at: Instant,
    ) {
        if self.count > windows.large_room {
            return;
        }
        if let Some(change) = public {
            pend(&mut self.public, user, change.clone(), at);
        }
        if let Some(change) = own {
            pend(&mut self.own, user, change.clone(), at);
        }
    }
}

impl RoomWindow {
    /// Folds a typing change into a large room's pending typing changes (the newest
    /// per user wins).
    pub(super) fn pend_typing(&mut self, user: &str, typing: bool) {
        match self.typing.iter_mut().find(|(u, _)| u == user) {
            Some((_, t)) => *t = typing,
            None => self.typing.push((user.to_owned(), typing)),
        }
    }
}

impl Windows {
    /// Whether a large room's pending typing changes may go out now: nothing went out
    /// within the window.
    pub(super) fn typing_due(&self, r: &RoomWindow, now: Instant) -> bool {
        r.typing_sent
            .is_none_or(|at| now.duration_since(at) >= self.window)
    }

    /// Whether the room's window has passed since its pending changes last went out.
    /// A large room is always due here: [`Windows::take`] applies its count interval.
    pub(super) fn due(&self, r: &RoomWindow, now: Instant) -> bool {
        r.count > self.large_room
            || r.last_sent
                .is_none_or(|at| now.duration_since(at) >= self.window)
    }

    /// Takes what the room sends now, whatever the window (typing and resyncs need
    /// the pending changes out first). A large room whose count interval has not
    /// passed stays dirty; the caller keeps it in its list of dirty rooms.
    pub(super) fn take(&self, r: &mut RoomWindow, room: &str, now: Instant) -> Flush {
        if !r.dirty {
            return Flush::Nothing;
        }
        if r.count > self.large_room {
            // A large room sends its count instead of diffs, at most once an interval;
            // a change inside the interval waits for a later flush.
            r.public.clear();
            r.own.clear();
            let due = r
                .count_sent
                .is_none_or(|(_, at)| now.duration_since(at) >= self.room_count_interval);
            if r.count_sent.is_some_and(|(sent, _)| sent == r.count) {
                r.dirty = false;
                return Flush::Nothing;
            }
            if !due {
                return Flush::Nothing;
            }
            r.dirty = false;
            r.count_sent = Some((r.count, now));
            return Flush::Count(serialize(&ServerFrame::RoomCount {
                room: room.to_owned(),
                count: r.count,
            }));
        }
        r.dirty = false;
        let became_small = r.count_sent.take().is_some();
        let public = std::mem::take(&mut r.public);
        let own = std::mem::take(&mut r.own);
        if public.is_empty() && own.is_empty() {
            return Flush::Diffs {
                became_small,
                diffs: None,
            };
        }
        r.last_sent = Some(now);
        Flush::Diffs {
            became_small,
            diffs: Some(Diffs { public, own }),
        }
    }
}

/// The `room_diff` frames of one flush, serialized once per view and shared by every
/// recipient of that view: the public one, and one per user whose own view differs
/// (their entry swapped in).
#[derive(Debug)]
pub(super) struct Views<'a> {
    room: &'a str,
    diffs: &'a Diffs,
    shared: HashMap<Option<&'a str>, Option<(Utf8Bytes, Instant)>>,
}

impl<'a> Views<'a> {
    pub(super) fn new(room: &'a str, diffs: &'a Diffs) -> Self {
        Self {
            room,
            diffs,
            shared: HashMap::new(),
        }
    }

    /// The diff for a member `user`, and when its newest change was delivered. With
    /// `snapshot_at` (the member just got a state read then), it leaves out what that
    /// state showed already. `None`: nothing to send.
    pub(super) fn for_member(
        &mut self,
        user: &'a str,
        snapshot_at: Option<Instant>,
    ) -> Option<(Utf8Bytes, Instant)> {
        let (room, Diffs { public, own }) = (self.room, self.diffs);
        let own_entry = own.iter().find(|p| p.user == user);
        let entries = || {
            public
                .iter()
                .filter(move |p| own_entry.is_none() || p.user != user)
                .chain(own_entry)
        };
        match snapshot_at {
            // Just joined: leave out what its room_state already showed.
            Some(t) if entries().any(|p| p.at < t) => {
                diff_frame(room, entries().filter(|p| p.at >= t))
            }
            _ => self
                .shared
                .entry(own_entry.map(|_| user))
                .or_insert_with(|| diff_frame(room, entries()))
                .clone(),
        }
    }
}

fn pend(pending: &mut Vec<Pending>, user: &str, change: RoomChange, at: Instant) {
    match pending.iter_mut().find(|p| p.user == user) {
        Some(p) => {
            let old = std::mem::replace(&mut p.change, RoomChange::Leave);
            p.change = old.merge(change);
            p.at = at;
        }
        None => pending.push(Pending {
            user: user.to_owned(),
            change,
            at,
        }),
    }
}

/// A `room_diff` of these changes, serialized, and when the newest of them was
/// delivered; `None` when there are none.
fn diff_frame<'a>(
    room: &str,
    entries: impl Iterator<Item = &'a Pending>,
) -> Option<(Utf8Bytes, Instant)> {
    let (mut joins, mut leaves, mut updates) = (Vec::new(), Vec::new(), Vec::new());
    let mut newest: Option<Instant> = None;
    for p in entries {
        newest = newest.max(Some(p.at));
        match &p.change {
            RoomChange::Join(presence) => joins.push(presence.clone()),
            RoomChange::Leave => leaves.push(p.user.clone()),
            RoomChange::Update(presence) => updates.push(presence.clone()),
        }
    }
    let newest = newest?;
    let frame = serialize(&ServerFrame::RoomDiff {
        room: room.to_owned(),
        joins,
        leaves,
        updates,
    });
    Some((frame, newest))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::super::testing::{frames, join, joins, member};
    use super::super::Hub;

    #[test]
    fn a_quiet_rooms_change_goes_out_at_once_and_the_next_wait_for_the_window() {
        let hub = Hub::new(1000, Duration::from_secs(1), Duration::from_secs(3600));
        let mut rx = member(&hub, "r", "observer");
        hub.deliver(&join("r", "a"));
        assert_eq!(joins(&frames(&mut rx)), vec![vec!["a"]]);
        hub.deliver(&join("r", "b"));
        hub.deliver(&join("r", "c"));
        hub.flush();
        assert!(
            frames(&mut rx).is_empty(),
            "a second diff within the window"
        );
        // Another room has its own window.
        let mut other = member(&hub, "s", "observer2");
        hub.deliver(&join("s", "d"));
        assert_eq!(joins(&frames(&mut other)), vec![vec!["d"]]);
    }

    #[test]
    fn changes_within_the_window_go_out_together_once_it_has_passed() {
        // Long enough that the steps between two sleeps take far less, on a busy machine.
        let window = Duration::from_millis(200);
        let hub = Hub::new(1000, Duration::from_secs(1), window);
        let mut rx = member(&hub, "r", "observer");
        hub.deliver(&join("r", "a"));
        let first = Instant::now();
        hub.deliver(&join("r", "b"));
        hub.deliver(&join("r", "c"));
        std::thread::sleep(window + Duration::from_millis(10));
        hub.flush();
        let sent = Instant::now();
        assert_eq!(
            joins(&frames(&mut rx)),
            vec![vec!["a"], vec!["b", "c"]],
            "{:?} after the first",
            sent - first
        );
        // That send opened a new window: the next change waits for it.
        hub.deliver(&join("r", "d"));
        if sent.elapsed() < window {
            assert!(frames(&mut rx).is_empty());
        }
        std::thread::sleep(window + Duration::from_millis(10));
        hub.flush();
        assert_eq!(joins(&frames(&mut rx)), vec![vec!["d"]]);
        // Nothing pending: later flushes send nothing, and the next change leads again.
        hub.flush();
        assert!(frames(&mut rx).is_empty());
        std::thread::sleep(window + Duration::from_millis(10));
        hub.deliver(&join("r", "e"));
        assert_eq!(joins(&frames(&mut rx)), vec![vec!["e"]]);
    }
}
