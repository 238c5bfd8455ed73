//! Outbound pacing. The server allows 20 frames/s with bursts of 40 per connection and
//! drops what goes over (a dropped `join` would silently leave a room unjoined). A
//! resync after a reconnect re-sends every join and watch at once, so the client paces
//! itself a little below the server's limit and queues the rest, in order.

use presence_protocol::ClientFrame;

/// Spacing of frames once the burst is spent (≈ 16.7 frames/s, under the server's 20).
pub const PACE_INTERVAL_MS: u64 = 60;
/// Frames that may go out back to back (the server allows 40).
pub const PACE_BURST: u64 = 30;

/// A GCRA limiter ("theoretical arrival time") in front of a FIFO queue.
#[derive(Debug, Default)]
pub struct Pacer {
    tat: u64,
    queue: Vec<ClientFrame>,
}

impl Pacer {
    /// Returns the frame if it may go out now; otherwise queues it behind the others.
    pub fn offer(&mut self, now: u64, frame: ClientFrame) -> Option<ClientFrame> {
        if self.queue.is_empty() && self.admit(now) {
            Some(frame)
        } else {
            self.queue.push(frame);
            None
        }
    }

    /// The next queued frame whose time has come.
    pub fn pop_ready(&mut self, now: u64) -> Option<ClientFrame> {
        if self.queue.is_empty() || !self.admit(now) {
            return None;
        }
        // A short queue (a resync's worth): shifting it costs less than a VecDeque's
        // code in the wasm.
        Some(self.queue.remove(0))
    }

    /// When the next queued frame may go out.
    pub fn next_at(&self) -> Option<u64> {
        if self.queue.is_empty() {
            return None;
        }
        Some((self.tat + PACE_INTERVAL_MS).saturating_sub(PACE_BURST * PACE_INTERVAL_MS))
    }

    /// Everything still queued, ignoring the pace (the socket is about to close).
    pub fn drain_all(&mut self) -> impl Iterator<Item = ClientFrame> + '_ {
        self.queue.drain(..)
    }

    /// A new connection: the server's limiter starts afresh, and frames queued for the
    /// old one are stale (the resync sends what still matters).
    pub fn reset(&mut self) {
        self.tat = 0;
        self.queue.clear();
    }

    /// Frames waiting in the queue.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    fn admit(&mut self, now: u64) -> bool {
        let tat = self.tat.max(now) + PACE_INTERVAL_MS;
        if tat - now <= PACE_BURST * PACE_INTERVAL_MS {
            self.tat = tat;
            true
        } else {
            false
        }
    }
}
