//! Idle rules for this device. It turns `idle` after `idle_after_ms` without input, or
//! once the page has been hidden for `hidden_idle_ms`; it turns `active` again on the
//! next input or when the page is shown. The core sends `activity` only when the state
//! changes, so a mouse move costs no frame.

use presence_protocol::ActivityState;

#[derive(Debug, Clone)]
/// Whether this device is active or idle, from input and page visibility.
pub struct IdleTracker {
    idle_after_ms: u64,
    hidden_idle_ms: u64,
    last_input: u64,
    hidden_since: Option<u64>,
    state: ActivityState,
}

impl IdleTracker {
    /// Active as of `now`.
    pub const fn new(now: u64, idle_after_ms: u64, hidden_idle_ms: u64) -> Self {
        Self {
            idle_after_ms,
            hidden_idle_ms,
            last_input: now,
            hidden_since: None,
            state: ActivityState::Active,
        }
    }

    /// Active or idle now.
    pub const fn state(&self) -> ActivityState {
        self.state
    }

    /// Input from the user. Returns true when this made the device active again.
    pub fn input(&mut self, now: u64) -> bool {
        self.last_input = self.last_input.max(now);
        self.set(ActivityState::Active)
    }

    /// The page was hidden (another tab, minimized window).
    pub fn hidden(&mut self, now: u64) {
        if self.hidden_since.is_none() {
            self.hidden_since = Some(now);
        }
    }

    /// The page is visible again: that counts as input. Returns true on a change.
    pub fn shown(&mut self, now: u64) -> bool {
        self.hidden_since = None;
        self.input(now)
    }

    /// When the device turns idle if nothing happens before; `None` when already idle.
    pub fn deadline(&self) -> Option<u64> {
        if self.state == ActivityState::Idle {
            return None;
        }
        let by_input = self.last_input.saturating_add(self.idle_after_ms);
        let by_hidden = self.hidden_since.map(|since| {
            since
                .max(self.last_input)
                .saturating_add(self.hidden_idle_ms)
        });
        Some(by_hidden.map_or(by_input, |h| h.min(by_input)))
    }

    /// Applies the passage of time. Returns true when the device just turned idle.
    pub fn tick(&mut self, now: u64) -> bool {
        match self.deadline() {
            Some(at) if at <= now => self.set(ActivityState::Idle),
            _ => false,
        }
    }

    fn set(&mut self, state: ActivityState) -> bool {
        let changed = self.state != state;
        self.state = state;
        changed
    }
}
