//! The orchestrator: connects this shard's connections, runs the scenario's phases
//! (hold, stages of scheduled events, a reconnect storm, join probes), reads `/proc`
//! around each phase, and builds the report. Every phase is bounded in count and in
//! time.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::barrier;
use crate::conn::{self, Cmd, Ctx};
use crate::layout::{EventKind, Layout};
use crate::stats::{lock, ConnReport, GenReport, IdleReport, Latency, ProcUse, Report, Stats};
use crate::sys::{self, now_us, CpuSnapshot};
use crate::wire::Dialect;

mod rates;
mod stages;

use rates::Rates;
use stages::{run_probes, run_storm};

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Connect, then hold: memory and CPU per idle connection.
    Idle,
    /// Rooms of `--room-size`, typing starts/stops at `--rate` per second.
    Typing,
    /// Custom-status changes at `--rate` per second, seen as `room_diff` updates.
    Churn,
    /// Every connection drops and reconnects within `--reconnect-window-s`.
    Reconnect,
    /// One room of all connections; `--senders` of them type.
    LargeRoom,
    /// Typing over several `--url` nodes, then join probes across nodes.
    CrossNode,
}

/// The `run` subcommand's options.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    #[arg(long, value_enum, default_value = "presence")]
    pub dialect: Dialect,
    /// Server WebSocket URL; repeat for several nodes (connection g uses node g % nodes).
    /// For `--dialect socketio`, the server's base URL (`ws://127.0.0.1:3000`).
    #[arg(long = "url", default_value = "ws://127.0.0.1:8080/v1/ws")]
    pub urls: Vec<String>,
    /// HS256 secret the servers verify tokens with (tokens are signed here, no
    /// `/dev/token` round trips).
    #[arg(long, env = "PRESENCE_JWT_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Connections in the whole run, all shards together.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Members per room (0: no room). Default 20; `large-room`: every connection.
    #[arg(long)]
    pub room_size: Option<usize>,
    /// Events per second, one stage per value (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    pub rate: Vec<f64>,
    /// Length of each stage (s).
    #[arg(long, default_value_t = 10.0)]
    pub stage_s: f64,
    /// After the stages, run one at half the highest rate that was sustained (every
    /// event delivered, p99 ≤ 50 ms, the generator on time). One shard only.
    #[arg(long)]
    pub auto_half: bool,
    /// At most this many distinct senders (default: every member; large-room: 20).
    #[arg(long)]
    pub senders: Option<usize>,
    /// Idle hold, and settling time before a reconnect storm (s).
    #[arg(long, default_value_t = 10.0)]
    pub hold_s: f64,
    /// Connects in flight at once, per process.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// Connect at most this many per second per process (0: as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    pub connect_rate: f64,
    /// Source addresses to bind before connecting (127.0.0.x); repeatable.
    #[arg(long = "source-ip")]
    pub source_ips: Vec<Ipv4Addr>,
    /// This process's part of the run: `i/n` drives connections g with g % n == i.
    #[arg(long, default_value = "0/1")]
    pub shard: String,
    /// Directory where the shards of one run meet before each phase (fresh per run).
    #[arg(long)]
    pub barrier_dir: Option<PathBuf>,
    #[arg(long, default_value_t = 180.0)]
    pub barrier_timeout_s: f64,
    /// A server process to read CPU and RSS of; repeatable.
    #[arg(long = "server-pid")]
    pub server_pids: Vec<u32>,
    /// A Redis process to read CPU and RSS of; repeatable.
    #[arg(long = "redis-pid")]
    pub redis_pids: Vec<u32>,
    /// Generator worker threads (1: a single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// After a stage, wait at most this long for the last deliveries (s).
    #[arg(long, default_value_t = 10.0)]
    pub drain_max_s: f64,
    /// Reconnect storm: every connection drops and reconnects within this window (s).
    #[arg(long, default_value_t = 10.0)]
    pub reconnect_window_s: f64,
    /// After the storm, keep watching for leaves this long (the grace period + 1 s).
    #[arg(long, default_value_t = 6.0)]
    pub flap_watch_s: f64,
    /// Cross-node join probes.
    #[arg(long, default_value_t = 200)]
    pub probes: usize,
    #[arg(long, default_value_t = 50.0)]
    pub probe_rate: f64,
    #[arg(long, default_value_t = 30.0)]
    pub handshake_timeout_s: f64,
    /// The whole run is abandoned after this long (s).
    #[arg(long, default_value_t = 900.0)]
    pub max_run_s: f64,
    /// Write the JSON report here (default: stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A free label copied into the report.
    #[arg(long)]
    pub label: Option<String>,
    /// Exit with an error (after writing the report) unless every connection was
    /// established and stayed up, and every stage delivered every event and nothing
    /// unexpected: the smoke test's verdict.
    #[arg(long)]
    pub require_all: bool,
}

