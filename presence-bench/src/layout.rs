//! Who is who: users, rooms, nodes, shards and source addresses, and the open-loop
//! schedules of events. Everything here is a pure function of the run's parameters, so
//! every generator process (shard) computes the same answers without talking to the
//! others: a recipient in shard 3 knows when an event from a sender in shard 1 was
//! scheduled.
//!
//! # Connections
//!
//! Connection `g` (0 ≤ g < N, global across shards) is user `u{g}`, in room
//! `r{g / R}` (rooms of R members; the large room is one room of N), connected to node
//! `g % nodes`, owned by shard `g % shards`, from source address
//! `ips[(g / shards) % ips]`. Rooms are contiguous blocks, so each room's members are
//! spread over every node and every shard.
//!
//! # Event schedule (one stage)
//!
//! A stage has `K` events at `rate` per second: event `k` is scheduled at
//! `t0 + k / rate`. Its sender is `sender(k % M)`, the `M` senders being taken
//! member-major (member 0 of every room, then member 1 of every room, …) so that
//! consecutive events land in different rooms. Sender `m`'s `j`-th event is therefore
//! `k = m + M·j`.
//!
//! Typing events alternate `typing:true` (j even) and `typing:false` (j odd), and every
//! sender gets an even number of events per stage, so every event is a transition the
//! server must fan out, and a stage ends with nobody typing. A recipient matches a
//! `typing` frame **exactly by per-sender order**: the n-th `true` it receives from
//! sender m is m's event `j = 2n`, the n-th `false` is `j = 2n + 1`. The frames carry
//! no payload of ours, and none is needed: one WebSocket connection delivers in order,
//! and the server does not reorder one user's typing in one room. (The server's own
//! typing expiry would insert frames nobody scheduled, so runs use a typing TTL longer
//! than the run.)
//!
//! Status-churn events are `set_custom` with the text `c{stage}.{k}`: the sequence
//! number travels in the payload and comes back inside the `room_diff` update.

/// The shape of a run.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Connections in the whole run (all shards).
    pub n: usize,
    /// Members per room; 0 = nobody joins a room.
    pub room_size: usize,
    pub nodes: usize,
    pub shard: usize,
    pub shards: usize,
    pub source_ips: usize,
}

impl Layout {
    pub fn rooms(&self) -> usize {
        self.n.checked_div(self.room_size).unwrap_or(0)
    }

    pub fn room_of(&self, g: usize) -> Option<usize> {
        (self.room_size > 0).then(|| g / self.room_size)
    }

    pub fn members(&self, room: usize) -> std::ops::Range<usize> {
        room * self.room_size..((room + 1) * self.room_size).min(self.n)
    }

    pub fn node_of(&self, g: usize) -> usize {
        g % self.nodes.max(1)
    }

    pub fn owns(&self, g: usize) -> bool {
        g % self.shards == self.shard
    }

    pub fn source_of(&self, g: usize) -> usize {
        (g / self.shards) % self.source_ips.max(1)
    }

    /// The connections this shard drives.
    pub fn local(&self) -> impl Iterator<Item = usize> + '_ {
        (self.shard..self.n).step_by(self.shards)
    }

    /// Senders that can exist (every member of a room).
    pub fn max_senders(&self) -> usize {
        self.rooms() * self.room_size
    }

    /// The m-th sender, member-major.
    pub fn sender(&self, m: usize) -> usize {
        let rooms = self.rooms().max(1);
        let (room, member) = (m % rooms, m / rooms);
        room * self.room_size + member
    }

    /// The inverse of [`Layout::sender`].
    pub fn sender_pos(&self, g: usize) -> usize {
        let rooms = self.rooms().max(1);
        let (room, member) = (g / self.room_size.max(1), g % self.room_size.max(1));
        member * rooms + room
    }
}

/// What a stage's events are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// `typing` true/false, matched by per-sender order.
    Typing,
    /// `set_custom` carrying `c{stage}.{k}`, matched by the sequence in the payload.
    Custom,
}

/// One open-loop stage of events.
#[derive(Debug, Clone)]
pub struct Stage {
    pub index: usize,
    pub kind: EventKind,
    /// Epoch microseconds of event 0.
    pub t0_us: u64,
    pub rate: f64,
    /// Events in the stage.
    pub k_total: u64,
    /// Senders used (the first `m_senders` of [`Layout::sender`]).
    pub m_senders: u64,
}

