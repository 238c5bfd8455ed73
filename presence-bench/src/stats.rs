//! What a run measured, and the JSON report. Histograms travel inside the report
//! (HdrHistogram V2 + deflate, base64), so the reports of several generator processes
//! merge into one exact report (`presence-bench merge`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::sys::KernelMem;

/// Microseconds, 1 µs to 1 hour, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// A latency distribution, in milliseconds, with its histogram for merging.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// HdrHistogram V2 deflate, base64, microseconds.
    pub hist: String,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        let mut bytes = Vec::new();
        let hist = match V2DeflateSerializer::new().serialize(h, &mut bytes) {
            Ok(_) => base64::engine::general_purpose::STANDARD.encode(&bytes),
            Err(_) => String::new(),
        };
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
            hist,
        }
    }

    pub fn histogram(&self) -> Histogram<u64> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&self.hist)
            .ok()
            .and_then(|b| Deserializer::new().deserialize(&mut b.as_slice()).ok());
        decoded.unwrap_or_else(histogram)
    }

    pub fn merge(items: impl IntoIterator<Item = Self>) -> Self {
        let mut h = histogram();
        for item in items {
            let _ = h.add(item.histogram());
        }
        Self::of(&h)
    }
}

/// Use of one watched process over a phase.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcUse {
    pub pid: u32,
    /// `server` or `redis`.
    pub role: String,
    pub cpu_s: f64,
    pub rss_before_kb: u64,
    pub rss_after_kb: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnReport {
    pub target: u64,
    pub established: u64,
    pub failed: u64,
    pub failures: BTreeMap<String, u64>,
    /// From the first connect to the last one ready (hello and join answered).
    pub wall_s: f64,
    pub connects_per_s: f64,
    /// TCP connect + WebSocket upgrade.
    pub upgrade: Latency,
    /// TCP connect to ready: upgrade, `hello`→`welcome`, `join`→`room_state`.
    pub handshake: Latency,
    pub procs: Vec<ProcUse>,
    /// Server CPU per 1,000 connects (server pids only).
    pub server_cpu_ms_per_1k_connects: f64,
}