struct Watched {
    pids: Vec<u32>,
    roles: Vec<&'static str>,
}

impl Watched {
    fn uses(&self, cpu_before: &CpuSnapshot, rss_before: &[u64]) -> Vec<ProcUse> {
        let after = CpuSnapshot::take(&self.pids);
        after
            .since(cpu_before)
            .into_iter()
            .zip(&self.roles)
            .zip(rss_before)
            .map(|(((pid, cpu_s), role), before)| ProcUse {
                pid,
                role: (*role).to_owned(),
                cpu_s,
                rss_before_kb: *before,
                rss_after_kb: sys::rss_kb(pid).unwrap_or(0),
            })
            .collect()
    }

    fn rss(&self) -> Vec<u64> {
        self.pids
            .iter()
            .map(|&p| sys::rss_kb(p).unwrap_or(0))
            .collect()
    }
}

fn parse_shard(s: &str) -> anyhow::Result<(usize, usize)> {
    let (i, n) = s.split_once('/').context("--shard is i/n")?;
    let (i, n): (usize, usize) = (i.parse()?, n.parse()?);
    anyhow::ensure!(n >= 1 && i < n, "--shard {s}: need 0 <= i < n");
    Ok((i, n))
}

async fn resolve(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("ws://")
        .with_context(|| format!("{url}: only ws:// URLs"))?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    tokio::net::lookup_host(hostport)
        .await?
        .find(SocketAddr::is_ipv4)
        .with_context(|| format!("{url}: no IPv4 address"))
}

