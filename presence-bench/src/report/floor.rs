//! The kernel's floor (the `write-floor` rows), what bounds the targets not met, and the
//! perf profiles.

use std::path::Path;

use super::text::{int, num};
use super::{best_lossless, best_stage, first_max, first_min, sustained, Page, Run, Targets};
use crate::floor::{FloorReport, FloorStage};
use crate::stats::StageReport;

/// The section of the write-floor rows; returns the floor (the most writes per writer
/// CPU-second of a sustained stage), or None without such a row. `ours` is
/// typing-ours's best stage (`best_lossless`), to compare with.
pub fn render(p: &mut Page, run: &Run, ours: Option<&StageReport>) -> Option<f64> {
    let mut best: Option<(&FloorReport, &FloorStage, Vec<&FloorStage>)> = None;
    for (name, _) in &run.rows {
        let Some(r) = run.floors.get(name) else {
            continue;
        };
        if r.stages.is_empty() {
            continue;
        }
        if best.is_none() {
            header(p, r);
        }
        for s in &r.stages {
            row(p, name, s);
        }
        let good: Vec<&FloorStage> = r
            .stages
            .iter()
            .filter(|s| s.sustained && s.writes_per_writer_cpu_s > 0.0)
            .collect();
        if let Some(top) = first_max(good.iter().copied(), |s| s.writes_per_writer_cpu_s) {
            if best
                .as_ref()
                .is_none_or(|(_, b, _)| top.writes_per_writer_cpu_s > b.writes_per_writer_cpu_s)
            {
                best = Some((r, top, good));
            }
        }
    }
    let (r, top, good) = best?;
    p.w("");
    let floor = top.writes_per_writer_cpu_s;
    let place = if top.rate_per_s <= 0.0 {
        "flat out".to_owned()
    } else {
        format!("at {} writes/s", num(top.writes_per_s, 0))
    };
    let mut line = format!(
        "With one `write()` per delivery, no server can reach more than about \
         **{} deliveries per CPU-second** on this machine \
         (the writer alone, {}, {place}; max sustained paced rate {} writes/s)",
        num(floor, 0),
        top.writer,
        num(r.max_sustained_writes_per_s, 0)
    );
    if let Some(ours) = ours {
        let x = ours.deliveries_per_server_cpu_s;
        let paced: Vec<&FloorStage> = good
            .iter()
            .copied()
            .filter(|s| s.rate_per_s > 0.0 && s.writer == "write")
            .collect();
        let near = first_min(paced, |s| (s.writes_per_s - ours.deliveries_per_s).abs());
        line.push_str(&format!(
            "; presence-server's best, {} deliveries per server CPU-s (typing-ours \
             at {} events/s, {} deliveries/s{}), is **{:.2}×** that",
            num(x, 0),
            num(ours.rate_per_s, 0),
            num(ours.deliveries_per_s, 0),
            if sustained(ours) { "" } else { ", overloaded" },
            x / floor
        ));
        if let Some(near) = near {
            line.push_str(&format!(
                " and {:.2}× the floor at a comparable rate ({} at {} writes/s)",
                x / near.writes_per_writer_cpu_s,
                num(near.writes_per_writer_cpu_s, 0),
                num(near.writes_per_s, 0)
            ));
        }
    }
    p.w(line + ".");
    p.w("");
    Some(floor)
}

fn header(p: &mut Page, r: &FloorReport) {
    p.w("## The kernel's floor");
    p.w("");
    p.w(format!(
        "What one delivery costs with everything of a server taken away: a writer process \
         (pinned where the server runs) does nothing but one `write()` of a {}-byte typing \
         frame (a WebSocket text frame of `{}`) per delivery to {} loopback TCP sockets, \
         `TCP_NODELAY`, in events of {} writes to the members of a room of {}, open loop \
         at each rate (rate 0: flat out); the reader process (pinned where the generator \
         runs) reads every socket in its own tokio task. On loopback the kernel's receive \
         path and the wake-up of the reader run on the writer's CPU and are charged to it, \
         as they are to a server. CPU from `/proc/<pid>/stat` over each stage, until the \
         reader has read every byte. *tokio* stages write through `TcpStream::try_write`.",
        r.frame_bytes,
        r.frame_json,
        int(r.connections as u64),
        r.room_size as i64 - 1,
        r.room_size
    ));
    p.w("");
    p.w("| row | stage | writer | writes/s asked | writes/s | writer CPU s (user / sys) | writer busy \
         | writer µs per write | writes per writer CPU-s | reader CPU s | reader busy | reader µs per write \
         | lag max / drain ms | other CPU s |");
    p.w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
}

fn row(p: &mut Page, name: &str, s: &FloorStage) {
    let mut tags = Vec::new();
    if !s.sustained {
        tags.push("not sustained");
    }
    if s.reader_busy >= 0.9 {
        tags.push("reader-bound");
    }
    if s.window_s > 0.0 && s.other_cpu_s / s.window_s >= 0.25 {
        tags.push("noisy");
    }
    let tag = if tags.is_empty() {
        String::new()
    } else {
        format!(" ({})", tags.join(", "))
    };
    let asked = if s.rate_per_s > 0.0 {
        num(s.rate_per_s, 0)
    } else {
        "flat out".to_owned()
    };
    p.w(format!(
        "| {name} | {}{tag} | {} | {asked} | {} \
         | {:.2} ({:.2} / {:.2}) | {:.2} \
         | {:.2} | {} \
         | {:.2} | {:.2} | {:.2} \
         | {:.1} / {:.1} | {:.2} |",
        s.index,
        s.writer,
        num(s.writes_per_s, 0),
        s.writer_cpu_s,
        s.writer_user_s,
        s.writer_sys_s,
        s.writer_busy,
        s.writer_us_per_write,
        num(s.writes_per_writer_cpu_s, 0),
        s.reader_cpu_s,
        s.reader_busy,
        s.reader_us_per_write,
        s.send_lag_max_ms,
        s.drain_ms,
        s.other_cpu_s,
    ));
}

