//! Reconnect delays: exponential backoff with full jitter, and the small RNG it draws
//! from.

/// SplitMix64: a tiny seeded generator. The core takes its seed from the outside
/// (`Math.random()` in the browser, a constant in tests), so every delay is
/// reproducible in a test and no entropy source is linked into the wasm.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator that starts from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next number of the sequence.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..=max`.
    pub fn up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(n) => self.next_u64() % n,
            None => self.next_u64(),
        }
    }
}

/// Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff
/// And Jitter"): attempt `n` waits a uniform random time in `0..=min(max, base·2ⁿ)`.
/// Full jitter spreads a crowd of clients that lost the same server over the whole
/// window instead of sending them back in synchronized waves.
#[derive(Debug, Clone)]
pub struct Backoff {
    base_ms: u64,
    max_ms: u64,
    attempt: u32,
}

impl Backoff {
    /// Windows from `base_ms`, doubling per attempt, up to `max_ms`.
    pub const fn new(base_ms: u64, max_ms: u64) -> Self {
        Self {
            base_ms,
            max_ms,
            attempt: 0,
        }
    }

    /// The upper bound of the next delay: `min(max, base·2^attempt)`.
    pub fn ceiling_ms(&self) -> u64 {
        // Past 2^32 the cap has long won; clamping the shift keeps it from overflowing.
        let factor = 1u64 << self.attempt.min(32);
        self.base_ms.saturating_mul(factor).min(self.max_ms)
    }

    /// The delay before the next attempt; each call counts one attempt.
    pub fn next_delay_ms(&mut self, rng: &mut Rng) -> u64 {
        let delay = rng.up_to(self.ceiling_ms());
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Attempts since the last reset.
    pub const fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Back to the first, shortest window (after a connection proved stable).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The largest window.
    pub const fn max_ms(&self) -> u64 {
        self.max_ms
    }
}
