//! `presence-bench report`: `docs/benchmarks.md` from the reports of one run of
//! `presence-bench/run.sh`, read with the types the generator writes them with.
//!
//! ```text
//! presence-bench report RESULTS_DIR [--mode full|quick] [--started TEXT] [--pairs DIR]
//! presence-bench report --pairs DIR      only the "Before and after" section
//! ```
//!
//! RESULTS_DIR holds `rows.tsv` (row name, description), `<row>.json` (the generator's
//! report, merged when there were several generators; `write-floor`'s report for that
//! row) and `<row>.cmd` (the exact commands). `--pairs DIR` is a run of
//! `presence-bench/pairs.sh`: `summary.json` and `<sha>-<row>.json`. The page goes to
//! stdout. The targets it holds the figures against are data: `targets.json`.

mod floor;
mod machine;
mod page;
mod pairs;
pub mod summary;
mod targets;
mod text;
mod versus;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::floor::FloorReport;
use crate::stats::{Report, StageReport};

pub use targets::Targets;

#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// A run of run.sh (omit with --pairs: only that section).
    pub dir: Option<PathBuf>,
    #[arg(long, default_value = "full")]
    pub mode: String,
    #[arg(long, default_value = "")]
    pub started: String,
    #[arg(long, default_value = "")]
    pub note: String,
    #[arg(long, default_value = "target/criterion")]
    pub criterion: PathBuf,
    /// A run of presence-bench/pairs.sh: adds the section "Before and after".
    #[arg(long)]
    pub pairs: Option<PathBuf>,
    /// The machine's fields (cores, model, memory, kernel, rustc, node, redis) as JSON,
    /// instead of this machine's.
    #[arg(long)]
    pub machine: Option<PathBuf>,
    /// Another targets file (default: the `presence-bench/targets.json` built in).
    #[arg(long)]
    pub targets: Option<PathBuf>,
}

pub use crate::stats::{SUSTAINED_LAG_MS, SUSTAINED_P99_MS, SUSTAINED_RATIO};

/// The page, a line at a time.
#[derive(Debug, Default)]
pub struct Page(Vec<String>);

impl Page {
    pub fn w(&mut self, line: impl Into<String>) {
        self.0.push(line.into());
    }

    /// `heading`, then `items` as a bulleted list; nothing when there are none.
    pub fn list(&mut self, heading: &str, items: &[String]) {
        if items.is_empty() {
            return;
        }
        self.w(heading);
        self.w("");
        for item in items {
            self.w(format!("- {item}"));
        }
        self.w("");
    }

    pub fn text(&self) -> String {
        self.0.join("\n") + "\n"
    }
}

pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The first item with the largest key (as Python's `max` picks).
fn first_max<'a, T>(
    items: impl IntoIterator<Item = &'a T>,
    key: impl Fn(&T) -> f64,
) -> Option<&'a T> {
    let mut best: Option<(&T, f64)> = None;
    for item in items {
        let k = key(item);
        if best.is_none_or(|(_, b)| k > b) {
            best = Some((item, k));
        }
    }
    best.map(|(item, _)| item)
}

/// The first item with the smallest key.
fn first_min<'a, T>(
    items: impl IntoIterator<Item = &'a T>,
    key: impl Fn(&T) -> f64,
) -> Option<&'a T> {
    first_max(items, |t| -key(t))
}

pub fn sustained(s: &StageReport) -> bool {
    s.sustained()
}

/// The sustained stage (not the ½-max rerun) with the most deliveries per second.
pub fn best_stage(r: &Report) -> Option<&StageReport> {
    let good: Vec<&StageReport> = r
        .stages
        .iter()
        .filter(|s| sustained(s) && !s.half_of_max)
        .collect();
    first_max(good, |s| s.deliveries_per_s)
}

/// The stage with the most deliveries per server CPU-second: among the sustained
/// stages (nothing lost, short tail), else among those that lost nothing. An overloaded
/// server batches frames into fewer writes and looks cheaper per delivery while its
/// latency runs to seconds, so overloaded stages only count when nothing else does.
pub fn best_lossless(r: &Report) -> Option<&StageReport> {
    let stages: Vec<&StageReport> = r.stages.iter().filter(|s| s.server_cpu_s > 0.0).collect();
    let mut good: Vec<&StageReport> = stages.iter().copied().filter(|s| sustained(s)).collect();
    if good.is_empty() {
        good = stages
            .into_iter()
            .filter(|s| s.ratio >= SUSTAINED_RATIO)
            .collect();
    }
    first_max(good, |s| s.deliveries_per_server_cpu_s)
}