/// This shard's connections and their command channels.
struct Conns {
    tx: Vec<Option<mpsc::UnboundedSender<Cmd>>>,
    connected: Vec<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Conns {
    fn send(&self, layout: &Layout, g: usize, cmd: Cmd) -> bool {
        self.tx
            .get(g / layout.shards)
            .and_then(Option::as_ref)
            .is_some_and(|tx| tx.send(cmd).is_ok())
    }

    fn connected(&self, layout: &Layout, g: usize) -> bool {
        layout.owns(g)
            && self
                .connected
                .get(g / layout.shards)
                .copied()
                .unwrap_or(false)
    }
}

/// Runs a whole scenario for this shard and returns its report.
pub async fn run(args: RunArgs) -> anyhow::Result<Report> {
    let started = Instant::now();
    let started_at_ms = now_us() / 1000;
    let (shard, shards) = parse_shard(&args.shard)?;
    let nodes = args.urls.len();
    anyhow::ensure!(nodes >= 1, "give at least one --url");
    let mut warnings = Vec::new();
    let scenario = args.scenario;
    if args.dialect == Dialect::Socketio
        && matches!(scenario, Scenario::Churn | Scenario::Reconnect)
    {
        anyhow::bail!("the Socket.IO baseline supports idle, typing, large-room and cross-node");
    }
    let room_size = match (scenario, args.room_size) {
        (Scenario::LargeRoom, r) => r.unwrap_or(args.connections),
        (_, Some(r)) => r,
        (_, None) => 20,
    };
    let mut n = args.connections;
    if room_size > 0 && n % room_size != 0 {
        n -= n % room_size;
        warnings.push(format!(
            "connections rounded down to {n}, a multiple of the room size"
        ));
    }
    anyhow::ensure!(n >= 2, "need at least 2 connections");
    let events = matches!(
        scenario,
        Scenario::Typing | Scenario::Churn | Scenario::LargeRoom | Scenario::CrossNode
    );
    anyhow::ensure!(
        !events || room_size >= 2,
        "this scenario needs rooms of 2 or more"
    );
    let layout = Layout {
        n,
        room_size,
        nodes,
        shard,
        shards,
        source_ips: args.source_ips.len(),
    };
    let mut resolved = Vec::new();
    for url in &args.urls {
        resolved.push((url.clone(), resolve(url).await?));
    }
    let probe_count =
        if scenario == Scenario::CrossNode && args.dialect == Dialect::Presence && nodes >= 2 {
            args.probes.min(n / 2)
        } else {
            0
        };
    let ctx = Arc::new(Ctx {
        dialect: args.dialect,
        layout: layout.clone(),
        nodes: resolved,
        source_ips: args.source_ips.clone(),
        secret: args.secret.clone(),
        handshake_timeout: Duration::from_secs_f64(args.handshake_timeout_s),
        stats: Stats::default(),
        stage: RwLock::new(None),
        probes: RwLock::new(None),
        probe_count,
        storm: AtomicBool::new(false),
    });
    let watched = Watched {
        pids: args
            .server_pids
            .iter()
            .chain(&args.redis_pids)
            .copied()
            .collect(),
        roles: args
            .server_pids
            .iter()
            .map(|_| "server")
            .chain(args.redis_pids.iter().map(|_| "redis"))
            .collect(),
    };
    let barrier_timeout = Duration::from_secs_f64(args.barrier_timeout_s);
    let meet = |name: &'static str| {
        barrier::wait(
            args.barrier_dir.as_deref(),
            name,
            shard,
            shards,
            barrier_timeout,
        )
    };

    // --- Connect ---------------------------------------------------------------------
    let kernel_before = sys::kernel_mem();
    let rss_before = watched.rss();
    let cpu_before = CpuSnapshot::take(&watched.pids);
    let connect_start = Instant::now();
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let local: Vec<usize> = layout.local().collect();
    let mut conns = Conns {
        tx: Vec::with_capacity(local.len()),
        connected: Vec::with_capacity(local.len()),
        tasks: Vec::with_capacity(local.len()),
    };
    let mut readies = Vec::with_capacity(local.len());
    for (i, &g) in local.iter().enumerate() {
        if args.connect_rate > 0.0 {
            let at = connect_start + Duration::from_secs_f64(i as f64 / args.connect_rate);
            tokio::time::sleep_until(at.into()).await;
        }
        let permit = gate.clone().acquire_owned().await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        conns.tasks.push(tokio::spawn(conn::run(
            ctx.clone(),
            g,
            rx,
            ready_tx,
            permit,
        )));
        conns.tx.push(Some(tx));
        readies.push(ready_rx);
    }
    for ready in readies {
        conns.connected.push(ready.await.unwrap_or(false));
    }
    let connect_wall = connect_start.elapsed().as_secs_f64();
    let connect_procs = watched.uses(&cpu_before, &rss_before);
    let established = conns.connected.iter().filter(|c| **c).count() as u64;
    eprintln!(
        "presence-bench shard {shard}/{shards}: {established} of {} connected in {connect_wall:.1} s",
        local.len()
    );
    let mut report = Report {
        tool: format!("presence-bench {}", env!("CARGO_PKG_VERSION")),
        label: args.label.clone(),
        scenario: format!("{scenario:?}").to_lowercase(),
        dialect: format!("{:?}", args.dialect).to_lowercase(),
        urls: args.urls.clone(),
        shards,
        shard: Some(shard),
        params: serde_json::json!({
            "connections": n,
            "room_size": room_size,
            "rates": args.rate,
            "stage_s": args.stage_s,
            "senders": args.senders,
            "hold_s": args.hold_s,
            "connect_concurrency": args.connect_concurrency,
            "connect_rate": args.connect_rate,
            "source_ips": args.source_ips,
            "threads": args.threads,
            "reconnect_window_s": args.reconnect_window_s,
            "probes": probe_count,
            "probe_rate": args.probe_rate,
        }),
        started_at_ms,
        ..Report::default()
    };
    report.connections = ConnReport {
        target: local.len() as u64,
        established,
        failed: local.len() as u64 - established,
        failures: lock(&ctx.stats.failures).clone(),
        wall_s: connect_wall,
        upgrade: Latency::of(&lock(&ctx.stats.upgrade)),
        handshake: Latency::of(&lock(&ctx.stats.handshake)),
        procs: connect_procs,
        ..ConnReport::default()
    };

