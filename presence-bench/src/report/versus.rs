//! The figures held against something: the baseline, and the targets of `targets.json`.

use super::text::{int, num};
use super::{
    at, best_lossless, best_stage, gen_bound, half_stage, Page, Run, Targets, SUSTAINED_P99_MS,
    SUSTAINED_RATIO,
};

/// "Against the baseline": memory, connects, deliveries per CPU-second, highest rate.
pub fn baseline(p: &mut Page, run: &Run) {
    p.w("## Against the baseline");
    p.w("");
    let mut ratios: Vec<[String; 4]> = Vec::new();
    let io = run.reports.get("idle-ours");
    let ib = run.reports.get("idle-baseline");
    if let (Some(io), Some(ib)) = (io, ib) {
        if let (Some(o), Some(b)) = (&io.idle, &ib.idle) {
            let mo = o.server_rss_per_conn_bytes + o.kernel_per_conn_bytes_est;
            let mb = b.server_rss_per_conn_bytes + b.kernel_per_conn_bytes_est;
            ratios.push([
                "memory per idle connection (server + kernel)".to_owned(),
                format!("{:.1} KiB", mo / 1024.0),
                format!("{:.1} KiB", mb / 1024.0),
                if mo > 0.0 {
                    format!("{:.2}× (baseline ÷ presence)", mb / mo)
                } else {
                    "–".to_owned()
                },
            ]);
            let co = io.connections.connects_per_s;
            let cb = ib.connections.connects_per_s;
            ratios.push([
                "connects per second (hello + join)".to_owned(),
                num(co, 0),
                num(cb, 0),
                if cb != 0.0 {
                    format!("{:.1}×", co / cb)
                } else {
                    "–".to_owned()
                },
            ]);
        }
    }
    let tb = run.reports.get("typing-baseline");
    for name in ["typing-ours", "typing-ours-redis"] {
        let (Some(t), Some(tb)) = (run.reports.get(name), tb) else {
            continue;
        };
        if let (Some(lo), Some(lb)) = (best_lossless(t), best_lossless(tb)) {
            ratios.push([
                format!(
                    "{name}: deliveries per server CPU-second, best stage (sustained where any)"
                ),
                format!("{} ({})", num(lo.deliveries_per_server_cpu_s, 0), at(lo)),
                format!("{} ({})", num(lb.deliveries_per_server_cpu_s, 0), at(lb)),
                format!(
                    "{:.1}×",
                    lo.deliveries_per_server_cpu_s / lb.deliveries_per_server_cpu_s
                ),
            ]);
            if lb.deliveries_per_cpu_s_incl_redis > 0.0 {
                ratios.push([
                    format!("{name}: deliveries per CPU-second, server + Redis, same stages"),
                    num(lo.deliveries_per_cpu_s_incl_redis, 0),
                    num(lb.deliveries_per_cpu_s_incl_redis, 0),
                    format!(
                        "{:.1}×",
                        lo.deliveries_per_cpu_s_incl_redis / lb.deliveries_per_cpu_s_incl_redis
                    ),
                ]);
            }
        }
        let (so, sb) = (best_stage(t), best_stage(tb));
        let none = || "none sustained".to_owned();
        ratios.push([
            format!(
                "{name}: highest sustained deliveries/s (p99 ≤ {SUSTAINED_P99_MS:.0} ms, lossless)"
            ),
            so.map_or_else(none, |s| num(s.deliveries_per_s, 0)),
            sb.map_or_else(none, |s| num(s.deliveries_per_s, 0)),
            match (so, sb) {
                (Some(so), Some(sb)) => {
                    format!("{:.1}×", so.deliveries_per_s / sb.deliveries_per_s)
                }
                _ => "–".to_owned(),
            },
        ]);
    }
    if ratios.is_empty() {
        p.w("(no baseline rows in this run)");
    } else {
        p.w("| figure | presence | baseline | ratio |");
        p.w("|---|---|---|---|");
        for [fig, o, b, rt] in &ratios {
            p.w(format!("| {fig} | {o} | {b} | {rt} |"));
        }
    }
    p.w("");
}

fn target(p: &mut Page, name: &str, measured: &str, ok: Option<bool>) {
    let verdict = match ok {
        Some(true) => "**met**",
        Some(false) => "not met",
        None => "not measured",
    };
    p.w(format!("| {name} | {measured} | {verdict} |"));
}

