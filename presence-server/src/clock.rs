//! Time in epoch milliseconds, the protocol's unit.
//!
//! The service, its timers and its upkeep read the time from one [`Clock`]. A server
//! runs on [`Clock::system`], the wall clock; tests run on [`Clock::tokio`], which
//! follows tokio's clock, so that under `tokio::time::pause()` grace periods, typing
//! and custom status expiry pass with `tokio::time::advance` (or tokio's auto-advance)
//! instead of real sleeps. The hub's coalescing windows and the sessions' pings already
//! measure `tokio::time::Instant`s, the same tokio clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Where a [`Service`](crate::service::Service) reads the time (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Clock(Kind);

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// The wall clock.
    System,
    /// The wall clock at `base`, plus the tokio time elapsed since.
    Tokio {
        base_ms: u64,
        base: tokio::time::Instant,
    },
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Self {
        Self(Kind::System)
    }

    /// Starts at the wall clock's time and advances with tokio's clock, also when it
    /// is paused and advanced by hand.
    pub fn tokio() -> Self {
        Self(Kind::Tokio {
            base_ms: now_ms(),
            base: tokio::time::Instant::now(),
        })
    }

    /// Now, in epoch milliseconds.
    pub fn now_ms(&self) -> u64 {
        match self.0 {
            Kind::System => now_ms(),
            Kind::Tokio { base_ms, base } => {
                let elapsed = u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX);
                base_ms.saturating_add(elapsed)
            }
        }
    }
}

/// The wall clock in epoch milliseconds, for what is checked against the wall clock
/// whatever the service's [`Clock`]: a JWT's `exp`.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_advances_with_paused_tokio_time() {
        let clock = Clock::tokio();
        let start = clock.now_ms();
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.now_ms() - start, 90_000);
    }
}