    meet("setup").await?;

    // --- The scenario ----------------------------------------------------------------
    match scenario {
        Scenario::Idle => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let cpu = CpuSnapshot::take(&watched.pids);
            tokio::time::sleep(Duration::from_secs_f64(args.hold_s)).await;
            report.idle = Some(IdleReport {
                hold_s: args.hold_s,
                procs: watched.uses(&cpu, &rss_before),
                kernel_before,
                kernel_after: sys::kernel_mem(),
                ..IdleReport::default()
            });
        }
        Scenario::Typing | Scenario::Churn | Scenario::LargeRoom | Scenario::CrossNode => {
            let kind = if scenario == Scenario::Churn {
                EventKind::Custom
            } else {
                EventKind::Typing
            };
            let max_senders = args
                .senders
                .unwrap_or(if scenario == Scenario::LargeRoom {
                    20
                } else {
                    usize::MAX
                })
                .min(layout.max_senders());
            let rates = Rates {
                kind,
                max_senders,
                shard,
                shards,
                barrier_timeout,
                started,
            };
            let (stages, more) = rates::run(&ctx, &conns, &watched, &args, &rates).await?;
            report.stages = stages;
            warnings.extend(more);
            if probe_count > 0 {
                report.join_visible =
                    Some(run_probes(&ctx, &conns, &args, meet("probes").await?).await);
            }
        }
        Scenario::Reconnect => {
            tokio::time::sleep(Duration::from_secs_f64(args.hold_s)).await;
            ctx.storm.store(true, Ordering::Relaxed);
            let t0 = meet("storm").await?;
            report.reconnect = Some(run_storm(&ctx, &conns, &args, t0, &watched).await);
            ctx.storm.store(false, Ordering::Relaxed);
        }
    }

    // --- End -------------------------------------------------------------------------
    let _ = meet("done").await;
    for tx in conns.tx.iter().flatten() {
        let _ = tx.send(Cmd::Close);
    }
    let closing = futures_util::future::join_all(conns.tasks);
    // Closing is not measured; a server busy ending sessions (Redis round trips for
    // each) may take long to answer the close frames, and the OS drops what is left.
    if tokio::time::timeout(Duration::from_secs(15), closing)
        .await
        .is_err()
    {
        warnings.push("closing: some close handshakes were unanswered after 15 s".to_owned());
    }
    report.connections.failures = lock(&ctx.stats.failures).clone();
    report.disconnects = lock(&ctx.stats.disconnects).clone();
    report.errors = lock(&ctx.stats.errors).clone();
    report.other_frames = lock(&ctx.stats.other).clone();
    report.generator = GenReport {
        threads: args.threads,
        cpu_s: sys::cpu_s(0).unwrap_or(0.0),
        rss_kb: sys::rss_kb(0).unwrap_or(0),
        wall_s: started.elapsed().as_secs_f64(),
    };
    report.warnings = warnings;
    report.derive();
    Ok(report)
}
