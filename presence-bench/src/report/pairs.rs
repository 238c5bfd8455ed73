//! The section "Before and after", from a run of `presence-bench/pairs.sh`.

use std::collections::BTreeMap;
use std::path::Path;

use super::summary::Summary;
use super::text::{self, int, num};
use super::{load_tags, read_json, report_problems, sustained, Page, SUSTAINED_RATIO};
use crate::stats::{Report, StageReport};

/// One figure of one report: a value (or two, `p50 / p99`), its decimals, and what else
/// to say about it.
#[derive(Debug, Clone)]
struct Figure {
    values: Vec<f64>,
    digits: usize,
    tags: Vec<String>,
}

fn fig(values: Vec<f64>, digits: usize, tags: Vec<String>) -> Figure {
    Figure {
        values,
        digits,
        tags,
    }
}

/// Figures by name, in the order they were first named.
#[derive(Debug, Default)]
struct Figures(Vec<(String, Figure)>);

impl Figures {
    fn set(&mut self, name: String, f: Figure) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, old)) => *old = f,
            None => self.0.push((name, f)),
        }
    }

    fn get(&self, name: &str) -> Option<&Figure> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, f)| f)
    }
}

fn stage_tags(s: &StageReport) -> Vec<String> {
    let mut tags = Vec::new();
    if s.ratio < SUSTAINED_RATIO {
        tags.push(format!("ratio {:.4}", s.ratio));
    } else if !sustained(s) {
        tags.push("not sustained".to_owned());
    }
    tags.extend(load_tags(s));
    tags
}

/// The figures of one report for one row; the names carry ↓ (lower is better) or ↑.
fn figures(row: &str, r: Option<&Report>) -> Figures {
    let mut f = Figures::default();
    let Some(r) = r else { return f };
    match row {
        "idle" | "idle-bare" => {
            let c = &r.connections;
            let place = if row == "idle" {
                "rooms of 20"
            } else {
                "no room"
            };
            let failed = if c.failed > 0 {
                vec![format!("{} failed", int(c.failed))]
            } else {
                Vec::new()
            };
            if let Some(idle) = &r.idle {
                f.set(
                    format!("{row} ({place}): server RSS per connection, KiB ↓"),
                    fig(vec![idle.server_rss_per_conn_bytes / 1024.0], 2, vec![]),
                );
                f.set(
                    format!("{row} ({place}): kernel per connection (est.), KiB ↓"),
                    fig(vec![idle.kernel_per_conn_bytes_est / 1024.0], 2, vec![]),
                );
            }
            f.set(
                format!("{row} ({place}): connects/s ↑"),
                fig(vec![c.connects_per_s], 0, failed),
            );
            f.set(
                format!("{row} ({place}): server CPU per 1k connects, ms ↓"),
                fig(vec![c.server_cpu_ms_per_1k_connects], 1, vec![]),
            );
        }
        "typing" | "churn" => {
            for s in &r.stages {
                let at = format!("{row} at {}/s", num(s.rate_per_s, 0));
                f.set(
                    format!("{at}: deliveries per server CPU-s ↑"),
                    fig(vec![s.deliveries_per_server_cpu_s], 0, stage_tags(s)),
                );
                f.set(
                    format!("{at}: latency p50 / p99, ms ↓"),
                    fig(vec![s.latency.p50_ms, s.latency.p99_ms], 2, vec![]),
                );
            }
        }
        "cross-node-join" => {
            if let Some(jv) = &r.join_visible {
                let lat = &jv.latency;
                let seen = if jv.seen >= jv.probes {
                    Vec::new()
                } else {
                    vec![format!("{} of {} seen", int(jv.seen), int(jv.probes))]
                };
                f.set(
                    "join on one node seen on another: p50 / p99, ms ↓".to_owned(),
                    fig(vec![lat.p50_ms, lat.p99_ms], 1, seen),
                );
                f.set(
                    "join on one node seen on another: max, ms ↓".to_owned(),
                    fig(vec![lat.max_ms], 1, vec![]),
                );
            }
        }
        _ => {}
    }
    f
}

fn cell(v: Option<&Figure>) -> String {
    let Some(v) = v else { return "–".to_owned() };
    let values: Vec<String> = v.values.iter().map(|x| num(*x, v.digits)).collect();
    let mut out = values.join(" / ");
    if !v.tags.is_empty() {
        out.push_str(&format!(" ({})", v.tags.join(", ")));
    }
    out
}

fn ratio_cell(b: Option<&Figure>, a: Option<&Figure>) -> String {
    let (Some(b), Some(a)) = (b, a) else {
        return "–".to_owned();
    };
    let ratios: Vec<String> = b
        .values
        .iter()
        .zip(&a.values)
        .map(|(b, a)| {
            if *b != 0.0 {
                format!("{:.2}×", a / b)
            } else {
                "–".to_owned()
            }
        })
        .collect();
    ratios.join(" / ")
}

