#!/usr/bin/env python3
"""Writes docs/benchmarks.md from the reports of one run of presence-bench/run.sh.

    python3 presence-bench/render.py RESULTS_DIR [--mode full|quick] [--started TEXT] [--pairs DIR]
    python3 presence-bench/render.py --pairs DIR      only the "Before and after" section

RESULTS_DIR holds rows.tsv (row name, description), <row>.json (the generator's report,
merged when there were several generators) and <row>.cmd (the exact commands).
--pairs DIR is a run of presence-bench/pairs.sh: summary.json and <sha>-<row>.json.
Standard library only.
"""
import argparse
import json
import os
import platform
import subprocess
import sys

# A stage is "sustained" when nothing was lost, the tail stayed short and the generator
# kept to its schedule. The highest sustained rate is a row's maximum.
SUSTAINED_RATIO = 0.999
SUSTAINED_P99_MS = 50.0
SUSTAINED_LAG_MS = 50.0


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001 - a missing tool just leaves the field empty
        return ""


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "model": model,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "rustc": sh("rustc", "--version"),
        "node": sh("node", "--version"),
        "redis": sh("redis-server", "--version").split(" sha=")[0],
    }


def fmt(v, digits=0):
    if v is None:
        return "–"
    if isinstance(v, float):
        if digits == 0:
            return f"{v:,.0f}"
        return f"{v:,.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def sustained(stage):
    return (
        stage["ratio"] >= SUSTAINED_RATIO
        and stage["latency"]["p99_ms"] <= SUSTAINED_P99_MS
        and stage["send_lag_max_ms"] <= SUSTAINED_LAG_MS
    )


def best_stage(report, key="deliveries_per_s"):
    good = [s for s in report.get("stages", []) if sustained(s) and not s.get("half_of_max")]
    return max(good, key=lambda s: s[key]) if good else None


def best_lossless(report):
    """The stage with the most deliveries per server CPU-second: among the sustained
    stages (nothing lost, short tail), else among those that lost nothing. An overloaded
    server batches frames into fewer writes and looks cheaper per delivery while its
    latency runs to seconds, so overloaded stages only count when nothing else does."""
    stages = [s for s in report.get("stages", []) if s["server_cpu_s"] > 0]
    good = [s for s in stages if sustained(s)] or [s for s in stages if s["ratio"] >= SUSTAINED_RATIO]
    return max(good, key=lambda s: s["deliveries_per_server_cpu_s"]) if good else None


def at(stage):
    return f"at {fmt(stage['rate_per_s'])}/s" + ("" if sustained(stage) else ", overloaded")


def half_stage(report):
    for s in report.get("stages", []):
        if s.get("half_of_max"):
            return s
    return None


# DESIGN.md's "≤ 8 KB per idle connection", read the strict way: 8,000 bytes.
MEMORY_TARGET = 8_000


def gen_bound(stage):
    return stage["window_s"] > 0 and stage["generator_cpu_s"] / stage["window_s"] >= 0.9


def render_list(w, heading, items):
    """`heading`, then `items` as a bulleted list; nothing when there are none."""
    if not items:
        return
    w(heading)
    w("")
    for item in items:
        w(f"- {item}")
    w("")


def report_problems(label, r):
    """What went wrong in one generator report: failures, drops, errors, warnings."""
    out = []
    if r["connections"]["failed"]:
        out.append(f"{label}: connect failures {r['connections']['failures']}")
    if r.get("disconnects"):
        out.append(f"{label}: connections dropped {r['disconnects']}")
    if r.get("errors"):
        out.append(f"{label}: error frames {r['errors']}")
    for wmsg in r.get("warnings", []):
        out.append(f"{label}: {wmsg}")
    return out


