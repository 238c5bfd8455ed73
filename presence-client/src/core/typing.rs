//! Typing debounce. The app calls `typing(room)` on every input event; the wire sees
//! `typing:true` at once on the first one, again every `typing_ttl_ms / 2` while input
//! goes on (the server forgets a `typing:true` after `typing_ttl_ms`), and
//! `typing:false` after `stop_after_ms` without input.

use super::vecmap::VecMap;

#[derive(Debug, Clone, Copy)]
struct Typist {
    /// When `typing:true` last went out.
    sent_at: u64,
    /// The last input in this room.
    last_input: u64,
}

#[derive(Debug, Clone)]
/// The rooms this device is typing in, with when `typing:true` must be refreshed and
/// when typing stops by itself.
pub struct TypingDebounce {
    stop_after_ms: u64,
    rooms: VecMap<Typist>,
}

impl TypingDebounce {
    /// `typing:false` after `stop_after_ms` without input.
    pub const fn new(stop_after_ms: u64) -> Self {
        Self {
            stop_after_ms,
            rooms: VecMap::new(),
        }
    }

    /// One input event in `room`. Returns true when `typing:true` must go out now.
    pub fn input(&mut self, now: u64, room: &str, ttl_ms: u64) -> bool {
        if let Some(t) = self.rooms.get_mut(room) {
            t.last_input = t.last_input.max(now);
            if now >= t.sent_at.saturating_add(ttl_ms / 2) {
                t.sent_at = now;
                return true;
            }
            return false;
        }
        self.rooms.insert(
            room.to_owned(),
            Typist {
                sent_at: now,
                last_input: now,
            },
        );
        true
    }

    /// Stops typing in `room`. Returns true when `typing:false` must go out.
    pub fn stop(&mut self, room: &str) -> bool {
        self.rooms.remove(room).is_some()
    }

    /// Rooms whose input paused long enough: they stop, and `typing:false` goes out.
    pub fn expire(&mut self, now: u64) -> Vec<String> {
        let stop_after = self.stop_after_ms;
        let due: Vec<String> = self
            .rooms
            .iter()
            .filter(|(_, t)| t.last_input.saturating_add(stop_after) <= now)
            .map(|(room, _)| room.to_owned())
            .collect();
        for room in &due {
            self.rooms.remove(room);
        }
        due
    }

    /// When the next room stops by itself.
    pub fn deadline(&self) -> Option<u64> {
        self.rooms
            .values()
            .map(|t| t.last_input.saturating_add(self.stop_after_ms))
            .min()
    }

    /// Every room this device is typing in; they all stop.
    pub fn take_all(&mut self) -> Vec<String> {
        self.rooms.take_keys()
    }

    /// Whether a `typing:true` is in force in `room`.
    pub fn is_typing(&self, room: &str) -> bool {
        self.rooms.contains(room)
    }
}
