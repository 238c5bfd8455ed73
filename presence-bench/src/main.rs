//! `presence-bench`: the load generator of presence, and the merge of its reports.
//!
//! - `presence-bench run --scenario …` drives N real WebSocket connections that speak
//!   presence's protocol (or the Socket.IO baseline's) and prints a JSON report.
//! - `presence-bench merge a.json b.json …` merges the reports of the shards of one
//!   run (several generator processes: a process may hold at most 20,000 files here).
//! - `presence-bench token --user u1` prints a token signed with the secret.
//! - `presence-bench write-floor` measures the kernel's floor: the writer's CPU per small
//!   `write()` to loopback TCP sockets read by tokio tasks (`floor.rs`).
//! - `presence-bench report RESULTS_DIR` writes `docs/benchmarks.md` from the reports of
//!   one run of `run.sh` (and of `pairs.sh`: `--pairs DIR`) (`report/`);
//!   `presence-bench pairs-summary DIR` writes a `pairs.sh` run's `summary.json`.
//!
//! How scenarios, schedules and matching work: `layout.rs`. What a report holds:
//! `stats.rs`. How to run the whole matrix: `presence-bench/run.sh`.

mod barrier;
mod conn;
mod floor;
mod layout;
mod report;
mod run;
mod stats;
mod sys;
mod wire;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "presence-bench",
    version,
    about = "Load generator for presence and its Socket.IO baseline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one scenario (one shard of it) and write its JSON report.
    Run(Box<run::RunArgs>),
    /// Merge the reports of the shards of one run into one report.
    Merge {
        files: Vec<PathBuf>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The kernel's floor: writer CPU per small write() to loopback TCP sockets whose
    /// readers are tokio tasks, at several rates; writes its JSON report.
    WriteFloor(Box<floor::FloorArgs>),
    /// The reader side of `write-floor` (started by it).
    #[command(hide = true)]
    FloorReader(floor::ReaderArgs),
    /// Write the benchmarks page (docs/benchmarks.md) from the reports of a run of
    /// run.sh, and/or the "Before and after" section from a run of pairs.sh.
    Report(Box<report::ReportArgs>),
    /// Write summary.json of a run of pairs.sh (started by it).
    #[command(hide = true)]
    PairsSummary(Box<report::summary::SummaryArgs>),
    /// Print an HS256 token for a user.
    Token {
        #[arg(long, env = "PRESENCE_JWT_SECRET", hide_env_values = true)]
        secret: String,
        #[arg(long)]
        user: String,
    },
}

fn write(out: Option<&PathBuf>, report: &impl serde::Serialize) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(report)?;
    match out {
        Some(path) => {
            std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
        }
        None => {
            println!("{json}");
            Ok(())
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            let runtime = sys::runtime(args.threads)?;
            let max = std::time::Duration::from_secs_f64(args.max_run_s + 60.0);
            let out = args.out.clone();
            let require_all = args.require_all;
            let report = runtime.block_on(async move {
                tokio::time::timeout(max, run::run(*args))
                    .await
                    .context("the run did not end within --max-run-s (+60 s)")?
            })?;
            write(out.as_ref(), &report)?;
            // Tasks still stuck on dead sockets must not hold the process.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            let problems = report.problems();
            if require_all && !problems.is_empty() {
                anyhow::bail!("the run lost something:\n  {}", problems.join("\n  "));
            }
            Ok(())
        }
        Command::WriteFloor(args) => {
            let out = args.out.clone();
            let report = floor::run(*args)?;
            write(out.as_ref(), &report)
        }
        Command::FloorReader(args) => floor::reader(args),
        Command::Report(args) => report::run(*args),
        Command::PairsSummary(args) => report::summary::run(&args),
        Command::Merge { files, out } => {
            let mut reports = Vec::new();
            for f in &files {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("reading {}", f.display()))?;
                reports.push(
                    serde_json::from_str(&text)
                        .with_context(|| format!("parsing {}", f.display()))?,
                );
            }
            write(out.as_ref(), &stats::Report::merge(reports)?)
        }
        Command::Token { secret, user } => {
            #[derive(serde::Serialize)]
            struct Claims<'a> {
                sub: &'a str,
                exp: u64,
            }
            let token = jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &Claims {
                    sub: &user,
                    exp: sys::now_us() / 1_000_000 + 24 * 3600,
                },
                &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            )?;
            println!("{token}");
            Ok(())
        }
    }
}