def render_floor(w, rows, floors, ours):
    """The section of the write-floor rows; returns the floor (the most writes per
    writer CPU-second of a sustained stage), or None without such a row. `ours` is
    typing-ours's best stage (best_lossless), to compare with."""
    best = None
    for name, desc in rows:
        r = floors.get(name)
        if not r or not r.get("stages"):
            continue
        if best is None:
            w("## The kernel's floor")
            w("")
            w("What one delivery costs with everything of a server taken away: a writer process "
              "(pinned where the server runs) does nothing but one `write()` of a %d-byte typing "
              "frame (a WebSocket text frame of `%s`) per delivery to %s loopback TCP sockets, "
              "`TCP_NODELAY`, in events of %d writes to the members of a room of %d, open loop "
              "at each rate (rate 0: flat out); the reader process (pinned where the generator "
              "runs) reads every socket in its own tokio task. On loopback the kernel's receive "
              "path and the wake-up of the reader run on the writer's CPU and are charged to it, "
              "as they are to a server. CPU from `/proc/<pid>/stat` over each stage, until the "
              "reader has read every byte. *tokio* stages write through `TcpStream::try_write`."
              % (r["frame_bytes"], r["frame_json"], fmt(r["connections"]), r["room_size"] - 1, r["room_size"]))
            w("")
            w("| row | stage | writer | writes/s asked | writes/s | writer CPU s (user / sys) | writer busy "
              "| writer µs per write | writes per writer CPU-s | reader CPU s | reader busy | reader µs per write "
              "| lag max / drain ms | other CPU s |")
            w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for s in r["stages"]:
            tags = []
            if not s["sustained"]:
                tags.append("not sustained")
            if s["reader_busy"] >= 0.9:
                tags.append("reader-bound")
            if s["window_s"] > 0 and s.get("other_cpu_s", 0) / s["window_s"] >= 0.25:
                tags.append("noisy")
            tag = f" ({', '.join(tags)})" if tags else ""
            asked = fmt(s["rate_per_s"]) if s["rate_per_s"] > 0 else "flat out"
            w(f"| {name} | {s['index']}{tag} | {s['writer']} | {asked} | {fmt(s['writes_per_s'])} "
              f"| {s['writer_cpu_s']:.2f} ({s['writer_user_s']:.2f} / {s['writer_sys_s']:.2f}) | {s['writer_busy']:.2f} "
              f"| {s['writer_us_per_write']:.2f} | {fmt(s['writes_per_writer_cpu_s'])} "
              f"| {s['reader_cpu_s']:.2f} | {s['reader_busy']:.2f} | {s['reader_us_per_write']:.2f} "
              f"| {s['send_lag_max_ms']:.1f} / {s['drain_ms']:.1f} | {s.get('other_cpu_s', 0):.2f} |")
        good = [s for s in r["stages"] if s["sustained"] and s["writes_per_writer_cpu_s"] > 0]
        if good:
            top = max(good, key=lambda s: s["writes_per_writer_cpu_s"])
            if best is None or top["writes_per_writer_cpu_s"] > best[1]["writes_per_writer_cpu_s"]:
                best = (r, top, good)
    if best is None:
        return None
    r, top, good = best
    w("")
    where = "flat out" if top["rate_per_s"] <= 0 else f"at {fmt(top['writes_per_s'])} writes/s"
    line = (f"With one `write()` per delivery, no server can reach more than about "
            f"**{fmt(top['writes_per_writer_cpu_s'])} deliveries per CPU-second** on this machine "
            f"(the writer alone, {top['writer']}, {where}; "
            f"max sustained paced rate {fmt(r['max_sustained_writes_per_s'])} writes/s)")
    if ours:
        x = ours["deliveries_per_server_cpu_s"]
        paced = [s for s in good if s["rate_per_s"] > 0 and s["writer"] == "write"]
        near = min(paced, key=lambda s: abs(s["writes_per_s"] - ours["deliveries_per_s"])) if paced else None
        line += (f"; presence-server's best, {fmt(x)} deliveries per server CPU-s (typing-ours "
                 f"at {fmt(ours['rate_per_s'])} events/s, {fmt(ours['deliveries_per_s'])} deliveries/s"
                 f"{'' if sustained(ours) else ', overloaded'}), is "
                 f"**{x / top['writes_per_writer_cpu_s']:.2f}×** that")
        if near:
            line += (f" and {x / near['writes_per_writer_cpu_s']:.2f}× the floor at a comparable rate "
                     f"({fmt(near['writes_per_writer_cpu_s'])} at {fmt(near['writes_per_s'])} writes/s)")
    w(line + ".")
    w("")
    return top["writes_per_writer_cpu_s"]


# --- what bounds the targets not met, and the profiles ----------------------------------------