/// A stage is "sustained" when nothing was lost, the tail stayed short and the generator
/// kept to its schedule: every event delivered (ratio), p99 within bound, the generator
/// on time. The highest sustained rate is a row's maximum, for the --auto-half search
/// and for the page alike.
pub const SUSTAINED_RATIO: f64 = 0.999;
/// See [`SUSTAINED_RATIO`].
pub const SUSTAINED_P99_MS: f64 = 50.0;
/// See [`SUSTAINED_RATIO`].
pub const SUSTAINED_LAG_MS: f64 = 50.0;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StageReport {
    pub index: usize,
    pub kind: String,
    pub rate_per_s: f64,
    /// This stage ran at half the highest sustained rate of the stages before it.
    pub half_of_max: bool,
    pub events: u64,
    /// Events this report's shard(s) sent.
    pub events_sent: u64,
    /// Latest a send went out after its scheduled time (generator lag), ms.
    pub send_lag_max_ms: f64,
    pub senders: u64,
    pub duration_s: f64,
    /// From the first scheduled send to the last receipt (≥ `duration_s`).
    pub window_s: f64,
    pub expected: u64,
    pub delivered: u64,
    pub ratio: f64,
    /// Frames that matched no scheduled event (should be 0).
    pub unexpected: u64,
    pub deliveries_per_s: f64,
    pub latency: Latency,
    pub procs: Vec<ProcUse>,
    pub server_cpu_s: f64,
    pub server_cpu_ms_per_10k_deliveries: f64,
    pub deliveries_per_server_cpu_s: f64,
    pub redis_cpu_s: f64,
    pub deliveries_per_cpu_s_incl_redis: f64,
    pub generator_cpu_s: f64,
    /// CPU the machine spent on anything but the watched processes and this generator
    /// during the stage (other work, interrupts): a noise gauge.
    pub other_cpu_s: f64,
    /// The 1-minute load average at the end of the stage.
    pub loadavg: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IdleReport {
    pub hold_s: f64,
    pub connections: u64,
    pub procs: Vec<ProcUse>,
    /// Server RSS growth per connection (all server pids), bytes.
    pub server_rss_per_conn_bytes: f64,
    pub kernel_before: KernelMem,
    pub kernel_after: KernelMem,
    /// System-wide slab + TCP buffer growth per connection, halved (each loopback
    /// connection has a socket at both ends; the generator's end is the other half).
    pub kernel_per_conn_bytes_est: f64,
    /// Server CPU while holding, per 10k connections per second (pings, timers).
    pub server_cpu_ms_per_s_per_10k: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReconnectReport {
    pub window_s: f64,
    pub attempted: u64,
    pub reconnected: u64,
    pub failed: u64,
    /// From the storm's start to the last reconnect ready.
    pub wall_s: f64,
    pub latency: Latency,
    /// `leaves` seen by members during the storm: flaps (a resume should show none).
    pub flap_leaves: u64,
    pub diff_joins: u64,
    pub procs: Vec<ProcUse>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProbeReport {
    pub probes: u64,
    pub rate_per_s: f64,
    pub seen: u64,
    /// From the scheduled `join` on one node to the `room_diff` on another.
    pub latency: Latency,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GenReport {
    pub threads: usize,
    pub cpu_s: f64,
    pub rss_kb: u64,
    pub wall_s: f64,
}

/// The whole report of one run (one shard, or merged). Every report type reads a
/// missing field as its default, so a report an older generator wrote (one `pairs.sh`
/// kept in its directory) still reads (`presence-bench merge`, `presence-bench report`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    pub tool: String,
    pub label: Option<String>,
    pub scenario: String,
    pub dialect: String,
    pub urls: Vec<String>,
    pub shards: usize,
    /// Which shard wrote this; absent in a merged report.
    pub shard: Option<usize>,
    pub params: serde_json::Value,
    pub started_at_ms: u64,
    pub connections: ConnReport,
    pub stages: Vec<StageReport>,
    pub idle: Option<IdleReport>,
    pub reconnect: Option<ReconnectReport>,
    pub join_visible: Option<ProbeReport>,
    /// Connections that ended during the run, by close code or error.
    pub disconnects: BTreeMap<String, u64>,
    /// `error` frames received, by code.
    pub errors: BTreeMap<String, u64>,
    /// Frames the scenario did not look at, by type.
    pub other_frames: BTreeMap<String, u64>,
    pub generator: GenReport,
    pub warnings: Vec<String>,
}

/// Counters of one stage, filled by every connection.
#[derive(Debug)]
pub struct StageCounters {
    pub delivered: AtomicU64,
    pub unexpected: AtomicU64,
    pub last_receipt_us: AtomicU64,
    pub latency: Mutex<Histogram<u64>>,
}

impl Default for StageCounters {
    fn default() -> Self {
        Self {
            delivered: AtomicU64::new(0),
            unexpected: AtomicU64::new(0),
            last_receipt_us: AtomicU64::new(0),
            latency: Mutex::new(histogram()),
        }
    }
}

impl StageCounters {
    pub fn record(&self, latency_us: u64, now_us: u64) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.last_receipt_us.fetch_max(now_us, Ordering::Relaxed);
        lock(&self.latency).saturating_record(latency_us.max(1));
    }
}

/// What every connection task records into.
#[derive(Debug)]
pub struct Stats {
    pub upgrade: Mutex<Histogram<u64>>,
    pub handshake: Mutex<Histogram<u64>>,
    pub reconnect: Mutex<Histogram<u64>>,
    pub established: AtomicU64,
    pub reconnected: AtomicU64,
    pub reconnect_failed: AtomicU64,
    pub last_reconnect_us: AtomicU64,
    pub flap_leaves: AtomicU64,
    pub diff_joins: AtomicU64,
    pub failures: Mutex<BTreeMap<String, u64>>,
    pub disconnects: Mutex<BTreeMap<String, u64>>,
    pub errors: Mutex<BTreeMap<String, u64>>,
    pub other: Mutex<BTreeMap<String, u64>>,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            upgrade: Mutex::new(histogram()),
            handshake: Mutex::new(histogram()),
            reconnect: Mutex::new(histogram()),
            established: AtomicU64::new(0),
            reconnected: AtomicU64::new(0),
            reconnect_failed: AtomicU64::new(0),
            last_reconnect_us: AtomicU64::new(0),
            flap_leaves: AtomicU64::new(0),
            diff_joins: AtomicU64::new(0),
            failures: Mutex::new(BTreeMap::new()),
            disconnects: Mutex::new(BTreeMap::new()),
            errors: Mutex::new(BTreeMap::new()),
            other: Mutex::new(BTreeMap::new()),
        }
    }
}