/// "Targets": each target of `targets.json` this run measures, met or not. `floor` is the
/// kernel's floor (writes per writer CPU-second), when the run has it.
pub fn targets(p: &mut Page, run: &Run, floor: Option<f64>, t: &Targets) {
    p.w("## Targets");
    p.w("");
    p.w("| target | measured | met? |");
    p.w("|---|---|---|");
    let io = run.reports.get("idle-ours");
    match io.and_then(|io| io.idle.as_ref().map(|idle| (io, idle))) {
        Some((io, idle)) => {
            let m = &t.memory_per_idle_connection;
            let per = idle.server_rss_per_conn_bytes + idle.kernel_per_conn_bytes_est;
            target(
                p,
                &m.text,
                &format!(
                    "{} bytes ({} RSS + {} kernel est.) at {} connections in rooms of 20",
                    num(per, 0),
                    num(idle.server_rss_per_conn_bytes, 0),
                    num(idle.kernel_per_conn_bytes_est, 0),
                    int(io.connections.established)
                ),
                Some(per <= m.max_bytes),
            );
            let cps = io.connections.connects_per_s;
            target(
                p,
                &t.connects_per_s.text,
                &format!("{}/s", num(cps, 0)),
                Some(cps >= t.connects_per_s.min as f64),
            );
        }
        None => target(p, &t.memory_per_idle_connection.short, "–", None),
    }
    if let Some(nm) = run.reports.get("node-max") {
        let c = &nm.connections;
        target(
            p,
            &t.connections_per_node.text,
            &format!(
                "{} established, {} failed, {} kinds of drop",
                int(c.established),
                int(c.failed),
                nm.disconnects.len()
            ),
            Some(c.established >= t.connections_per_node.min && nm.disconnects.is_empty()),
        );
    }
    if let Some(cl) = run.reports.get("cluster") {
        let c = &cl.connections;
        target(
            p,
            &t.cluster_connections.text,
            &format!("{} of {}", int(c.established), int(c.target)),
            Some(c.established >= t.cluster_connections.min),
        );
    }
    let to = run.reports.get("typing-ours");
    if let Some((to, bo)) = to.and_then(|to| best_stage(to).map(|bo| (to, bo))) {
        let mut measured = format!(
            "{}/s sustained ({} per server CPU-s)",
            num(bo.deliveries_per_s, 0),
            num(bo.deliveries_per_server_cpu_s, 0)
        );
        if gen_bound(bo) {
            measured.push_str(" — generator-bound");
        }
        if let Some(floor) = floor {
            measured.push_str(&format!(
                "; the kernel's floor here (one write() per delivery, nothing else): {} writes per CPU-s",
                num(floor, 0)
            ));
        }
        let d = &t.deliveries_per_core;
        target(
            p,
            &d.text,
            &measured,
            Some(bo.deliveries_per_s >= d.min_per_s),
        );
        if let Some(hs) = half_stage(to) {
            let h = &t.p99_at_half_max;
            target(
                p,
                &h.text,
                &format!(
                    "p99 {:.2} ms at {} events/s ({} deliveries/s), ratio {:.4}",
                    hs.latency.p99_ms,
                    num(hs.rate_per_s, 0),
                    num(hs.deliveries_per_s, 0),
                    hs.ratio
                ),
                Some(hs.latency.p99_ms <= h.max_ms && hs.ratio >= SUSTAINED_RATIO),
            );
        }
    }
    let lo = to.and_then(best_lossless);
    let lb = run.reports.get("typing-baseline").and_then(best_lossless);
    if let (Some(lo), Some(lb)) = (lo, lb) {
        let x = lo.deliveries_per_server_cpu_s / lb.deliveries_per_server_cpu_s;
        target(
            p,
            &t.vs_baseline.text,
            &format!(
                "{x:.1}× ({} {} vs {} {} per server CPU-s, memory store vs Socket.IO; \
                 Redis-backed figures above)",
                num(lo.deliveries_per_server_cpu_s, 0),
                at(lo),
                num(lb.deliveries_per_server_cpu_s, 0),
                at(lb)
            ),
            Some(x >= t.vs_baseline.min_ratio),
        );
    }
    let jv = run
        .reports
        .get("cross-node")
        .and_then(|r| r.join_visible.as_ref());
    if let Some(jv) = jv {
        target(
            p,
            &t.join_visible.text,
            &format!(
                "p99 {:.1} ms ({} of {} seen)",
                jv.latency.p99_ms,
                int(jv.seen),
                int(jv.probes)
            ),
            Some(jv.latency.p99_ms <= t.join_visible.max_p99_ms && jv.seen >= jv.probes),
        );
    }
    p.w("");
}
