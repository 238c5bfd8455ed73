//! The rates of a run: one stage per `--rate`, then, with `--auto-half`, one more at half
//! the highest rate that was sustained (the rate search that finds a row's maximum and
//! measures latency at half of it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::stages::run_stage;
use super::{Conns, RunArgs, Watched};
use crate::barrier;
use crate::conn::Ctx;
use crate::layout::{EventKind, Stage};
use crate::stats::StageReport;

/// What the stages of a run share.
#[derive(Debug)]
pub(super) struct Rates {
    pub kind: EventKind,
    pub max_senders: usize,
    pub shard: usize,
    pub shards: usize,
    pub barrier_timeout: Duration,
    /// When the run started (`--max-run-s` counts from there).
    pub started: Instant,
}

fn sustained(s: &StageReport) -> bool {
    s.sustained()
}

/// Half the highest rate a stage sustained; None when none did.
fn half_rate(stages: &[StageReport]) -> Option<f64> {
    let best = stages
        .iter()
        .filter(|s| sustained(s))
        .map(|s| s.rate_per_s)
        .fold(0.0, f64::max);
    (best > 0.0).then_some(best / 2.0)
}

/// Runs the stages, each after the shards meet; returns their reports and warnings.
pub(super) async fn run(
    ctx: &Arc<Ctx>,
    conns: &Conns,
    watched: &Watched,
    args: &RunArgs,
    plan: &Rates,
) -> anyhow::Result<(Vec<StageReport>, Vec<String>)> {
    let mut stages: Vec<StageReport> = Vec::new();
    let mut warnings = Vec::new();
    let mut rates: Vec<(f64, bool)> = args.rate.iter().map(|r| (*r, false)).collect();
    let mut i = 0;
    while i < rates.len() {
        let (rate, half) = rates[i];
        let t0 = barrier::wait(
            args.barrier_dir.as_deref(),
            &format!("stage{i}"),
            plan.shard,
            plan.shards,
            plan.barrier_timeout,
        )
        .await?;
        let stage = Stage::plan(i, plan.kind, rate, args.stage_s, plan.max_senders, t0);
        let mut sr = run_stage(ctx, conns, stage, watched, args).await;
        sr.half_of_max = half;
        sr.derive();
        eprintln!(
            "  stage {i}: {rate}/s → {} of {} delivered, p99 {:.2} ms, {:.0} deliveries/s, server {:.0} deliveries per CPU-s",
            sr.delivered, sr.expected, sr.latency.p99_ms, sr.deliveries_per_s, sr.deliveries_per_server_cpu_s
        );
        stages.push(sr);
        i += 1;
        if i == rates.len() && args.auto_half && plan.shards == 1 && !rates.iter().any(|r| r.1) {
            match half_rate(&stages) {
                Some(r) => rates.push((r, true)),
                None => warnings.push("auto-half: no stage was sustained".to_owned()),
            }
        }
        if plan.started.elapsed().as_secs_f64() > args.max_run_s {
            warnings.push("max run time reached: stages skipped".to_owned());
            break;
        }
    }
    Ok((stages, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(rate: f64, ratio: f64, p99_ms: f64, lag_ms: f64) -> StageReport {
        let mut s = StageReport {
            rate_per_s: rate,
            ratio,
            send_lag_max_ms: lag_ms,
            ..StageReport::default()
        };
        s.latency.p99_ms = p99_ms;
        s
    }

    #[test]
    fn half_of_the_highest_sustained_rate() {
        let stages = [
            stage(1000.0, 1.0, 2.0, 1.0),
            stage(3000.0, 1.0, 12.0, 3.0),
            // Lost events, a long tail, a late generator: none of these counts.
            stage(6000.0, 0.98, 12.0, 3.0),
            stage(5000.0, 1.0, 51.0, 3.0),
            stage(4000.0, 1.0, 12.0, 50.5),
        ];
        assert_eq!(half_rate(&stages), Some(1500.0));
    }

    #[test]
    fn no_half_stage_when_nothing_was_sustained() {
        assert_eq!(half_rate(&[stage(1000.0, 0.5, 2.0, 1.0)]), None);
        assert_eq!(half_rate(&[]), None);
    }
}
