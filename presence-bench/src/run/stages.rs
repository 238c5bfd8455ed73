//! The phases of a run, each bounded in count and time: one stage of scheduled events
//! (open loop, then the drain of its deliveries), the join probes, the reconnect storm.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Conns, RunArgs, Watched};
use crate::conn::{Cmd, Ctx};
use crate::layout::{EventKind, Probes, Stage};
use crate::stats::{lock, Latency, ProbeReport, ReconnectReport, StageCounters, StageReport};
use crate::sys::{self, now_us, CpuSnapshot};
use crate::wire::{self, out};

fn stage_latency(counters: &StageCounters) -> Latency {
    let hist = lock(&counters.latency);
    Latency::of(&hist)
}

/// Sleeps until the epoch-µs time `at_us`.
async fn sleep_until_us(at_us: u64) {
    let now = now_us();
    if at_us > now {
        tokio::time::sleep(Duration::from_micros(at_us - now)).await;
    }
}

/// Waits until `done()` or no progress in `quiet`, at most `max`.
/// Waits until `expected` deliveries are counted, or they stop coming for 3 s, or
/// `max_s` has passed.
async fn drain_deliveries(counters: &StageCounters, expected: u64, max_s: f64) {
    drain(
        || {
            let d = counters.delivered.load(Ordering::Relaxed);
            (d, d >= expected)
        },
        Duration::from_secs(3),
        Duration::from_secs_f64(max_s),
    )
    .await;
}

