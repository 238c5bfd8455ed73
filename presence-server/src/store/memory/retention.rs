//! Forgetting offline users: the memory store's version of the TTL the Redis store
//! gives a user's record once their last session ends (`docs/redis.md`,
//! "Retention").
//!
//! Every record without a session has a time to be forgotten, `retention_ms` after
//! its last change, on the store's own [`Clock`] (as Redis counts a TTL on its own
//! clock, whatever `now_ms` the caller passed). A record past that time is treated
//! as never seen the moment it is looked at ([`Retention::is_due`]), and
//! [`MemoryStore::sweep`](super::MemoryStore::sweep) drops the ones nobody looks at,
//! soonest first, a bounded number per call: the records to forget are kept in time
//! order, so a sweep never scans the users it leaves alone.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::{MemoryStore, State, UserRecord};
use crate::clock::Clock;

/// Records forgotten per [`MemoryStore::sweep`](super::MemoryStore::sweep) call
/// at most, so that one sweep holds the store's lock for a short, bounded time: the
/// removal of one record is a few hash and tree operations, and the sweeper yields
/// to other tasks between batches.
pub const SWEEP_BATCH: usize = 1_000;

impl MemoryStore {
    /// Forgets at most [`SWEEP_BATCH`] offline records whose retention has passed,
    /// soonest first, under one short hold of the lock. Returns how many it forgot;
    /// fewer than the batch means none is due now. A record nobody sweeps is still
    /// treated as never seen once it is due.
    pub fn sweep(&self) -> usize {
        self.with(|st| {
            let now = st.retention.now_ms();
            let mut forgotten = 0;
            while forgotten < SWEEP_BATCH {
                let Some((at, user)) = st.retention.pop_due(now) else {
                    break;
                };
                if st.users.get(&user).is_some_and(|k| k.forget_at == Some(at)) {
                    st.users.remove(&user);
                }
                forgotten += 1;
            }
            forgotten
        })
    }

    /// Offline records kept, waiting for their retention to pass.
    pub fn offline_records(&self) -> usize {
        self.with(|st| st.retention.pending())
    }

    /// Sweeps every `every` until the store is dropped: a batch at a time, letting
    /// other tasks run between batches.
    pub fn spawn_sweeper(store: &Arc<Self>, every: Duration) {
        let store = std::sync::Arc::downgrade(store);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                loop {
                    let Some(store) = store.upgrade() else {
                        return;
                    };
                    if store.sweep() < SWEEP_BATCH {
                        break;
                    }
                    drop(store);
                    tokio::task::yield_now().await;
                }
            }
        });
    }
}

impl State {
    /// The record of `user`, unless the retention has passed (it is then dropped).
    pub(super) fn user(&mut self, user: &str) -> Option<&UserRecord> {
        self.forget_if_due(user);
        self.users.get(user).map(|k| &k.rec)
    }

    /// Drops the record of `user` if it is past its retention.
    pub(super) fn forget_if_due(&mut self, user: &str) {
        let Some(forget_at) = self.users.get(user).map(|k| k.forget_at) else {
            return;
        };
        let now = self.retention.now_ms();
        if self.retention.is_due(forget_at, now) {
            self.retention.cancel(user, forget_at);
            self.users.remove(user);
        }
    }

    /// Starts or stops the retention of `user` after a change.
    pub(super) fn reschedule(&mut self, user: &str) {
        if let Some(kept) = self.users.get_mut(user) {
            kept.forget_at =
                self.retention
                    .reschedule(user, kept.forget_at, !kept.rec.sessions.is_empty());
        }
    }
}

/// When offline records are forgotten, and which are next.
#[derive(Debug)]
pub(super) struct Retention {
    clock: Clock,
    /// 0: never (the Redis store then keeps records without a TTL).
    retention_ms: u64,
    /// (time to forget, user) of every record without a session, soonest first.
    due: BTreeSet<(u64, String)>,
}

impl Default for Retention {
    fn default() -> Self {
        Self::new(Clock::system(), DEFAULT_RETENTION_MS)
    }
}

/// `--retention-days` by default: 30 days.
pub const DEFAULT_RETENTION_MS: u64 = 30 * 24 * 3600 * 1000;

