//! `summary.json` of a `presence-bench/pairs.sh` run: what was paired, measured and
//! built. `presence-bench pairs-summary` writes it (from the files pairs.sh leaves in its
//! directory: `pairs.tsv`, `measured.tsv`, `builds.txt`); `report --pairs` reads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// `pairs`.
    pub kind: String,
    pub mode: String,
    pub started: String,
    /// The commit checked out where pairs.sh ran (HEAD).
    pub checkout: String,
    pub wall_s: u64,
    pub command: String,
    pub params: Params,
    pub pairs: Vec<Pair>,
    pub measured: Vec<Measured>,
    /// Seconds each commit's build took, or `cached`.
    pub builds_s: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Params {
    pub connections: u64,
    pub room_size: u64,
    pub hold_s: f64,
    pub stage_s: f64,
    pub typing_rates: Vec<f64>,
    pub churn_rates: Vec<f64>,
    pub cross_node: CrossNode,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrossNode {
    pub nodes: u64,
    pub connections: u64,
    pub rates: Vec<f64>,
    pub stage_s: f64,
    pub probes: u64,
    pub probe_rate: f64,
}

/// One line of levers.tsv.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pair {
    pub line: u64,
    pub before: String,
    pub after: String,
    pub before_sha: String,
    pub after_sha: String,
    pub description: String,
    pub rows: Vec<String>,
}

/// One measurement: a commit's server on one row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    pub sha: String,
    pub row: String,
    /// `ok`, `kept` (an earlier report in the directory) or `failed`.
    pub status: String,
    pub seconds: u64,
    /// `<sha>-<row>.json`, in the run directory.
    pub report: String,
}

/// `presence-bench pairs-summary`: the arguments are pairs.sh's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct SummaryArgs {
    /// The run directory (holds pairs.tsv, measured.tsv, builds.txt; gets summary.json).
    pub dir: PathBuf,
    #[arg(long)]
    pub mode: String,
    #[arg(long, default_value = "")]
    pub started: String,
    #[arg(long)]
    pub checkout: String,
    #[arg(long)]
    pub wall_s: u64,
    /// pairs.sh's own arguments.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub args: String,
    #[arg(long)]
    pub connections: u64,
    #[arg(long)]
    pub hold_s: f64,
    #[arg(long)]
    pub stage_s: f64,
    #[arg(long, value_delimiter = ',')]
    pub typing_rates: Vec<f64>,
    #[arg(long, value_delimiter = ',')]
    pub churn_rates: Vec<f64>,
    #[arg(long)]
    pub xnode_connections: u64,
    #[arg(long, value_delimiter = ',')]
    pub xnode_rates: Vec<f64>,
    #[arg(long)]
    pub xnode_stage_s: f64,
    #[arg(long)]
    pub probes: u64,
    #[arg(long)]
    pub probe_rate: f64,
}

fn lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect())
}

fn fields<const N: usize>(path: &Path, line: &str) -> anyhow::Result<[String; N]> {
    let parts: Vec<String> = line.split('\t').map(str::to_owned).collect();
    parts.try_into().map_err(|p: Vec<String>| {
        anyhow::anyhow!(
            "{}: want {N} tab-separated fields, got {}: {line}",
            path.display(),
            p.len()
        )
    })
}

impl Summary {
    pub fn from_dir(a: &SummaryArgs) -> anyhow::Result<Self> {
        let path = a.dir.join("pairs.tsv");
        let mut pairs = Vec::new();
        for line in lines(&path)? {
            let [no, before, after, before_sha, after_sha, description, rows] =
                fields(&path, &line)?;
            pairs.push(Pair {
                line: no
                    .parse()
                    .with_context(|| format!("{}: {line}", path.display()))?,
                before,
                after,
                before_sha,
                after_sha,
                description,
                rows: rows.split(',').map(str::to_owned).collect(),
            });
        }
        let path = a.dir.join("measured.tsv");
        let mut measured = Vec::new();
        for line in lines(&path)? {
            let [sha, row, status, seconds] = fields(&path, &line)?;
            measured.push(Measured {
                report: format!("{sha}-{row}.json"),
                seconds: seconds
                    .parse()
                    .with_context(|| format!("{}: {line}", path.display()))?,
                sha,
                row,
                status,
            });
        }
        let path = a.dir.join("builds.txt");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut builds_s = BTreeMap::new();
        for item in text.split_whitespace() {
            let (sha, s) = item
                .split_once('=')
                .with_context(|| format!("{}: want SHA=SECONDS: {item}", path.display()))?;
            builds_s.insert(sha.to_owned(), s.to_owned());
        }
        Ok(Self {
            kind: "pairs".to_owned(),
            mode: a.mode.clone(),
            started: a.started.clone(),
            checkout: a.checkout.clone(),
            wall_s: a.wall_s,
            command: format!("presence-bench/pairs.sh {}", a.args)
                .trim()
                .to_owned(),
            params: Params {
                connections: a.connections,
                room_size: 20,
                hold_s: a.hold_s,
                stage_s: a.stage_s,
                typing_rates: a.typing_rates.clone(),
                churn_rates: a.churn_rates.clone(),
                cross_node: CrossNode {
                    nodes: 3,
                    connections: a.xnode_connections,
                    rates: a.xnode_rates.clone(),
                    stage_s: a.xnode_stage_s,
                    probes: a.probes,
                    probe_rate: a.probe_rate,
                },
            },
            pairs,
            measured,
            builds_s,
        })
    }
}

/// Writes DIR/summary.json.
pub fn run(a: &SummaryArgs) -> anyhow::Result<()> {
    let summary = Summary::from_dir(a)?;
    let path = a.dir.join("summary.json");
    let json = serde_json::to_string_pretty(&summary)?;
    std::fs::write(&path, json + "\n").with_context(|| format!("writing {}", path.display()))
}