def render_bounds(w, reports, floor, tb):
    """For each DESIGN.md target this run does not meet: what bounds it, from the figures of
    this run (the kernel's share of memory, the write floor) and the profile below."""
    lines = []
    io, bare = reports.get("idle-ours"), reports.get("idle-ours-bare")
    if io and io.get("idle"):
        rss = io["idle"]["server_rss_per_conn_bytes"] / 1024
        kern = io["idle"]["kernel_per_conn_bytes_est"] / 1024
        if (rss + kern) * 1024 > MEMORY_TARGET:
            bare_rss = (f", {bare['idle']['server_rss_per_conn_bytes'] / 1024:.1f} KiB with no room"
                        if bare and bare.get("idle") else "")
            lines.append(
                f"**Memory per idle connection.** The kernel's part alone is about {kern:.1f} KiB "
                f"(a TCP socket, its inode, file and epoll entries; estimated as half the machine's "
                f"slab and TCP buffer growth, since both ends of each connection are here), which "
                f"leaves {max(MEMORY_TARGET / 1024 - kern, 0):.1f} KiB of the 8 KB for everything "
                f"the server keeps. The server keeps {rss:.1f} KiB per connection in rooms of "
                f"20{bare_rss}: the session's one task (512 bytes), its boxed state (the "
                f"connection, the rate limiter, the outbound queue), the authenticated identity, "
                f"tokio's registration of the socket, the session's and the room membership's "
                f"records in the store and the hub, and the allocator's rounding. No read or write "
                f"buffer is kept between frames.")
    to = reports.get("typing-ours")
    bo = best_stage(to) if to else None
    if bo and bo["deliveries_per_s"] < 150_000:
        per = bo["deliveries_per_server_cpu_s"]
        text = (f"**Deliveries per server core.** Every delivery is one `write()` to one socket "
                f"(rooms of 20: each event goes to 19 different sockets, so there is nothing to "
                f"batch per socket). ")
        if floor:
            text += (f"The kernel's floor above, one such write and nothing else, is at most "
                     f"{fmt(floor)} per CPU-second on this machine and less at the rates this "
                     f"generator drives; presence-server's best sustained stage costs "
                     f"{1e6 / per:.1f} µs of server CPU per delivery ({fmt(per)} per CPU-second). ")
        text += ("The profile below shows where: most of the server's CPU is the kernel's "
                 "loopback TCP path (the send, the receiver's side of it, and the wake-up of the "
                 "reader, all charged to the sender on loopback). The sustained rate is also "
                 "bounded by the generator's single core (the stages marked *generator-bound*, "
                 "or overloaded once server and generator both near a core).")
        lines.append(text)
    lo = best_lossless(to) if to else None
    lb = best_lossless(tb) if tb else None
    if lo and lb and lo["deliveries_per_server_cpu_s"] < 5 * lb["deliveries_per_server_cpu_s"]:
        need = 5 * lb["deliveries_per_server_cpu_s"]
        text = (f"**5× the baseline.** 5× the baseline's {fmt(lb['deliveries_per_server_cpu_s'])} is "
                f"{fmt(need)} deliveries per server CPU-second")
        if floor:
            text += (f"; a server that did nothing but the writes (the kernel's floor, "
                     f"{fmt(floor)}) would reach {floor / lb['deliveries_per_server_cpu_s']:.1f}× "
                     f"the baseline here")
        text += (". The baseline pays the same kernel cost per write, so the ratio is bounded "
                 "by the kernel's share of a delivery, not by either server's own work.")
        lines.append(text)
    if not lines:
        return
    w("## What bounds the targets not met")
    w("")
    for line in lines:
        w(f"- {line}")
    w("")


def render_profiles(w, run_dir):
    """The perf profiles written by presence-bench/profile.sh, if this run has them."""
    found = [(n, os.path.join(run_dir, f"profile-{n}.txt")) for n in ("typing", "connect")]
    found = [(n, p) for n, p in found if os.path.exists(p)]
    if not found:
        return
    w("## Where the server's CPU goes")
    w("")
    w("`presence-bench/profile.sh` (`perf record -g` on the server, pinned to CPU 0, while the "
      "generator runs on CPU 1). Shares of the server's samples, by object and by symbol; "
      "`[k]` is the kernel.")
    w("")
    for name, path in found:
        with open(path) as f:
            text = f.read().rstrip()
        w(f"**{name}**")
        w("")
        w("```")
        w(text)
        w("```")
        w("")


# --- before and after (presence-bench/pairs.sh) -------------------------------------------

PAIR_ROWS = ("idle", "idle-bare", "typing", "churn", "cross-node-join")


def pair_ratio(b, a):
    return f"{a / b:.2f}×" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "–"


def load_tags(s):
    """What else bounded a stage: the generator's core, or other work on the machine."""
    tags = []
    if gen_bound(s):
        tags.append("generator-bound")
    if s["window_s"] > 0 and s.get("other_cpu_s", 0) / s["window_s"] >= 0.25:
        tags.append("noisy")
    return tags


def stage_tags(s):
    tags = []
    if s["ratio"] < SUSTAINED_RATIO:
        tags.append(f"ratio {s['ratio']:.4f}")
    elif not sustained(s):
        tags.append("not sustained")
    return tags + load_tags(s)


def pair_figures(row, r):
    """{figure: (value or (v1, v2), digits, tags)} of one report for one row; the figure
    names carry ↓ (lower is better) or ↑."""
    if r is None:
        return {}
    f = {}
    if row in ("idle", "idle-bare"):
        c, idle = r["connections"], r.get("idle") or {}
        where = "rooms of 20" if row == "idle" else "no room"
        failed = [f"{fmt(c['failed'])} failed"] if c.get("failed") else []
        if idle:
            f[f"{row} ({where}): server RSS per connection, KiB ↓"] = (idle["server_rss_per_conn_bytes"] / 1024, 2, [])
            f[f"{row} ({where}): kernel per connection (est.), KiB ↓"] = (idle["kernel_per_conn_bytes_est"] / 1024, 2, [])
        f[f"{row} ({where}): connects/s ↑"] = (c["connects_per_s"], 0, failed)
        f[f"{row} ({where}): server CPU per 1k connects, ms ↓"] = (c["server_cpu_ms_per_1k_connects"], 1, [])
    elif row in ("typing", "churn"):
        for s in r.get("stages", []):
            at_ = f"{row} at {fmt(s['rate_per_s'])}/s"
            tags = stage_tags(s)
            f[f"{at_}: deliveries per server CPU-s ↑"] = (s["deliveries_per_server_cpu_s"], 0, tags)
            f[f"{at_}: latency p50 / p99, ms ↓"] = ((s["latency"]["p50_ms"], s["latency"]["p99_ms"]), 2, [])
    elif row == "cross-node-join":
        jv = r.get("join_visible")
        if jv:
            lat = jv["latency"]
            seen = [] if jv["seen"] >= jv["probes"] else [f"{fmt(jv['seen'])} of {fmt(jv['probes'])} seen"]
            f["join on one node seen on another: p50 / p99, ms ↓"] = ((lat["p50_ms"], lat["p99_ms"]), 1, seen)
            f["join on one node seen on another: max, ms ↓"] = (lat["max_ms"], 1, [])
    return f