impl Stage {
    /// A stage of about `rate × secs` events over at most `max_senders` senders, rounded
    /// so that typing gives every sender an even number of events.
    pub fn plan(
        index: usize,
        kind: EventKind,
        rate: f64,
        secs: f64,
        max_senders: usize,
        t0_us: u64,
    ) -> Self {
        let wanted = ((rate * secs).round() as u64).max(2);
        let max_senders = (max_senders as u64).max(1);
        let (k_total, m_senders) = match kind {
            EventKind::Typing => {
                // p events pairs per sender, M senders: K = 2·p·M ≤ wanted.
                let pairs = wanted.div_ceil(2 * max_senders).max(1);
                let m = (wanted / (2 * pairs)).clamp(1, max_senders);
                (2 * pairs * m, m)
            }
            EventKind::Custom => (wanted, wanted.min(max_senders)),
        };
        Self {
            index,
            kind,
            t0_us,
            rate,
            k_total,
            m_senders,
        }
    }

    pub fn at_us(&self, k: u64) -> u64 {
        self.t0_us + (k as f64 * 1e6 / self.rate) as u64
    }

    pub fn duration_us(&self) -> u64 {
        (self.k_total as f64 * 1e6 / self.rate) as u64
    }

    /// The event `k` of sender position `m` sending its `j`-th event.
    pub fn event_of(&self, m: u64, j: u64) -> Option<u64> {
        let k = m + self.m_senders * j;
        (m < self.m_senders && k < self.k_total).then_some(k)
    }

    /// Events sender position `m` sends in this stage.
    pub fn events_of(&self, m: u64) -> u64 {
        if m >= self.m_senders {
            0
        } else {
            (self.k_total - m).div_ceil(self.m_senders)
        }
    }
}

/// Cross-node join probes: probe `p` has a watcher (already in room `jp.{p}`) and a
/// joiner on another node that joins at `t0 + p / rate`.
#[derive(Debug, Clone)]
pub struct Probes {
    pub count: usize,
    pub rate: f64,
    pub t0_us: u64,
}

impl Probes {
    /// The watcher of probe `p`: spread over the run; the joiner is the next
    /// connection, which is on the next node.
    pub fn watcher(p: usize, n: usize, count: usize) -> usize {
        let stride = (n / count.max(1)).max(2);
        p * stride
    }

    pub fn room(p: usize) -> String {
        format!("jp.{p}")
    }

    /// The probe (if any) whose watcher is `g`.
    pub fn watched_by(g: usize, n: usize, count: usize) -> Option<usize> {
        let stride = (n / count.max(1)).max(2);
        (g % stride == 0 && g / stride < count && g + 1 < n).then(|| g / stride)
    }

    pub fn at_us(&self, p: usize) -> u64 {
        self.t0_us + (p as f64 * 1e6 / self.rate) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(n: usize, r: usize) -> Layout {
        Layout {
            n,
            room_size: r,
            nodes: 3,
            shard: 0,
            shards: 2,
            source_ips: 1,
        }
    }

    #[test]
    fn sender_order_is_member_major_and_invertible() {
        let l = layout(100, 20);
        assert_eq!(l.sender(0), 0);
        assert_eq!(l.sender(1), 20);
        assert_eq!(l.sender(5), 1);
        for g in 0..100 {
            assert_eq!(l.sender(l.sender_pos(g)), g);
        }
    }

    #[test]
    fn typing_stages_give_each_sender_an_even_count() {
        for (rate, secs, senders) in [
            (1000.0, 10.0, 10_000),
            (30_000.0, 1.0, 10_000),
            (7.0, 3.0, 5),
        ] {
            let s = Stage::plan(0, EventKind::Typing, rate, secs, senders, 0);
            assert_eq!(s.k_total % (2 * s.m_senders), 0, "{s:?}");
            for m in 0..s.m_senders {
                assert_eq!(s.events_of(m) % 2, 0);
            }
            assert!(s.k_total as f64 <= (rate * secs).max(2.0));
        }
    }

    #[test]
    fn probes_are_invertible() {
        for p in 0..50 {
            let w = Probes::watcher(p, 1000, 50);
            assert_eq!(Probes::watched_by(w, 1000, 50), Some(p));
        }
    }
}