async fn drain(progress: impl Fn() -> (u64, bool), quiet: Duration, max: Duration) {
    let start = Instant::now();
    let mut last = (progress().0, Instant::now());
    while start.elapsed() < max {
        let (count, done) = progress();
        if done {
            return;
        }
        if count != last.0 {
            last = (count, Instant::now());
        } else if last.1.elapsed() >= quiet {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(super) async fn run_stage(
    ctx: &Arc<Ctx>,
    conns: &Conns,
    stage: Stage,
    watched: &Watched,
    args: &RunArgs,
) -> StageReport {
    let layout = &ctx.layout;
    let stage = Arc::new(stage);
    let counters = Arc::new(StageCounters::default());
    // Expected deliveries to this shard's connected members.
    let mut expected = 0u64;
    for m in 0..stage.m_senders {
        let g = layout.sender(m as usize);
        let Some(room) = layout.room_of(g) else {
            continue;
        };
        let recipients = layout
            .members(room)
            .filter(|&r| conns.connected(layout, r))
            .filter(|&r| stage.kind == EventKind::Custom || r != g)
            .count() as u64;
        expected += stage.events_of(m) * recipients;
    }
    *ctx.stage
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) =
        Some((stage.clone(), counters.clone()));
    let rss_before = watched.rss();
    let cpu_before = CpuSnapshot::take(&watched.pids);
    let gen_before = sys::cpu_s(0).unwrap_or(0.0);
    let machine_before = sys::machine_busy_s();

    // Open loop: each event goes out at its scheduled time, whatever happened to the
    // ones before it; latency is measured from the schedule.
    let (mut sent, mut lag_max) = (0u64, 0u64);
    for k in 0..stage.k_total {
        let m = k % stage.m_senders;
        let g = layout.sender(m as usize);
        if !layout.owns(g) {
            continue;
        }
        let at = stage.at_us(k);
        sleep_until_us(at).await;
        lag_max = lag_max.max(now_us().saturating_sub(at));
        let frame = match stage.kind {
            EventKind::Typing => {
                let room = wire::room_id(layout.room_of(g).unwrap_or(0));
                out::typing(ctx.dialect, &room, (k / stage.m_senders) % 2 == 0)
            }
            EventKind::Custom => out::custom(&format!("c{}.{k}", stage.index)),
        };
        if conns.send(layout, g, Cmd::Send(frame)) {
            sent += 1;
        }
    }
    drain_deliveries(&counters, expected, args.drain_max_s).await;
    let procs = watched.uses(&cpu_before, &rss_before);
    let generator_cpu_s = sys::cpu_s(0).unwrap_or(0.0) - gen_before;
    let watched_cpu: f64 = procs.iter().map(|p| p.cpu_s).sum();
    let other_cpu_s =
        (sys::machine_busy_s() - machine_before - watched_cpu - generator_cpu_s).max(0.0);
    *ctx.stage
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    let last = counters.last_receipt_us.load(Ordering::Relaxed);
    let duration_s = stage.duration_us() as f64 / 1e6;
    StageReport {
        index: stage.index,
        kind: format!("{:?}", stage.kind).to_lowercase(),
        rate_per_s: stage.rate,
        events: stage.k_total,
        events_sent: sent,
        send_lag_max_ms: lag_max as f64 / 1000.0,
        senders: stage.m_senders,
        duration_s,
        window_s: duration_s.max(last.saturating_sub(stage.t0_us) as f64 / 1e6),
        expected,
        delivered: counters.delivered.load(Ordering::Relaxed),
        unexpected: counters.unexpected.load(Ordering::Relaxed),
        latency: stage_latency(&counters),
        procs,
        generator_cpu_s,
        other_cpu_s,
        loadavg: sys::loadavg(),
        ..StageReport::default()
    }
}

pub(super) async fn run_probes(
    ctx: &Arc<Ctx>,
    conns: &Conns,
    args: &RunArgs,
    t0: u64,
) -> ProbeReport {
    let layout = &ctx.layout;
    let probes = Probes {
        count: ctx.probe_count,
        rate: args.probe_rate,
        t0_us: t0,
    };
    let counters = Arc::new(StageCounters::default());
    *ctx.probes
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) =
        Some((probes.clone(), counters.clone()));
    let expected = (0..probes.count)
        .filter(|&p| conns.connected(layout, Probes::watcher(p, layout.n, probes.count)))
        .count() as u64;
    for p in 0..probes.count {
        let joiner = Probes::watcher(p, layout.n, probes.count) + 1;
        if !layout.owns(joiner) {
            continue;
        }
        sleep_until_us(probes.at_us(p)).await;
        conns.send(
            layout,
            joiner,
            Cmd::Send(out::join(ctx.dialect, &Probes::room(p), 3)),
        );
    }
    drain_deliveries(&counters, expected, args.drain_max_s).await;
    ProbeReport {
        probes: expected,
        rate_per_s: probes.rate,
        seen: counters.delivered.load(Ordering::Relaxed),
        latency: stage_latency(&counters),
    }
}

/// A fixed pseudo-random number per connection (splitmix64), for storm offsets.
fn mix(g: usize) -> u64 {
    let mut z = (g as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(super) async fn run_storm(
    ctx: &Arc<Ctx>,
    conns: &Conns,
    args: &RunArgs,
    t0: u64,
    watched: &Watched,
) -> ReconnectReport {
    let layout = &ctx.layout;
    let window_us = (args.reconnect_window_s * 1e6) as u64;
    let mut plan: Vec<(u64, usize)> = layout
        .local()
        .map(|g| (mix(g) % window_us.max(1), g))
        .collect();
    plan.sort_unstable();
    let rss_before = watched.rss();
    let cpu_before = CpuSnapshot::take(&watched.pids);
    let (before_ok, before_failed) = (
        ctx.stats.reconnected.load(Ordering::Relaxed),
        ctx.stats.reconnect_failed.load(Ordering::Relaxed),
    );
    let mut attempted = 0u64;
    for (offset, g) in plan {
        sleep_until_us(t0 + offset).await;
        if conns.send(layout, g, Cmd::Reconnect) {
            attempted += 1;
        }
    }
    let stats = &ctx.stats;
    let done = || {
        stats.reconnected.load(Ordering::Relaxed) - before_ok
            + stats.reconnect_failed.load(Ordering::Relaxed)
            - before_failed
    };
    drain(
        || (done(), done() >= attempted),
        Duration::from_secs_f64(args.handshake_timeout_s),
        Duration::from_secs_f64(args.handshake_timeout_s + 5.0),
    )
    .await;
    let wall_s = stats
        .last_reconnect_us
        .load(Ordering::Relaxed)
        .saturating_sub(t0) as f64
        / 1e6;
    let procs = watched.uses(&cpu_before, &rss_before);
    // A resume that failed shows as a leave after the grace period: keep watching.
    tokio::time::sleep(Duration::from_secs_f64(args.flap_watch_s)).await;
    ReconnectReport {
        window_s: args.reconnect_window_s,
        attempted,
        reconnected: stats.reconnected.load(Ordering::Relaxed) - before_ok,
        failed: stats.reconnect_failed.load(Ordering::Relaxed) - before_failed,
        wall_s,
        latency: Latency::of(&lock(&stats.reconnect)),
        flap_leaves: stats.flap_leaves.load(Ordering::Relaxed),
        diff_joins: stats.diff_joins.load(Ordering::Relaxed),
        procs,
    }
}
