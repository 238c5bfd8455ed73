//! The page of one run: machine, method, connections, stages, then the comparisons
//! (`versus.rs`), the kernel's floor (`floor.rs`), the pairs, what went wrong, the
//! microbenchmarks and the exact commands.

use std::path::Path;

use super::machine::Machine;
use super::text::{self, int, num};
use super::{
    floor, load_tags, pairs, read_json, report_problems, sustained, versus, Page, ReportArgs, Run,
    Targets, SUSTAINED_LAG_MS, SUSTAINED_P99_MS, SUSTAINED_RATIO,
};

pub fn render(
    p: &mut Page,
    args: &ReportArgs,
    dir: &Path,
    run: &Run,
    m: &Machine,
    targets: &Targets,
) -> anyhow::Result<()> {
    header(p, args, dir, m);
    connections(p, run);
    stages(p, run);
    reconnect(p, run);
    versus::baseline(p, run);
    let ours = run
        .reports
        .get("typing-ours")
        .and_then(super::best_lossless);
    let floor = floor::render(p, run, ours);
    versus::targets(p, run, floor, targets);
    if let Some(pairs) = &args.pairs {
        pairs::render(p, pairs)?;
    }
    floor::bounds(p, run, floor, targets);
    floor::profiles(p, dir)?;
    problems(p, run);
    micro(p, &args.criterion)?;
    commands(p, run, dir)?;
    Ok(())
}

fn header(p: &mut Page, args: &ReportArgs, dir: &Path, m: &Machine) {
    p.w("# Benchmarks");
    p.w("");
    p.w(format!(
        "Written by `presence-bench/run.sh` (mode `{}`); do not edit by hand, run it again.",
        args.mode
    ));
    p.w(
        "How the tools work: `presence-bench/src/layout.rs` (schedules and matching), \
         `presence-bench/src/stats.rs` (the report), `presence-bench/baseline/server.js` \
         (the baseline).",
    );
    if !args.note.is_empty() {
        p.w("");
        p.w(format!("> **{}**", args.note));
    }
    p.w("");
    p.w("Reproduce: `presence-bench/run.sh` (this page, ~10–20 min), `presence-bench/run.sh --quick` \
         (smaller), `presence-bench/run.sh --only=ROW,ROW` (some rows), `presence-bench/run.sh --smoke` \
         (CI's 30-second check), `presence-bench/run.sh --with-pairs` (and the before/after pairs of \
         `presence-bench/pairs.sh`). Microbenchmarks: `cargo bench -p presence-bench --bench micro`. \
         Tool documentation: `presence-bench/README.md`.");
    p.w("");
    p.w(
        "Measured elsewhere: the browser SDK's size and the packaging matrix, in \
         [`docs/packaging.md`](packaging.md).",
    );
    p.w("");
    p.w("## Machine");
    p.w("");
    p.w(format!(
        "- {} cores, {}, {} of memory, Linux {}",
        m.cores, m.model, m.memory, m.kernel
    ));
    p.w(format!("- {}; node {}; {}", m.rustc, m.node, m.redis));
    p.w(format!(
        "- run started {}; raw reports in `{}`",
        args.started,
        text::relative(dir)
    ));
    p.w(
        "- placement: single-node rows pin the server (and its Redis) to CPU 0 and the \
         generator to CPU 1, so *per server core* means one core; multi-node rows are not pinned.",
    );
    p.w("");
    p.w("## How it measures");
    p.w("");
    p.w(
        "- **Open loop.** Events go out at scheduled times (`t0 + k / rate`) whatever \
         happened before; latency runs from the *scheduled* time to receipt at each \
         recipient, so a stalled server or generator shows up as latency, not as a lower rate.",
    );
    p.w(
        "- **Exact matching.** Typing frames are matched by per-sender order (the n-th \
         `typing:true` from a sender is its event 2n). Status churn carries `c{stage}.{k}` in \
         the custom status and reads it back from `room_diff`. Join probes use one room per probe.",
    );
    p.w(format!(
        "- **Delivery ratio** = matched deliveries / (events × recipients connected). \
         A stage is *sustained* when the ratio is ≥ {SUSTAINED_RATIO:.3}, p99 ≤ {SUSTAINED_P99_MS:.0} ms and the generator \
         sent every event within {SUSTAINED_LAG_MS:.0} ms of its schedule; a row's maximum is its highest \
         sustained stage; the *½ max* stage reruns at half that rate."
    ));
    p.w(
        "- **CPU** of each server and Redis comes from `/proc/<pid>/stat` over the stage, \
         from its first scheduled event to its last delivery; **memory** is the server's RSS \
         growth over the connections, plus the kernel's slab and TCP buffer growth halved \
         (both ends of a loopback connection are on this machine).",
    );
    p.w(
        "- *other CPU s* is what the machine spent on anything but the measured processes \
         during the stage (from `/proc/stat`): other work, and interrupt time. A stage where it \
         reaches a quarter of a core is marked *noisy*.",
    );
    p.w("- Both servers get a typing lifetime longer than the run (`--typing-ttl-ms` / the \
         baseline's `TYPING_TIMEOUT_MS`): their own expiry frames would otherwise interleave \
         with the schedule. The baseline runs with `GLOBAL_PRESENCE=0`: the seed as written \
         broadcasts every online/offline to every socket (O(N²) frames), which only makes it slower.");
    p.w("");
}