pub fn render(p: &mut Page, dir: &Path) -> anyhow::Result<()> {
    let path = dir.join("summary.json");
    if !path.exists() {
        p.w("## Before and after");
        p.w("");
        p.w(format!(
            "(no pairs results: `{}` is missing)",
            text::relative(&path)
        ));
        p.w("");
        return Ok(());
    }
    let sm: Summary = read_json(&path)?;
    let mut reports: BTreeMap<(String, String), Report> = BTreeMap::new();
    let mut status: BTreeMap<(String, String), String> = BTreeMap::new();
    for m in &sm.measured {
        let key = (m.sha.clone(), m.row.clone());
        status.insert(key.clone(), m.status.clone());
        let rp = dir.join(&m.report);
        if rp.exists() {
            reports.insert(key, read_json(&rp)?);
        }
    }
    let (pm, x) = (&sm.params, &sm.params.cross_node);
    let rates = |v: &[f64]| v.iter().map(|r| num(*r, 0)).collect::<Vec<_>>().join(", ");
    p.w("## Before and after");
    p.w("");
    p.w(
        "Each performance change of `presence-bench/levers.tsv`, its commit's `presence-server` \
         against its parent's (or the commits the line names), built from each commit \
         (`cargo build --release -p presence-server --locked`) and loaded by one and the same \
         generator, the current one. Reproduce: `presence-bench/pairs.sh` (all pairs, mode full, \
         builds cached in `target/pairs/bin`), `presence-bench/pairs.sh --quick` (smaller), \
         `presence-bench/pairs.sh --only=1,6` (some lines), `presence-bench/pairs.sh --build-only` \
         (the binaries only, to measure later on a quiet machine).",
    );
    p.w("");
    p.w(format!(
        "- this run: `{}` (mode `{}`), started {}, {:.0} min with the builds; checkout (HEAD) \
         `{}`; raw reports and the exact commands (`<sha>-<row>.cmd`) in `{}`",
        sm.command.replace(&text::cwd_prefix(), ""),
        sm.mode,
        sm.started,
        sm.wall_s as f64 / 60.0,
        sm.checkout.chars().take(12).collect::<String>(),
        text::relative(dir)
    ));
    p.w(format!(
        "- **idle**: {} connections in rooms of {}, held {:.0} s; **idle-bare**: the same with \
         hello only (no room); **typing**: rooms of {}, {} events/s, {:.0} s stages, memory \
         store; **churn**: custom status seen as `room_diff`, Redis store, {} events/s; server \
         (and Redis) on CPU 0, generator on CPU 1, run.sh's server flags",
        int(pm.connections),
        pm.room_size,
        pm.hold_s,
        pm.room_size,
        rates(&pm.typing_rates),
        pm.stage_s,
        rates(&pm.churn_rates)
    ));
    p.w(format!(
        "- **cross-node-join**: {} nodes on one Redis, unpinned, {} connections over 3 \
         generators, typing at {} events/s for {:.0} s, then {} join probes at {:.0}/s \
         (each in a room of its own, seen on another node)",
        x.nodes,
        int(x.connections),
        rates(&x.rates),
        x.stage_s,
        x.probes,
        x.probe_rate
    ));
    p.w(
        "- each commit is measured once per row: where one change's *after* is the next one's \
         *before*, both tables show the same measurement. One run each, on a machine that may be \
         doing other work: differences of a few per cent are noise. Ratio = after ÷ before; \
         ↓ lower is better, ↑ higher is better.",
    );
    p.w("");
    let short = |s: &str| s.chars().take(9).collect::<String>();
    let not_measured = "not measured".to_owned();
    for pr in &sm.pairs {
        let (b, a) = (&pr.before_sha, &pr.after_sha);
        p.w(format!("### {}. {}", pr.line, pr.description));
        p.w("");
        p.w(format!(
            "`{}` (`{}`) → `{}` (`{}`)",
            pr.before,
            short(b),
            pr.after,
            short(a)
        ));
        p.w("");
        p.w("| figure | before | after | after ÷ before |");
        p.w("|---|---|---|---|");
        for row in &pr.rows {
            let kb = (b.clone(), row.clone());
            let ka = (a.clone(), row.clone());
            let fb = figures(row, reports.get(&kb));
            let fa = figures(row, reports.get(&ka));
            let mut names: Vec<&String> = fb.0.iter().map(|(n, _)| n).collect();
            names.extend(fa.0.iter().map(|(n, _)| n).filter(|n| fb.get(n).is_none()));
            if names.is_empty() {
                p.w(format!(
                    "| {row} | {} | {} | – |",
                    status.get(&kb).unwrap_or(&not_measured),
                    status.get(&ka).unwrap_or(&not_measured)
                ));
            }
            for n in names {
                p.w(format!(
                    "| {n} | {} | {} | {} |",
                    cell(fb.get(n)),
                    cell(fa.get(n)),
                    ratio_cell(fb.get(n), fa.get(n))
                ));
            }
        }
        p.w("");
    }
    let mut problems = Vec::new();
    for ((sha, row), st) in &status {
        match reports.get(&(sha.clone(), row.clone())) {
            Some(r) if st != "failed" => {
                problems.extend(report_problems(&format!("{sha} {row}"), r))
            }
            _ => problems.push(format!(
                "{sha} {row}: no report (see `{sha}-{row}.*` in the run directory)"
            )),
        }
    }
    p.list("What went wrong in the pairs run:", &problems);
    Ok(())
}