def pair_cell(v):
    if v is None:
        return "–"
    val, digits, tags = v
    text = " / ".join(fmt(float(x), digits) for x in val) if isinstance(val, tuple) else fmt(float(val), digits)
    return text + (f" ({', '.join(tags)})" if tags else "")


def pair_ratio_cell(b, a):
    if b is None or a is None:
        return "–"
    if isinstance(b[0], tuple):
        return " / ".join(pair_ratio(x, y) for x, y in zip(b[0], a[0]))
    return pair_ratio(b[0], a[0])


def render_pairs(w, pdir):
    """The section "Before and after" from a run of presence-bench/pairs.sh."""
    path = os.path.join(pdir, "summary.json")
    if not os.path.exists(path):
        w("## Before and after")
        w("")
        w(f"(no pairs results: `{os.path.relpath(path)}` is missing)")
        w("")
        return
    with open(path) as f:
        sm = json.load(f)
    reports, status = {}, {}
    for m in sm["measured"]:
        status[(m["sha"], m["row"])] = m["status"]
        rp = os.path.join(pdir, m["report"])
        if os.path.exists(rp):
            with open(rp) as f:
                reports[(m["sha"], m["row"])] = json.load(f)
    p, x = sm["params"], sm["params"]["cross_node"]
    rates = lambda v: ", ".join(fmt(r) for r in v)  # noqa: E731
    minutes = sm["wall_s"] / 60
    w("## Before and after")
    w("")
    w("Each performance change of `presence-bench/levers.tsv`, its commit's `presence-server` "
      "against its parent's (or the commits the line names), built from each commit "
      "(`cargo build --release -p presence-server --locked`) and loaded by one and the same "
      "generator, the current one. Reproduce: `presence-bench/pairs.sh` (all pairs, mode full, "
      "builds cached in `target/pairs/bin`), `presence-bench/pairs.sh --quick` (smaller), "
      "`presence-bench/pairs.sh --only=1,6` (some lines), `presence-bench/pairs.sh --build-only` "
      "(the binaries only, to measure later on a quiet machine).")
    w("")
    w(f"- this run: `{sm['command'].replace(os.getcwd() + '/', '')}` (mode `{sm['mode']}`), "
      f"started {sm['started']}, {minutes:.0f} min with the builds; checkout (HEAD) "
      f"`{sm['checkout'][:12]}`; raw reports and the exact commands (`<sha>-<row>.cmd`) in "
      f"`{os.path.relpath(pdir)}`")
    w(f"- **idle**: {fmt(p['connections'])} connections in rooms of {p['room_size']}, "
      f"held {p['hold_s']:.0f} s; **idle-bare**: the same with hello only (no room); "
      f"**typing**: rooms of {p['room_size']}, {rates(p['typing_rates'])} events/s, "
      f"{p['stage_s']:.0f} s stages, memory store; **churn**: custom status seen as `room_diff`, "
      f"Redis store, {rates(p['churn_rates'])} events/s; server (and Redis) on CPU 0, generator "
      f"on CPU 1, run.sh's server flags")
    w(f"- **cross-node-join**: {x['nodes']} nodes on one Redis, unpinned, {fmt(x['connections'])} "
      f"connections over 3 generators, typing at {rates(x['rates'])} events/s for "
      f"{x['stage_s']:.0f} s, then {x['probes']} join probes at {x['probe_rate']:.0f}/s "
      "(each in a room of its own, seen on another node)")
    w("- each commit is measured once per row: where one change's *after* is the next one's "
      "*before*, both tables show the same measurement. One run each, on a machine that may be "
      "doing other work: differences of a few per cent are noise. Ratio = after ÷ before; "
      "↓ lower is better, ↑ higher is better.")
    w("")
    problems = []
    for pr in sm["pairs"]:
        b, a = pr["before_sha"], pr["after_sha"]
        w(f"### {pr['line']}. {pr['description']}")
        w("")
        w(f"`{pr['before']}` (`{b[:9]}`) → `{pr['after']}` (`{a[:9]}`)")
        w("")
        w("| figure | before | after | after ÷ before |")
        w("|---|---|---|---|")
        for row in pr["rows"]:
            fb = pair_figures(row, reports.get((b, row)))
            fa = pair_figures(row, reports.get((a, row)))
            names = list(fb) + [n for n in fa if n not in fb]
            if not names:
                w(f"| {row} | {status.get((b, row), 'not measured')} | {status.get((a, row), 'not measured')} | – |")
            for n in names:
                w(f"| {n} | {pair_cell(fb.get(n))} | {pair_cell(fa.get(n))} | {pair_ratio_cell(fb.get(n), fa.get(n))} |")
        w("")
    for (sha, row), st in sorted(status.items()):
        r = reports.get((sha, row))
        if st == "failed" or r is None:
            problems.append(f"{sha} {row}: no report (see `{sha}-{row}.*` in the run directory)")
            continue
        problems.extend(report_problems(f"{sha} {row}", r))
    render_list(w, "What went wrong in the pairs run:", problems)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", help="a run of run.sh (omit with --pairs: only that section)")
    ap.add_argument("--mode", default="full")
    ap.add_argument("--started", default="")
    ap.add_argument("--note", default="")
    ap.add_argument("--criterion", default="target/criterion")
    ap.add_argument("--pairs", help="a run of presence-bench/pairs.sh: adds the section \"Before and after\"")
    args = ap.parse_args()
    if args.dir is None:
        if not args.pairs:
            ap.error("give a run directory, --pairs DIR, or both")
        out = []
        render_pairs(out.append, args.pairs)
        sys.stdout.write("\n".join(out) + "\n")
        return
    rows = []
    with open(os.path.join(args.dir, "rows.tsv")) as f:
        for line in f:
            if line.strip():
                name, desc = line.rstrip("\n").split("\t", 1)
                rows.append((name, desc))
    reports = {}
    for name, _ in rows:
        path = os.path.join(args.dir, f"{name}.json")
        if os.path.exists(path):
            with open(path) as f:
                reports[name] = json.load(f)
    # write-floor rows (`presence-bench write-floor`) have a report of their own kind.
    floors = {n: r for n, r in reports.items() if r.get("kind") == "write-floor"}
    for n in floors:
        del reports[n]

    out = []
    w = out.append
    m = machine()
    w("# Benchmarks")
    w("")
    w("Written by `presence-bench/run.sh` (mode `%s`); do not edit by hand, run it again." % args.mode)
    w("How the tools work: `presence-bench/src/layout.rs` (schedules and matching), "
      "`presence-bench/src/stats.rs` (the report), `presence-bench/baseline/server.js` "
      "(the baseline).")
    if args.note:
        w("")
        w(f"> **{args.note}**")
    w("")
    w("Reproduce: `presence-bench/run.sh` (this page, ~10–20 min), `presence-bench/run.sh --quick` "
      "(smaller), `presence-bench/run.sh --only=ROW,ROW` (some rows), `presence-bench/run.sh --smoke` "
      "(CI's 30-second check), `presence-bench/run.sh --with-pairs` (and the before/after pairs of "
      "`presence-bench/pairs.sh`). Microbenchmarks: `cargo bench -p presence-bench --bench micro`. "
      "Tool documentation: `presence-bench/README.md`.")
    w("")
    w("## Machine")
    w("")
    w(f"- {m['cores']} cores, {m['model']}, {m['memory']} of memory, Linux {m['kernel']}")
    w(f"- {m['rustc']}; node {m['node']}; {m['redis']}")
    w(f"- run started {args.started}; raw reports in `{os.path.relpath(args.dir)}`")
    w("- placement: single-node rows pin the server (and its Redis) to CPU 0 and the "
      "generator to CPU 1, so *per server core* means one core; multi-node rows are not pinned.")
    w("")
    w("## How it measures")
    w("")
    w("- **Open loop.** Events go out at scheduled times (`t0 + k / rate`) whatever "
      "happened before; latency runs from the *scheduled* time to receipt at each "
      "recipient, so a stalled server or generator shows up as latency, not as a lower rate.")
    w("- **Exact matching.** Typing frames are matched by per-sender order (the n-th "
      "`typing:true` from a sender is its event 2n). Status churn carries `c{stage}.{k}` in "
      "the custom status and reads it back from `room_diff`. Join probes use one room per probe.")
    w("- **Delivery ratio** = matched deliveries / (events × recipients connected). "
      "A stage is *sustained* when the ratio is ≥ %.3f, p99 ≤ %.0f ms and the generator "
      "sent every event within %.0f ms of its schedule; a row's maximum is its highest "
      "sustained stage; the *½ max* stage reruns at half that rate."
      % (SUSTAINED_RATIO, SUSTAINED_P99_MS, SUSTAINED_LAG_MS))
    w("- **CPU** of each server and Redis comes from `/proc/<pid>/stat` over the stage, "
      "from its first scheduled event to its last delivery; **memory** is the server's RSS "
      "growth over the connections, plus the kernel's slab and TCP buffer growth halved "
      "(both ends of a loopback connection are on this machine).")
    w("- *other CPU s* is what the machine spent on anything but the measured processes "
      "during the stage (from `/proc/stat`): other work, and interrupt time. A stage where it "
      "reaches a quarter of a core is marked *noisy*.")
    w("- Both servers get a typing lifetime longer than the run (`--typing-ttl-ms` / the "
      "baseline's `TYPING_TIMEOUT_MS`): their own expiry frames would otherwise interleave "
      "with the schedule. The baseline runs with `GLOBAL_PRESENCE=0`: the seed as written "
      "broadcasts every online/offline to every socket (O(N²) frames), which only makes it slower.")
    w("")

    # --- connections and memory ---------------------------------------------------------
    w("## Connections and memory")
    w("")
    w("| row | established / failed | connects/s | handshake p50 / p99 ms | server RSS per conn | kernel per conn (est.) | server CPU per 1k connects |")
    w("|---|---|---|---|---|---|---|")
    for name, desc in rows:
        r = reports.get(name)
        if not r or r.get("idle") is None:
            continue
        c, idle = r["connections"], r["idle"]
        w(f"| **{name}**: {desc} | {fmt(c['established'])} / {fmt(c['failed'])} | {fmt(c['connects_per_s'])} "
          f"| {fmt(c['handshake']['p50_ms'], 1)} / {fmt(c['handshake']['p99_ms'], 1)} "
          f"| {fmt(idle['server_rss_per_conn_bytes'] / 1024, 1)} KiB | {fmt(idle['kernel_per_conn_bytes_est'] / 1024, 1)} KiB "
          f"| {fmt(c['server_cpu_ms_per_1k_connects'])} ms |")
    w("")

    aw = reports.get("idle-baseline-as-written")
    if aw:
        frames = sum(aw.get("other_frames", {}).values())
        c = aw["connections"]
        w(f"The seed as written (`GLOBAL_PRESENCE=1`, row **idle-baseline-as-written**): "
          f"{fmt(c['established'])} connections took {c['wall_s']:.1f} s ({fmt(c['connects_per_s'])}/s, "
          f"handshake p99 {c['handshake']['p99_ms']:.0f} ms) and sent the generator {fmt(frames)} "
          f"online/offline frames it never asked for ({aw.get('other_frames', {})}): every connect is "
          f"a frame to every socket, O(N²).")
        w("")

    # --- stages -------------------------------------------------------------------------
    w("## Event fan-out (every stage)")
    w("")
    w("| row | stage | events/s | deliveries/s | ratio | p50 / p90 / p99 / p99.9 / max ms | server CPU s | server CPU ms per 10k deliveries | deliveries per server CPU-s | incl. Redis | generator CPU s | other CPU s |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, desc in rows:
        r = reports.get(name)
        if not r or not r.get("stages"):
            continue
        for s in r["stages"]:
            lat = s["latency"]
            tags = []
            if s.get("half_of_max"):
                tags.append("½ max")
            if not sustained(s):
                tags.append("not sustained")
            tags += load_tags(s)
            tag = f" ({', '.join(tags)})" if tags else ""
            w(f"| {name} | {s['index']}{tag} | {fmt(s['rate_per_s'])} | {fmt(s['deliveries_per_s'])} | {s['ratio']:.4f} "
              f"| {lat['p50_ms']:.2f} / {lat['p90_ms']:.2f} / {lat['p99_ms']:.2f} / {lat['p999_ms']:.2f} / {lat['max_ms']:.1f} "
              f"| {s['server_cpu_s']:.2f} | {fmt(s['server_cpu_ms_per_10k_deliveries'], 1)} | {fmt(s['deliveries_per_server_cpu_s'])} | {fmt(s['deliveries_per_cpu_s_incl_redis'])} "
              f"| {s['generator_cpu_s']:.2f} | {s.get('other_cpu_s', 0):.2f} |")
    w("")
    for name, desc in rows:
        r = reports.get(name)
        if r and r.get("stages"):
            w(f"- **{name}**: {desc}.")
    w("")

    # --- reconnect, probes ----------------------------------------------------------------
    rc = reports.get("reconnect", {}).get("reconnect")
    jv = reports.get("cross-node", {}).get("join_visible")
    if rc or jv:
        w("## Reconnect storm and cross-node joins")
        w("")
        if rc:
            lat = rc["latency"]
            w(f"- **reconnect**: {fmt(rc['reconnected'])} of {fmt(rc['attempted'])} reconnected "
              f"({fmt(rc['failed'])} failed) within a {rc['window_s']:.0f} s window, last one ready "
              f"{rc['wall_s']:.1f} s after the start; reconnect (connect + hello + join) p50 "
              f"{lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms; "
              f"leaves seen by room members (flaps): {fmt(rc['flap_leaves'])}; "
              f"server CPU {sum(p['cpu_s'] for p in rc['procs'] if p['role'] == 'server'):.2f} s, "
              f"Redis CPU {sum(p['cpu_s'] for p in rc['procs'] if p['role'] == 'redis'):.2f} s.")
        if jv:
            lat = jv["latency"]
            w(f"- **cross-node joins**: {fmt(jv['seen'])} of {fmt(jv['probes'])} joins on one node seen "
              f"on another at {jv['rate_per_s']:.0f}/s; p50 {lat['p50_ms']:.1f} ms, p99 "
              f"{lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms (a room's first change after a "
              f"quiet coalescing window, `--coalesce-ms`, 50 ms by default, goes out at once; "
              f"later ones wait for the window).")
        w("")

    # --- ratios and targets ------------------------------------------------------------
    w("## Against the baseline")
    w("")
    ratios = []
    io, ib = reports.get("idle-ours"), reports.get("idle-baseline")
    if io and ib and io.get("idle") and ib.get("idle"):
        mo = io["idle"]["server_rss_per_conn_bytes"] + io["idle"]["kernel_per_conn_bytes_est"]
        mb = ib["idle"]["server_rss_per_conn_bytes"] + ib["idle"]["kernel_per_conn_bytes_est"]
        ratios.append(("memory per idle connection (server + kernel)", f"{mo / 1024:.1f} KiB", f"{mb / 1024:.1f} KiB",
                       f"{mb / mo:.2f}× (baseline ÷ presence)" if mo > 0 else "–"))
        co, cb = io["connections"]["connects_per_s"], ib["connections"]["connects_per_s"]
        ratios.append(("connects per second (hello + join)", fmt(co), fmt(cb), f"{co / cb:.1f}×" if cb else "–"))
    tb = reports.get("typing-baseline")
    for name in ("typing-ours", "typing-ours-redis"):
        t = reports.get(name)
        if not (t and tb):
            continue
        lo, lb = best_lossless(t), best_lossless(tb)
        if lo and lb:
            ratios.append((f"{name}: deliveries per server CPU-second, best stage (sustained where any)",
                           f"{fmt(lo['deliveries_per_server_cpu_s'])} ({at(lo)})",
                           f"{fmt(lb['deliveries_per_server_cpu_s'])} ({at(lb)})",
                           f"{lo['deliveries_per_server_cpu_s'] / lb['deliveries_per_server_cpu_s']:.1f}×"))
            if lb["deliveries_per_cpu_s_incl_redis"] > 0:
                ratios.append((f"{name}: deliveries per CPU-second, server + Redis, same stages",
                               fmt(lo["deliveries_per_cpu_s_incl_redis"]), fmt(lb["deliveries_per_cpu_s_incl_redis"]),
                               f"{lo['deliveries_per_cpu_s_incl_redis'] / lb['deliveries_per_cpu_s_incl_redis']:.1f}×"))
        so, sb = best_stage(t), best_stage(tb)
        ratios.append((f"{name}: highest sustained deliveries/s (p99 ≤ {SUSTAINED_P99_MS:.0f} ms, lossless)",
                       fmt(so["deliveries_per_s"]) if so else "none sustained",
                       fmt(sb["deliveries_per_s"]) if sb else "none sustained",
                       f"{so['deliveries_per_s'] / sb['deliveries_per_s']:.1f}×" if so and sb else "–"))
    if ratios:
        w("| figure | presence | baseline | ratio |")
        w("|---|---|---|---|")
        for fig, o, b, rt in ratios:
            w(f"| {fig} | {o} | {b} | {rt} |")
    else:
        w("(no baseline rows in this run)")
    w("")

    floor = render_floor(w, rows, floors, best_lossless(reports["typing-ours"]) if "typing-ours" in reports else None)

    w("## DESIGN.md targets")
    w("")
    w("| target | measured | met? |")
    w("|---|---|---|")

    def target(name, measured, ok):
        w(f"| {name} | {measured} | {'**met**' if ok else ('not met' if ok is not None else 'not measured')} |")

    if io and io.get("idle"):
        per = io["idle"]["server_rss_per_conn_bytes"] + io["idle"]["kernel_per_conn_bytes_est"]
        target("≤ 8 KB of server memory per idle connection (user space + kernel; 8,000 bytes)",
               f"{fmt(per)} bytes ({fmt(io['idle']['server_rss_per_conn_bytes'])} RSS + "
               f"{fmt(io['idle']['kernel_per_conn_bytes_est'])} kernel est.) at {fmt(io['connections']['established'])} connections in rooms of 20",
               per <= MEMORY_TARGET)
        cps = io["connections"]["connects_per_s"]
        target("≥ 10,000 connects/s (hello + join included)", f"{fmt(cps)}/s", cps >= 10_000)
    else:
        target("≤ 8 KB per idle connection", "–", None)
    nm = reports.get("node-max")
    if nm:
        c = nm["connections"]
        target("19,500 connections per node", f"{fmt(c['established'])} established, {fmt(c['failed'])} failed, "
               f"{len(nm.get('disconnects', {}))} kinds of drop", c["established"] >= 19_500 and not nm.get("disconnects"))
    cl = reports.get("cluster")
    if cl:
        c = cl["connections"]
        target(f"100,000 connections over 6 nodes on one Redis", f"{fmt(c['established'])} of {fmt(c['target'])}",
               c["established"] >= 100_000)
    to = reports.get("typing-ours")
    bo = best_stage(to) if to else None
    if bo:
        target("≥ 150,000 room-typing deliveries/s per server core (server pinned to one core)",
               f"{fmt(bo['deliveries_per_s'])}/s sustained ({fmt(bo['deliveries_per_server_cpu_s'])} per server CPU-s)"
               + (" — generator-bound" if gen_bound(bo) else "")
               + (f"; the kernel's floor here (one write() per delivery, nothing else): "
                  f"{fmt(floor)} writes per CPU-s" if floor else ""),
               bo["deliveries_per_s"] >= 150_000)
        hs = half_stage(to)
        if hs:
            target("p99 ≤ 10 ms at half the maximum rate", f"p99 {hs['latency']['p99_ms']:.2f} ms at {fmt(hs['rate_per_s'])} events/s "
                   f"({fmt(hs['deliveries_per_s'])} deliveries/s), ratio {hs['ratio']:.4f}",
                   hs["latency"]["p99_ms"] <= 10.0 and hs["ratio"] >= SUSTAINED_RATIO)
    lo = best_lossless(to) if to else None
    lb = best_lossless(tb) if tb else None
    if lo and lb:
        x = lo["deliveries_per_server_cpu_s"] / lb["deliveries_per_server_cpu_s"]
        target("≥ 5× the baseline's deliveries per CPU-second, nothing lost",
               f"{x:.1f}× ({fmt(lo['deliveries_per_server_cpu_s'])} {at(lo)} vs {fmt(lb['deliveries_per_server_cpu_s'])} {at(lb)} "
               "per server CPU-s, memory store vs Socket.IO; Redis-backed figures above)", x >= 5)
    if jv:
        target("a join on node A visible on node B, p99 ≤ 20 ms", f"p99 {jv['latency']['p99_ms']:.1f} ms ({fmt(jv['seen'])} of {fmt(jv['probes'])} seen)",
               jv["latency"]["p99_ms"] <= 20.0 and jv["seen"] >= jv["probes"])
    w("")

    if args.pairs:
        render_pairs(w, args.pairs)

    render_bounds(w, reports, floor, tb)
    render_profiles(w, args.dir)

    # --- problems ------------------------------------------------------------------------
    problems = []
    for name, _ in rows:
        if name in floors:
            for wmsg in floors[name].get("warnings", []):
                problems.append(f"{name}: {wmsg}")
            continue
        r = reports.get(name)
        if r is None:
            problems.append(f"{name}: no report (the row failed; see its logs)")
            continue
        problems.extend(report_problems(name, r))
    render_list(w, "## What went wrong in this run", problems)

    # --- microbenchmarks -----------------------------------------------------------------
    crit = os.path.join(args.criterion, "")
    micro = []
    for dirpath, _, files in os.walk(args.criterion):
        if os.path.basename(dirpath) == "new" and "benchmark.json" in files and "estimates.json" in files:
            with open(os.path.join(dirpath, "benchmark.json")) as f:
                bench = json.load(f)
            with open(os.path.join(dirpath, "estimates.json")) as f:
                est = json.load(f)
            micro.append((bench["full_id"], est["mean"]["point_estimate"], est["mean"]["confidence_interval"]))
    if micro:
        w("## Microbenchmarks")
        w("")
        w("From the last `cargo bench -p presence-bench --bench micro` on this machine "
          f"(`{os.path.relpath(crit)}`; not rerun by this script). Mean time per iteration; "
          "`fanout/*` is one event to 1,000 local sessions, `store/redis/*` round trips to a "
          "local `redis-server`.")
        w("")
        w("| benchmark | mean | 95 % interval |")
        w("|---|---|---|")

        def dur(ns):
            return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns"

        for name, mean, ci in sorted(micro):
            w(f"| `{name}` | {dur(mean)} | {dur(ci['lower_bound'])} – {dur(ci['upper_bound'])} |")
        w("")

    # --- commands ------------------------------------------------------------------------
    w("## Exact commands")
    w("")
    w("`$SECRET` stands for the shared HS256 secret (`BENCH_SECRET`). Ports are free ports "
      "picked at run time.")
    w("")
    for name, _ in rows:
        path = os.path.join(args.dir, f"{name}.cmd")
        if os.path.exists(path):
            w(f"**{name}**")
            w("")
            w("```sh")
            with open(path) as f:
                for line in f:
                    w(line.rstrip("\n").replace(os.getcwd() + "/", ""))
            w("```")
            w("")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