fn connections(p: &mut Page, run: &Run) {
    p.w("## Connections and memory");
    p.w("");
    p.w("| row | established / failed | connects/s | handshake p50 / p99 ms | server RSS per conn | kernel per conn (est.) | server CPU per 1k connects |");
    p.w("|---|---|---|---|---|---|---|");
    for (name, desc) in &run.rows {
        let Some(r) = run.reports.get(name) else {
            continue;
        };
        let Some(idle) = &r.idle else { continue };
        let c = &r.connections;
        p.w(format!(
            "| **{name}**: {desc} | {} / {} | {} | {} / {} | {} KiB | {} KiB | {} ms |",
            int(c.established),
            int(c.failed),
            num(c.connects_per_s, 0),
            num(c.handshake.p50_ms, 1),
            num(c.handshake.p99_ms, 1),
            num(idle.server_rss_per_conn_bytes / 1024.0, 1),
            num(idle.kernel_per_conn_bytes_est / 1024.0, 1),
            num(c.server_cpu_ms_per_1k_connects, 0),
        ));
    }
    p.w("");

    if let Some(aw) = run.reports.get("idle-baseline-as-written") {
        let frames: u64 = aw.other_frames.values().sum();
        let c = &aw.connections;
        p.w(format!(
            "The seed as written (`GLOBAL_PRESENCE=1`, row **idle-baseline-as-written**): \
             {} connections took {:.1} s ({}/s, handshake p99 {:.0} ms) and sent the generator {} \
             online/offline frames it never asked for ({}): every connect is a frame to every \
             socket, O(N²).",
            int(c.established),
            c.wall_s,
            num(c.connects_per_s, 0),
            c.handshake.p99_ms,
            int(frames),
            text::map(&aw.other_frames),
        ));
        p.w("");
    }
}

fn stages(p: &mut Page, run: &Run) {
    p.w("## Event fan-out (every stage)");
    p.w("");
    p.w("| row | stage | events/s | deliveries/s | ratio | p50 / p90 / p99 / p99.9 / max ms | server CPU s | server CPU ms per 10k deliveries | deliveries per server CPU-s | incl. Redis | generator CPU s | other CPU s |");
    p.w("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, _) in &run.rows {
        let Some(r) = run.reports.get(name) else {
            continue;
        };
        for s in &r.stages {
            let lat = &s.latency;
            let mut tags = Vec::new();
            if s.half_of_max {
                tags.push("½ max".to_owned());
            }
            if !sustained(s) {
                tags.push("not sustained".to_owned());
            }
            tags.extend(load_tags(s));
            let tag = if tags.is_empty() {
                String::new()
            } else {
                format!(" ({})", tags.join(", "))
            };
            p.w(format!(
                "| {name} | {}{tag} | {} | {} | {:.4} | {:.2} / {:.2} / {:.2} / {:.2} / {:.1} \
                 | {:.2} | {} | {} | {} | {:.2} | {:.2} |",
                s.index,
                num(s.rate_per_s, 0),
                num(s.deliveries_per_s, 0),
                s.ratio,
                lat.p50_ms,
                lat.p90_ms,
                lat.p99_ms,
                lat.p999_ms,
                lat.max_ms,
                s.server_cpu_s,
                num(s.server_cpu_ms_per_10k_deliveries, 1),
                num(s.deliveries_per_server_cpu_s, 0),
                num(s.deliveries_per_cpu_s_incl_redis, 0),
                s.generator_cpu_s,
                s.other_cpu_s,
            ));
        }
    }
    p.w("");
    for (name, desc) in &run.rows {
        if run.reports.get(name).is_some_and(|r| !r.stages.is_empty()) {
            p.w(format!("- **{name}**: {desc}."));
        }
    }
    p.w("");
}