/// Locks a mutex that no task holds across an await; a poisoned one is still usable
/// for counters.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub fn bump(map: &Mutex<BTreeMap<String, u64>>, key: &str) {
    let mut map = lock(map);
    match map.get_mut(key) {
        Some(v) => *v += 1,
        None => {
            map.insert(key.to_owned(), 1);
        }
    }
}

fn add_maps(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

/// The per-pid maximum CPU (shards watch the same process over about the same
/// window) and the first RSS readings.
fn merge_procs(lists: &[&Vec<ProcUse>]) -> Vec<ProcUse> {
    let mut out: Vec<ProcUse> = Vec::new();
    for list in lists {
        for p in *list {
            match out.iter_mut().find(|o| o.pid == p.pid) {
                Some(o) => {
                    o.cpu_s = o.cpu_s.max(p.cpu_s);
                    o.rss_before_kb = o.rss_before_kb.min(p.rss_before_kb);
                    o.rss_after_kb = o.rss_after_kb.max(p.rss_after_kb);
                }
                None => out.push(p.clone()),
            }
        }
    }
    out
}

pub fn per(n: f64, d: f64) -> f64 {
    if d > 0.0 {
        n / d
    } else {
        0.0
    }
}

impl StageReport {
    /// See [`SUSTAINED_RATIO`].
    pub fn sustained(&self) -> bool {
        self.ratio >= SUSTAINED_RATIO
            && self.latency.p99_ms <= SUSTAINED_P99_MS
            && self.send_lag_max_ms <= SUSTAINED_LAG_MS
    }

    /// Fills the figures derived from the counts and process readings.
    pub fn derive(&mut self) {
        self.ratio = per(self.delivered as f64, self.expected as f64);
        self.deliveries_per_s = per(self.delivered as f64, self.window_s);
        self.server_cpu_s = self
            .procs
            .iter()
            .filter(|p| p.role == "server")
            .map(|p| p.cpu_s)
            .sum();
        self.redis_cpu_s = self
            .procs
            .iter()
            .filter(|p| p.role == "redis")
            .map(|p| p.cpu_s)
            .sum();
        self.server_cpu_ms_per_10k_deliveries =
            per(self.server_cpu_s * 1000.0 * 10_000.0, self.delivered as f64);
        self.deliveries_per_server_cpu_s = per(self.delivered as f64, self.server_cpu_s);
        self.deliveries_per_cpu_s_incl_redis =
            per(self.delivered as f64, self.server_cpu_s + self.redis_cpu_s);
    }
}

impl Report {
    /// Fills every derived figure from the raw counts.
    pub fn derive(&mut self) {
        let c = &mut self.connections;
        c.connects_per_s = per(c.established as f64, c.wall_s);
        let server_cpu: f64 = c
            .procs
            .iter()
            .filter(|p| p.role == "server")
            .map(|p| p.cpu_s)
            .sum();
        c.server_cpu_ms_per_1k_connects = per(server_cpu * 1000.0 * 1000.0, c.established as f64);
        for s in &mut self.stages {
            s.derive();
        }
        if let Some(idle) = &mut self.idle {
            idle.connections = self.connections.established;
            let grown: i64 = idle
                .procs
                .iter()
                .filter(|p| p.role == "server")
                .map(|p| p.rss_after_kb as i64 - p.rss_before_kb as i64)
                .sum();
            idle.server_rss_per_conn_bytes = per(grown as f64 * 1024.0, idle.connections as f64);
            let k = |m: &KernelMem| (m.slab_kb + m.tcp_buffers_kb) as f64 * 1024.0;
            idle.kernel_per_conn_bytes_est = per(
                k(&idle.kernel_after) - k(&idle.kernel_before),
                2.0 * idle.connections as f64,
            );
            let cpu: f64 = idle
                .procs
                .iter()
                .filter(|p| p.role == "server")
                .map(|p| p.cpu_s)
                .sum();
            idle.server_cpu_ms_per_s_per_10k = per(
                cpu * 1000.0 * 10_000.0,
                idle.hold_s * idle.connections as f64,
            );
        }
    }

    /// What is wrong with a run that should have lost nothing (empty: nothing).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let c = &self.connections;
        if c.failed > 0 || c.established < c.target {
            out.push(format!(
                "{} of {} connections failed: {:?}",
                c.failed, c.target, c.failures
            ));
        }
        if !self.disconnects.is_empty() {
            out.push(format!("connections dropped: {:?}", self.disconnects));
        }
        for s in &self.stages {
            if s.delivered < s.expected || s.unexpected > 0 || s.events_sent == 0 {
                out.push(format!(
                    "stage {}: {} of {} delivered, {} unexpected, {} sent",
                    s.index, s.delivered, s.expected, s.unexpected, s.events_sent
                ));
            }
        }
        if let Some(r) = &self.reconnect {
            if r.failed > 0 || r.reconnected < r.attempted {
                out.push(format!("reconnect: {} of {} failed", r.failed, r.attempted));
            }
        }
        if let Some(p) = &self.join_visible {
            if p.seen < p.probes {
                out.push(format!("join probes: {} of {} seen", p.seen, p.probes));
            }
        }
        out
    }

    /// Merges the reports of the shards of one run.
    pub fn merge(mut reports: Vec<Self>) -> anyhow::Result<Self> {
        reports.sort_by_key(|r| r.shard.unwrap_or(0));
        let Some(first) = reports.first().cloned() else {
            anyhow::bail!("nothing to merge");
        };
        let mut out = Self {
            shard: None,
            shards: reports.len(),
            ..first
        };
        let c = &mut out.connections;
        c.established = reports.iter().map(|r| r.connections.established).sum();
        c.failed = reports.iter().map(|r| r.connections.failed).sum();
        c.target = reports.iter().map(|r| r.connections.target).sum();
        c.wall_s = reports
            .iter()
            .map(|r| r.connections.wall_s)
            .fold(0.0, f64::max);
        c.failures = BTreeMap::new();
        for r in &reports {
            add_maps(&mut c.failures, &r.connections.failures);
        }
        c.upgrade = Latency::merge(reports.iter().map(|r| r.connections.upgrade.clone()));
        c.handshake = Latency::merge(reports.iter().map(|r| r.connections.handshake.clone()));
        c.procs = merge_procs(
            &reports
                .iter()
                .map(|r| &r.connections.procs)
                .collect::<Vec<_>>(),
        );

        for (i, stage) in out.stages.iter_mut().enumerate() {
            let all: Vec<&StageReport> = reports.iter().filter_map(|r| r.stages.get(i)).collect();
            stage.events_sent = all.iter().map(|s| s.events_sent).sum();
            stage.expected = all.iter().map(|s| s.expected).sum();
            stage.delivered = all.iter().map(|s| s.delivered).sum();
            stage.unexpected = all.iter().map(|s| s.unexpected).sum();
            stage.window_s = all.iter().map(|s| s.window_s).fold(0.0, f64::max);
            stage.send_lag_max_ms = all.iter().map(|s| s.send_lag_max_ms).fold(0.0, f64::max);
            stage.generator_cpu_s = all.iter().map(|s| s.generator_cpu_s).sum();
            // Every shard saw the whole machine: the other shards are "other" to it.
            stage.other_cpu_s = all
                .iter()
                .map(|s| s.other_cpu_s)
                .fold(f64::INFINITY, f64::min)
                .max(0.0);
            stage.latency = Latency::merge(all.iter().map(|s| s.latency.clone()));
            stage.procs = merge_procs(&all.iter().map(|s| &s.procs).collect::<Vec<_>>());
        }
        if let Some(idle) = &mut out.idle {
            let all: Vec<&IdleReport> = reports.iter().filter_map(|r| r.idle.as_ref()).collect();
            idle.procs = merge_procs(&all.iter().map(|s| &s.procs).collect::<Vec<_>>());
            // Kernel readings are system-wide: the widest span of the shards.
            idle.kernel_before = all
                .iter()
                .map(|s| s.kernel_before)
                .min_by_key(|k| k.slab_kb + k.tcp_buffers_kb)
                .unwrap_or_default();
            idle.kernel_after = all
                .iter()
                .map(|s| s.kernel_after)
                .max_by_key(|k| k.slab_kb + k.tcp_buffers_kb)
                .unwrap_or_default();
        }
        if let Some(rc) = &mut out.reconnect {
            let all: Vec<&ReconnectReport> = reports
                .iter()
                .filter_map(|r| r.reconnect.as_ref())
                .collect();
            rc.attempted = all.iter().map(|s| s.attempted).sum();
            rc.reconnected = all.iter().map(|s| s.reconnected).sum();
            rc.failed = all.iter().map(|s| s.failed).sum();
            rc.flap_leaves = all.iter().map(|s| s.flap_leaves).sum();
            rc.diff_joins = all.iter().map(|s| s.diff_joins).sum();
            rc.wall_s = all.iter().map(|s| s.wall_s).fold(0.0, f64::max);
            rc.latency = Latency::merge(all.iter().map(|s| s.latency.clone()));
            rc.procs = merge_procs(&all.iter().map(|s| &s.procs).collect::<Vec<_>>());
        }
        if let Some(pr) = &mut out.join_visible {
            let all: Vec<&ProbeReport> = reports
                .iter()
                .filter_map(|r| r.join_visible.as_ref())
                .collect();
            pr.seen = all.iter().map(|s| s.seen).sum();
            pr.latency = Latency::merge(all.iter().map(|s| s.latency.clone()));
        }
        out.disconnects = BTreeMap::new();
        out.errors = BTreeMap::new();
        out.other_frames = BTreeMap::new();
        out.warnings = Vec::new();
        for r in &reports {
            add_maps(&mut out.disconnects, &r.disconnects);
            add_maps(&mut out.errors, &r.errors);
            add_maps(&mut out.other_frames, &r.other_frames);
            out.warnings.extend(
                r.warnings
                    .iter()
                    .map(|w| format!("shard {:?}: {w}", r.shard)),
            );
        }
        out.generator = GenReport {
            threads: reports.iter().map(|r| r.generator.threads).sum(),
            cpu_s: reports.iter().map(|r| r.generator.cpu_s).sum(),
            rss_kb: reports.iter().map(|r| r.generator.rss_kb).sum(),
            wall_s: reports
                .iter()
                .map(|r| r.generator.wall_s)
                .fold(0.0, f64::max),
        };
        out.derive();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_survives_the_round_trip_and_merges() {
        let mut a = histogram();
        let mut b = histogram();
        for v in 1..=1000u64 {
            a.record(v * 10).expect("in range");
            b.record(v * 1000).expect("in range");
        }
        let la = Latency::of(&a);
        assert_eq!(la.histogram().len(), 1000);
        let m = Latency::merge([la, Latency::of(&b)]);
        assert_eq!(m.count, 2000);
        assert!(m.max_ms >= 999.0);
    }
}