pub fn at(s: &StageReport) -> String {
    let over = if sustained(s) { "" } else { ", overloaded" };
    format!("at {}/s{over}", text::num(s.rate_per_s, 0))
}

pub fn half_stage(r: &Report) -> Option<&StageReport> {
    r.stages.iter().find(|s| s.half_of_max)
}

pub fn gen_bound(s: &StageReport) -> bool {
    s.window_s > 0.0 && s.generator_cpu_s / s.window_s >= 0.9
}

/// What else bounded a stage: the generator's core, or other work on the machine.
pub fn load_tags(s: &StageReport) -> Vec<String> {
    let mut tags = Vec::new();
    if gen_bound(s) {
        tags.push("generator-bound".to_owned());
    }
    if s.window_s > 0.0 && s.other_cpu_s / s.window_s >= 0.25 {
        tags.push("noisy".to_owned());
    }
    tags
}

/// What went wrong in one generator report: failures, drops, errors, warnings.
pub fn report_problems(label: &str, r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    if r.connections.failed > 0 {
        out.push(format!(
            "{label}: connect failures {}",
            text::map(&r.connections.failures)
        ));
    }
    if !r.disconnects.is_empty() {
        out.push(format!(
            "{label}: connections dropped {}",
            text::map(&r.disconnects)
        ));
    }
    if !r.errors.is_empty() {
        out.push(format!("{label}: error frames {}", text::map(&r.errors)));
    }
    for w in &r.warnings {
        out.push(format!("{label}: {w}"));
    }
    out
}

/// What one run directory holds.
#[derive(Debug, Default)]
pub struct Run {
    /// (row name, description), in the order the matrix ran them.
    pub rows: Vec<(String, String)>,
    /// The generator's report of each row that has one.
    pub reports: BTreeMap<String, Report>,
    /// The `write-floor` rows' reports (a report of their own kind).
    pub floors: BTreeMap<String, FloorReport>,
}

impl Run {
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let tsv = dir.join("rows.tsv");
        let text =
            std::fs::read_to_string(&tsv).with_context(|| format!("reading {}", tsv.display()))?;
        let mut run = Self::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (name, desc) = line
                .split_once('\t')
                .with_context(|| format!("{}: want NAME<TAB>DESCRIPTION: {line}", tsv.display()))?;
            run.rows.push((name.to_owned(), desc.to_owned()));
        }
        for (name, _) in &run.rows {
            let path = dir.join(format!("{name}.json"));
            if !path.exists() {
                continue;
            }
            let value: serde_json::Value = read_json(&path)?;
            if value.get("kind").and_then(|k| k.as_str()) == Some("write-floor") {
                let floor = serde_json::from_value(value)
                    .with_context(|| format!("parsing {}", path.display()))?;
                run.floors.insert(name.clone(), floor);
            } else {
                let report = serde_json::from_value(value)
                    .with_context(|| format!("parsing {}", path.display()))?;
                run.reports.insert(name.clone(), report);
            }
        }
        Ok(run)
    }
}

/// Writes the page to stdout.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let page = render(&args)?;
    print!("{page}");
    Ok(())
}

/// The page for `args`.
pub fn render(args: &ReportArgs) -> anyhow::Result<String> {
    let mut p = Page::default();
    let Some(dir) = &args.dir else {
        let Some(pairs) = &args.pairs else {
            anyhow::bail!("give a run directory, --pairs DIR, or both");
        };
        pairs::render(&mut p, pairs)?;
        return Ok(p.text());
    };
    let targets = Targets::load(args.targets.as_deref())?;
    let run = Run::load(dir)?;
    let machine = match &args.machine {
        Some(path) => read_json(path)?,
        None => machine::Machine::here(),
    };
    page::render(&mut p, args, dir, &run, &machine, &targets)?;
    Ok(p.text())
}
