//! The per-user typing window (`--typing-window-ms`): a user who starts typing in a
//! room again within the window since their last start was fanned out, after stopping
//! in between, is not fanned out again: that `typing:true` is dropped. Refreshes of a
//! user still typing pass, so typing never lapses while a client keeps it up.
//!
//! The typing rate limit used to be per connection only: 20 sessions of one user
//! toggling typing in a 1,000-member room made about 400,000 frames a second out, and
//! members on slow links overflowed their queues. Keyed by user and room here, across
//! all of the user's sessions on this node, a member gets at most one start and one
//! stop of that user per window. (Across nodes each node applies its own window.)
//!
//! Our own map rather than `governor`'s keyed limiter: the window must run on the
//! service's [`Clock`](crate::clock::Clock) (the tests run it on paused tokio time), and
//! it must tell a start after a stop from a refresh, which a token bucket does not.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// See the module docs.
#[derive(Debug, Default)]
pub(super) struct TypingStarts {
    /// A `std::sync::Mutex`: never held across an `.await`.
    starts: Mutex<Starts>,
}

#[derive(Debug, Default)]
struct Starts {
    /// user → room → the last start fanned out. Nested by user so that a lookup by
    /// `&str` allocates nothing: only the first start of a user, and of that user in a
    /// room, copies the ids (a `(String, String)` key cost two allocations per frame).
    by_user: HashMap<Box<str>, HashMap<Box<str>, Start>>,
    /// The number of (user, room) entries.
    len: usize,
    /// Entries past their window are removed when the map grows beyond this.
    prune_above: usize,
}

#[derive(Debug, Clone, Copy)]
struct Start {
    /// When it went out (epoch ms).
    at: u64,
    /// A stop went out since.
    stopped: bool,
}

/// The map is pruned when it grows beyond this many entries at the least.
const PRUNE_AT_LEAST: usize = 1_024;

impl TypingStarts {
    fn lock(&self) -> MutexGuard<'_, Starts> {
        self.starts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `typing:true` of `user` in `room` at `now` may go to the store: not a
    /// restart within `window` of the last start that went out.
    pub(super) fn may_start(&self, user: &str, room: &str, now: u64, window: u64) -> bool {
        let starts = self.lock();
        match starts.by_user.get(user).and_then(|rooms| rooms.get(room)) {
            Some(start) => !start.stopped || now >= start.at.saturating_add(window),
            None => true,
        }
    }

    /// A start of `user` in `room` went out at `now`.
    pub(super) fn started(&self, user: &str, room: &str, now: u64, window: u64) {
        let mut guard = self.lock();
        let starts = &mut *guard;
        let start = Start {
            at: now,
            stopped: false,
        };
        let rooms = match starts.by_user.get_mut(user) {
            Some(rooms) => rooms,
            None => starts.by_user.entry(user.into()).or_default(),
        };
        match rooms.get_mut(room) {
            Some(entry) => *entry = start,
            None => {
                rooms.insert(room.into(), start);
                starts.len += 1;
            }
        }
        if starts.len > starts.prune_above.max(PRUNE_AT_LEAST) {
            let mut len = 0;
            starts.by_user.retain(|_, rooms| {
                rooms.retain(|_, start| now < start.at.saturating_add(window));
                len += rooms.len();
                !rooms.is_empty()
            });
            starts.len = len;
            starts.prune_above = len * 2;
        }
    }

    /// A stop of `user` in `room` went out.
    pub(super) fn stopped(&self, user: &str, room: &str) {
        if let Some(start) = self
            .lock()
            .by_user
            .get_mut(user)
            .and_then(|rooms| rooms.get_mut(room))
        {
            start.stopped = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_within_the_window_is_dropped_a_refresh_is_not() {
        let starts = TypingStarts::default();
        assert!(starts.may_start("u", "r", 0, 1_000));
        starts.started("u", "r", 0, 1_000);
        assert!(starts.may_start("u", "r", 100, 1_000), "a refresh");
        starts.stopped("u", "r");
        assert!(!starts.may_start("u", "r", 200, 1_000), "a restart");
        assert!(starts.may_start("other", "r", 200, 1_000));
        assert!(starts.may_start("u", "other", 200, 1_000));
        assert!(
            starts.may_start("u", "r", 1_000, 1_000),
            "the window passed"
        );
    }

    #[test]
    fn old_entries_are_pruned() {
        let starts = TypingStarts::default();
        for i in 0..=PRUNE_AT_LEAST as u64 {
            starts.started(&i.to_string(), "r", i, 10);
        }
        let starts = starts.lock();
        assert!(starts.len <= 10);
        assert_eq!(
            starts.len,
            starts.by_user.values().map(HashMap::len).sum::<usize>()
        );
        assert!(starts.by_user.values().all(|rooms| !rooms.is_empty()));
    }
}