fn reconnect(p: &mut Page, run: &Run) {
    let rc = run
        .reports
        .get("reconnect")
        .and_then(|r| r.reconnect.as_ref());
    let jv = run
        .reports
        .get("cross-node")
        .and_then(|r| r.join_visible.as_ref());
    if rc.is_none() && jv.is_none() {
        return;
    }
    p.w("## Reconnect storm and cross-node joins");
    p.w("");
    if let Some(rc) = rc {
        let lat = &rc.latency;
        let cpu = |role: &str| -> f64 {
            rc.procs
                .iter()
                .filter(|p| p.role == role)
                .map(|p| p.cpu_s)
                .sum()
        };
        p.w(format!(
            "- **reconnect**: {} of {} reconnected ({} failed) within a {:.0} s window, last one \
             ready {:.1} s after the start; reconnect (connect + hello + join) p50 {:.1} ms, p99 \
             {:.1} ms, max {:.1} ms; leaves seen by room members (flaps): {}; server CPU {:.2} s, \
             Redis CPU {:.2} s.",
            int(rc.reconnected),
            int(rc.attempted),
            int(rc.failed),
            rc.window_s,
            rc.wall_s,
            lat.p50_ms,
            lat.p99_ms,
            lat.max_ms,
            int(rc.flap_leaves),
            cpu("server"),
            cpu("redis"),
        ));
    }
    if let Some(jv) = jv {
        let lat = &jv.latency;
        p.w(format!(
            "- **cross-node joins**: {} of {} joins on one node seen on another at {:.0}/s; p50 \
             {:.1} ms, p99 {:.1} ms, max {:.1} ms (a room's first change after a quiet coalescing \
             window, `--coalesce-ms`, 50 ms by default, goes out at once; later ones wait for the \
             window).",
            int(jv.seen),
            int(jv.probes),
            jv.rate_per_s,
            lat.p50_ms,
            lat.p99_ms,
            lat.max_ms,
        ));
    }
    p.w("");
}

fn problems(p: &mut Page, run: &Run) {
    let mut problems = Vec::new();
    for (name, _) in &run.rows {
        if let Some(f) = run.floors.get(name) {
            problems.extend(f.warnings.iter().map(|w| format!("{name}: {w}")));
            continue;
        }
        match run.reports.get(name) {
            Some(r) => problems.extend(report_problems(name, r)),
            None => problems.push(format!("{name}: no report (the row failed; see its logs)")),
        }
    }
    p.list("## What went wrong in this run", &problems);
}

#[derive(Debug, serde::Deserialize)]
struct Benchmark {
    full_id: String,
}

#[derive(Debug, serde::Deserialize)]
struct Estimates {
    mean: Estimate,
}

#[derive(Debug, serde::Deserialize)]
struct Estimate {
    point_estimate: f64,
    confidence_interval: Interval,
}

#[derive(Debug, serde::Deserialize)]
struct Interval {
    lower_bound: f64,
    upper_bound: f64,
}

/// Every `new/` directory under `dir` that holds a benchmark's estimates.
fn criterion_runs(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            criterion_runs(&path, out)?;
        }
    }
    if dir.file_name().is_some_and(|n| n == "new")
        && dir.join("benchmark.json").is_file()
        && dir.join("estimates.json").is_file()
    {
        out.push(dir.to_path_buf());
    }
    Ok(())
}

fn micro(p: &mut Page, criterion: &Path) -> anyhow::Result<()> {
    let mut dirs = Vec::new();
    criterion_runs(criterion, &mut dirs)?;
    let mut micro = Vec::new();
    for d in dirs {
        let bench: Benchmark = read_json(&d.join("benchmark.json"))?;
        let est: Estimates = read_json(&d.join("estimates.json"))?;
        micro.push((bench.full_id, est.mean));
    }
    if micro.is_empty() {
        return Ok(());
    }
    micro.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.point_estimate.total_cmp(&b.1.point_estimate))
    });
    p.w("## Microbenchmarks");
    p.w("");
    p.w(format!(
        "From the last `cargo bench -p presence-bench --bench micro` on this machine \
         (`{}`; not rerun by this script). Mean time per iteration; \
         `fanout/*` is one event to 1,000 local sessions, `store/redis/*` round trips to a \
         local `redis-server`.",
        text::relative(criterion)
    ));
    p.w("");
    p.w("| benchmark | mean | 95 % interval |");
    p.w("|---|---|---|");
    let dur = |ns: f64| {
        if ns >= 1000.0 {
            format!("{:.2} µs", ns / 1000.0)
        } else {
            format!("{ns:.0} ns")
        }
    };
    for (name, mean) in &micro {
        p.w(format!(
            "| `{name}` | {} | {} – {} |",
            dur(mean.point_estimate),
            dur(mean.confidence_interval.lower_bound),
            dur(mean.confidence_interval.upper_bound),
        ));
    }
    p.w("");
    Ok(())
}

fn commands(p: &mut Page, run: &Run, dir: &Path) -> anyhow::Result<()> {
    p.w("## Exact commands");
    p.w("");
    p.w(
        "`$SECRET` stands for the shared HS256 secret (`BENCH_SECRET`). Ports are free ports \
         picked at run time.",
    );
    p.w("");
    let cwd = text::cwd_prefix();
    for (name, _) in &run.rows {
        let path = dir.join(format!("{name}.cmd"));
        if !path.exists() {
            continue;
        }
        let cmds = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        p.w(format!("**{name}**"));
        p.w("");
        p.w("```sh");
        for line in cmds.lines() {
            p.w(line.replace(&cwd, ""));
        }
        p.w("```");
        p.w("");
    }
    Ok(())
}
