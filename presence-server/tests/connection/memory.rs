//! A measurement, not a test (ignored; run with `--run-ignored only --no-capture`):
//! the release or debug binary's RSS before, during and after a burst of `room_state`s
//! queued for clients that never read. With `MEASURE_MALLOC_CONF` set, it is passed to
//! jemalloc as `_RJEM_MALLOC_CONF` (`background_thread:false` is how the server ran
//! before it was built with jemalloc's background threads). `MEASURE_ARGS` adds
//! server flags (say `--outbound-queue 10000000 --outbound-queue-bytes 10000000000`
//! for the server without its queue bounds). The clients that never read hang up 20 s
//! into the burst.
//!
//! Measured on the debug binary (300 members, 20 clients, 200 re-joins each): with the
//! default bounds RSS went 24 → 33 MB (all 20 closed with 1013 by their byte budget)
//! and back to 23 MB. Without the bounds it peaked at 295 MB, and was back to 25 MB
//! 8 s after the hang-up with jemalloc's background thread; with
//! `background_thread:false` it stayed at 295 MB.

use super::*;
use crate::common::process::{self, Process};

fn rss_mb(server: &Process) -> f64 {
    server.rss_kib() as f64 / 1024.0
}

#[tokio::test]
#[ignore = "a measurement for the record, not a test"]
async fn rss_after_a_burst_of_room_states_for_clients_that_never_read() {
    let mut cmd = process::command();
    cmd.args(["--jwt-secret", common::SECRET])
        .args(["--rate-per-sec", "1000000", "--rate-burst", "1000000"])
        .args([
            "--write-timeout-ms",
            "600000",
            "--ping-interval-ms",
            "300000",
        ])
        .args([
            "--dead-after-ms",
            "600000",
            "--max-rooms-per-session",
            "100",
        ]);
    if let Ok(args) = std::env::var("MEASURE_ARGS") {
        cmd.args(args.split_whitespace());
    }
    if let Ok(conf) = std::env::var("MEASURE_MALLOC_CONF") {
        cmd.env("_RJEM_MALLOC_CONF", conf);
    }
    let server = Process::start(cmd);
    let addr = server.addr.to_string();
    let url = format!("ws://{addr}{}", presence_protocol::WS_PATH);

    // A room of 300 members with long ids: its `room_state` is about 100 KB.
    let room = format!("room-{}", "r".repeat(123));
    let mut members = Vec::new();
    for i in 0..300 {
        let mut c = Client::connect_url(&url).await;
        c.hello(&token(&format!("{i:04}-{}", "m".repeat(123))))
            .await;
        c.send(json!({"type": "join", "room": room, "ref": 1}))
            .await;
        members.push(c);
    }
    // Read every member's state, so that only the burst is queued.
    for c in &mut members {
        c.recv_until(|f| matches!(f, ServerFrame::RoomState { .. }))
            .await;
    }
    let before = rss_mb(&server);
    // 20 sessions of one user that never read, each re-joining the room 200 times.
    let mut attackers = Vec::new();
    for i in 0..20 {
        let mut c = Client::connect_url(&url).await;
        c.hello_device(&token("attacker"), &format!("tab{i}")).await;
        attackers.push(c);
    }
    for c in &mut attackers {
        c.send_batch((0..200).map(|r| json!({"type": "join", "room": room, "ref": r}).to_string()))
            .await;
    }
    let mut peak = before;
    let mut series = Vec::new();
    for second in 0..=40 {
        if second == 20 {
            attackers.clear();
        }
        let rss = rss_mb(&server);
        peak = peak.max(rss);
        series.push(format!("{second}s {rss:.0}"));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let after = rss_mb(&server);
    println!(
        "MALLOC_CONF={:?}: RSS before the burst {before:.0} MB, peak {peak:.0} MB, \
         40 s later {after:.0} MB; by second: {}",
        std::env::var("MEASURE_MALLOC_CONF").ok(),
        series.join(", ")
    );
    let (_, metrics) = http_get(addr.parse().unwrap(), "/metrics").await;
    for line in metrics.lines().filter(|l| {
        [
            "presence_outbound",
            "presence_slow_clients",
            "presence_connections ",
        ]
        .iter()
        .any(|m| l.starts_with(m))
    }) {
        println!("{line}");
    }
    drop(server);
}