impl Retention {
    pub(super) fn new(clock: Clock, retention_ms: u64) -> Self {
        Self {
            clock,
            retention_ms,
            due: BTreeSet::new(),
        }
    }

    /// Now, on the store's clock.
    pub(super) fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Whether a record to be forgotten at `forget_at` is gone by now.
    pub(super) fn is_due(&self, forget_at: Option<u64>, now_ms: u64) -> bool {
        forget_at.is_some_and(|at| at <= now_ms)
    }

    /// Moves `user` from `old` to the time its record is to be forgotten after a
    /// change: `retention_ms` from now when it has no session left, never while it
    /// has one. Returns the new time, to keep with the record.
    pub(super) fn reschedule(
        &mut self,
        user: &str,
        old: Option<u64>,
        has_sessions: bool,
    ) -> Option<u64> {
        let new = (!has_sessions && self.retention_ms > 0)
            .then(|| self.now_ms().saturating_add(self.retention_ms));
        if old != new {
            self.cancel(user, old);
            if let Some(at) = new {
                self.due.insert((at, user.to_owned()));
            }
        }
        new
    }

    /// Takes `user` off the schedule.
    pub(super) fn cancel(&mut self, user: &str, forget_at: Option<u64>) {
        if let Some(at) = forget_at {
            self.due.remove(&(at, user.to_owned()));
        }
    }

    /// Takes the next record due by `now_ms` off the schedule.
    pub(super) fn pop_due(&mut self, now_ms: u64) -> Option<(u64, String)> {
        match self.due.first() {
            Some((at, _)) if *at <= now_ms => self.due.pop_first(),
            _ => None,
        }
    }

    /// Records waiting to be forgotten.
    pub(super) fn pending(&self) -> usize {
        self.due.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::{NewSession, Store};

    async fn come_and_go(store: &MemoryStore, user: &str) {
        let new = NewSession {
            id: format!("{user}-s"),
            user: user.to_owned(),
            name: user.to_owned(),
            device: "web".to_owned(),
            node: "n".to_owned(),
        };
        store.open_session(new, 5, 1).await.unwrap();
        store
            .close_session(user, &format!("{user}-s"), 2)
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_sweep_forgets_due_records_a_bounded_batch_at_a_time() {
        let store = MemoryStore::with_retention(Clock::tokio(), 60_000);
        for i in 0..SWEEP_BATCH + 10 {
            come_and_go(&store, &format!("u{i}")).await;
        }
        tokio::time::advance(Duration::from_millis(59_999)).await;
        come_and_go(&store, "late").await;
        assert_eq!(store.sweep(), 0, "nothing is due yet");
        assert_eq!(store.offline_records(), SWEEP_BATCH + 11);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(store.sweep(), SWEEP_BATCH);
        assert_eq!(store.sweep(), 10);
        assert_eq!(store.sweep(), 0);
        // The one who left later is kept until their own retention has passed.
        assert_eq!(store.offline_records(), 1);
        let late = store.users(&["late".to_owned()]).await.unwrap();
        assert_eq!(late[0].last_seen, Some(2));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(store.sweep(), 1);
        assert_eq!(store.offline_records(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_returning_user_is_taken_off_the_schedule() {
        let store = MemoryStore::with_retention(Clock::tokio(), 1_000);
        come_and_go(&store, "a").await;
        assert_eq!(store.offline_records(), 1);
        let new = NewSession {
            id: "a-2".to_owned(),
            user: "a".to_owned(),
            name: "a".to_owned(),
            device: "web".to_owned(),
            node: "n".to_owned(),
        };
        store.open_session(new, 5, 3).await.unwrap();
        assert_eq!(store.offline_records(), 0);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(store.sweep(), 0);
        let a = store.users(&["a".to_owned()]).await.unwrap();
        assert_eq!(a[0].sessions.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retention_of_zero_keeps_records_forever() {
        let store = MemoryStore::with_retention(Clock::tokio(), 0);
        come_and_go(&store, "a").await;
        tokio::time::advance(Duration::from_secs(3600 * 24 * 365)).await;
        assert_eq!(store.sweep(), 0);
        let a = store.users(&["a".to_owned()]).await.unwrap();
        assert_eq!(a[0].last_seen, Some(2));
    }
}