/// A ratio as the page names it: `5` for 5.0, `2.5` for 2.5.
fn times(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x}")
    }
}

/// For each target this run does not meet: what bounds it, from the figures of this run
/// (the kernel's share of memory, the write floor) and the profile below.
pub fn bounds(p: &mut Page, run: &Run, floor: Option<f64>, t: &Targets) {
    let mut lines = Vec::new();
    let m = &t.memory_per_idle_connection;
    let io = run.reports.get("idle-ours").and_then(|r| r.idle.as_ref());
    let bare = run
        .reports
        .get("idle-ours-bare")
        .and_then(|r| r.idle.as_ref());
    if let Some(io) = io {
        let rss = io.server_rss_per_conn_bytes / 1024.0;
        let kern = io.kernel_per_conn_bytes_est / 1024.0;
        if (rss + kern) * 1024.0 > m.max_bytes {
            let bare_rss = bare.map_or_else(String::new, |b| {
                format!(
                    ", {:.1} KiB with no room",
                    b.server_rss_per_conn_bytes / 1024.0
                )
            });
            lines.push(format!(
                "**Memory per idle connection.** The kernel's part alone is about {kern:.1} KiB \
                 (a TCP socket, its inode, file and epoll entries; estimated as half the machine's \
                 slab and TCP buffer growth, since both ends of each connection are here), which \
                 leaves {:.1} KiB of the {} for everything \
                 the server keeps. The server keeps {rss:.1} KiB per connection in rooms of \
                 20{bare_rss}: the session's one task (512 bytes), its boxed state (the \
                 connection, the rate limiter, the outbound queue), the authenticated identity, \
                 tokio's registration of the socket, the session's and the room membership's \
                 records in the store and the hub, and the allocator's rounding. No read or write \
                 buffer is kept between frames.",
                (m.max_bytes / 1024.0 - kern).max(0.0),
                m.limit_text
            ));
        }
    }
    let to = run.reports.get("typing-ours");
    let bo = to.and_then(best_stage);
    if let Some(bo) = bo.filter(|bo| bo.deliveries_per_s < t.deliveries_per_core.min_per_s) {
        let per = bo.deliveries_per_server_cpu_s;
        let mut text =
            "**Deliveries per server core.** Every delivery is one `write()` to one socket \
             (rooms of 20: each event goes to 19 different sockets, so there is nothing to \
             batch per socket). "
                .to_owned();
        if let Some(floor) = floor {
            text.push_str(&format!(
                "The kernel's floor above, one such write and nothing else, is at most \
                 {} per CPU-second on this machine and less at the rates this \
                 generator drives; presence-server's best sustained stage costs \
                 {:.1} µs of server CPU per delivery ({} per CPU-second). ",
                num(floor, 0),
                1e6 / per,
                num(per, 0)
            ));
        }
        text.push_str(
            "The profile below shows where: most of the server's CPU is the kernel's \
             loopback TCP path (the send, the receiver's side of it, and the wake-up of the \
             reader, all charged to the sender on loopback). The sustained rate is also \
             bounded by the generator's single core (the stages marked *generator-bound*, \
             or overloaded once server and generator both near a core).",
        );
        lines.push(text);
    }
    let lo = to.and_then(best_lossless);
    let lb = run.reports.get("typing-baseline").and_then(best_lossless);
    let k = t.vs_baseline.min_ratio;
    if let (Some(lo), Some(lb)) = (lo, lb) {
        if lo.deliveries_per_server_cpu_s < k * lb.deliveries_per_server_cpu_s {
            let need = k * lb.deliveries_per_server_cpu_s;
            let mut text = format!(
                "**{k}× the baseline.** {k}× the baseline's {} is {} deliveries per server CPU-second",
                num(lb.deliveries_per_server_cpu_s, 0),
                num(need, 0),
                k = times(k)
            );
            if let Some(floor) = floor {
                text.push_str(&format!(
                    "; a server that did nothing but the writes (the kernel's floor, \
                     {}) would reach {:.1}× the baseline here",
                    num(floor, 0),
                    floor / lb.deliveries_per_server_cpu_s
                ));
            }
            text.push_str(
                ". The baseline pays the same kernel cost per write, so the ratio is bounded \
                 by the kernel's share of a delivery, not by either server's own work.",
            );
            lines.push(text);
        }
    }
    if lines.is_empty() {
        return;
    }
    p.w("## What bounds the targets not met");
    p.w("");
    for line in lines {
        p.w(format!("- {line}"));
    }
    p.w("");
}

/// The perf profiles written by `presence-bench/profile.sh`, if this run has them.
pub fn profiles(p: &mut Page, dir: &Path) -> anyhow::Result<()> {
    let found: Vec<(&str, std::path::PathBuf)> = ["typing", "connect"]
        .into_iter()
        .map(|n| (n, dir.join(format!("profile-{n}.txt"))))
        .filter(|(_, path)| path.exists())
        .collect();
    if found.is_empty() {
        return Ok(());
    }
    p.w("## Where the server's CPU goes");
    p.w("");
    p.w(
        "`presence-bench/profile.sh` (`perf record -g` on the server, pinned to CPU 0, while the \
         generator runs on CPU 1). Shares of the server's samples, by object and by symbol; \
         `[k]` is the kernel.",
    );
    p.w("");
    for (name, path) in found {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        p.w(format!("**{name}**"));
        p.w("");
        p.w("```");
        p.w(text.trim_end());
        p.w("```");
        p.w("");
    }
    Ok(())
}
