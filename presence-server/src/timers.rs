//! Every deadline of the node in one place: grace periods, typing expiry, custom
//! status expiry, the end of a resumed session's room carry-over. One task sleeps until
//! the earliest deadline; no task per user or per timer.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;

/// What a deadline is for. At most one deadline per key: scheduling a key again moves
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKey {
    /// A lingering session's grace period ends: close it.
    Grace { user: String, session: String },
    /// A user's typing in a room runs out.
    Typing { room: String, user: String },
    /// A user's custom status expires.
    Custom { user: String },
    /// A resumed session's carried-over rooms that were not joined again are left.
    Carried { user: String, session: String },
}

#[derive(Debug, Default)]
struct Inner {
    by_key: HashMap<TimerKey, u64>,
    queue: BTreeSet<(u64, TimerKey)>,
    /// Keys firing again after a failure → the deadline they stand for.
    retries: HashMap<TimerKey, u64>,
}

/// A sorted deadline set with one sleeper (see the module docs).
#[derive(Debug)]
pub struct Timers {
    /// A `std::sync::Mutex`: no `.await` while it is held.
    inner: Mutex<Inner>,
    changed: Notify,
    /// Deadlines are epoch ms on this clock; the sleeps between them are tokio's.
    clock: Clock,
}

impl Timers {
    pub fn new(clock: Clock) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            changed: Notify::new(),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets (or moves) the deadline of `key` to `at_ms` (epoch ms).
    pub fn schedule(&self, key: TimerKey, at_ms: u64) {
        self.insert(key, at_ms, None);
    }

    fn insert(&self, key: TimerKey, at_ms: u64, retry_of: Option<u64>) {
        let mut inner = self.lock();
        match retry_of {
            Some(deadline) => inner.retries.insert(key.clone(), deadline),
            None => inner.retries.remove(&key),
        };
        if let Some(old) = inner.by_key.insert(key.clone(), at_ms) {
            inner.queue.remove(&(old, key.clone()));
        }
        let earliest = inner.queue.first().is_none_or(|(first, _)| at_ms < *first);
        inner.queue.insert((at_ms, key));
        drop(inner);
        if earliest {
            self.changed.notify_one();
        }
    }

    /// Fires `key` again at `retry_at_ms`, still as the deadline `at_ms` (whose work
    /// failed), unless the key was scheduled anew meanwhile.
    pub fn retry(&self, key: TimerKey, at_ms: u64, retry_at_ms: u64) {
        if self.lock().by_key.contains_key(&key) {
            return;
        }
        self.insert(key, retry_at_ms, Some(at_ms));
    }

    pub fn cancel(&self, key: &TimerKey) {
        let mut inner = self.lock();
        inner.retries.remove(key);
        if let Some(at) = inner.by_key.remove(key) {
            inner.queue.remove(&(at, key.clone()));
        }
    }

    /// Pending deadlines, for tests and metrics.
    pub fn len(&self) -> usize {
        self.lock().by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn pop_due(&self, now: u64) -> Result<(TimerKey, u64), Option<u64>> {
        let mut inner = self.lock();
        match inner.queue.first() {
            Some((at, _)) if *at <= now => {
                let (at, key) = inner.queue.pop_first().ok_or(None)?;
                inner.by_key.remove(&key);
                let at = inner.retries.remove(&key).unwrap_or(at);
                Ok((key, at))
            }
            Some((at, _)) => Err(Some(*at)),
            None => Err(None),
        }
    }

    /// Fires due deadlines through `fire` until `stop` is cancelled. `fire` must not
    /// block: it spawns whatever work a deadline needs.
    pub async fn run(&self, stop: CancellationToken, fire: impl Fn(TimerKey, u64)) {
        loop {
            let next = loop {
                match self.pop_due(self.clock.now_ms()) {
                    Ok((key, at)) => fire(key, at),
                    Err(next) => break next,
                }
            };
            let sleep = match next {
                Some(at) => Duration::from_millis(at.saturating_sub(self.clock.now_ms()).max(1)),
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.changed.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn fires_in_deadline_order_and_honours_moves_and_cancels() {
        let clock = Clock::tokio();
        let timers = Arc::new(Timers::new(clock));
        let now = clock.now_ms();
        let key = |u: &str| TimerKey::Custom { user: u.into() };
        timers.schedule(key("late"), now + 60);
        timers.schedule(key("early"), now + 20);
        timers.schedule(key("moved"), now + 10);
        timers.schedule(key("moved"), now + 40);
        timers.schedule(key("cancelled"), now + 30);
        timers.cancel(&key("cancelled"));
        let fired = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let task = {
            let (timers, fired, stop) = (timers.clone(), fired.clone(), stop.clone());
            tokio::spawn(async move {
                timers
                    .run(stop, |k, _| {
                        if let TimerKey::Custom { user } = k {
                            fired.lock().unwrap_or_else(|e| e.into_inner()).push(user);
                        }
                    })
                    .await;
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.cancel();
        task.await.ok();
        let fired = fired.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert_eq!(fired, vec!["early", "moved", "late"]);
        assert!(timers.is_empty());
    }
}
