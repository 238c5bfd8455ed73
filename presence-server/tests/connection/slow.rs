//! Slow clients.
//!
//! Real time: what ends `slow` is real kernel socket buffers filling up.

use super::*;

#[tokio::test]
async fn client_that_never_reads_is_dropped_when_its_queue_overflows() {
    // A write timeout longer than the test: only the full queue can end `slow`.
    slow_client_is_dropped_while_the_others_keep_up(16, 600_000).await;
}

#[tokio::test]
async fn client_that_never_reads_is_dropped_when_a_write_waits_too_long() {
    // A queue that never fills here: only the write that waits on `slow`'s full socket
    // for longer than the write timeout can end it.
    slow_client_is_dropped_while_the_others_keep_up(10_000_000, 300).await;
}

async fn slow_client_is_dropped_while_the_others_keep_up(queue: usize, write_timeout_ms: u64) {
    let server = TestServer::with(|c| {
        c.outbound_queue = queue;
        c.write_timeout_ms = write_timeout_ms;
        // Nor can the dead-connection check end it: `slow` answers no ping.
        c.ping_interval_ms = 300_000;
        c.dead_after_ms = 600_000;
        // The typist sends thousands of frames a second: no rate limit here.
        c.rate_per_sec = 1_000_000;
        c.rate_burst = 1_000_000;
        // Every start and stop of the typist is fanned out: no typing window.
        c.typing_window_ms = 0;
        c.grace_ms = 400;
    })
    .await;
    // Long ids make every event big (~300 bytes), so that kernel buffers fill sooner.
    // Measured on loopback with default buffers: `slow` is cut off after ~10,000
    // events (~3 MB) and seen leaving after ~17,000, about a second into the rounds.
    let room = format!("room-{}", "r".repeat(123));
    let typist_id = format!("typist-{}", "t".repeat(121));
    let mut slow = server.client("slow").await;
    slow.join(&room).await;
    let mut fast = server.client("fast").await;
    fast.join(&room).await;
    let mut typist = server.client(&typist_id).await;
    typist.join(&room).await;
    fast.recv_until(|f| joined(f, &typist_id)).await;
    // From here `slow` never reads. The typist starts and stops typing in rounds
    // (typing events are not coalesced: each is a frame to every member); `fast`
    // reads every one of them, in order, before the next round.
    const ROUND: usize = 10;
    const MAX_ROUNDS: usize = 20_000;
    let started = Instant::now();
    let mut slow_left = false;
    let mut events = 0usize;
    for _ in 0..MAX_ROUNDS {
        let frames = (0..ROUND)
            .map(|i| json!({"type": "typing", "room": room, "typing": i % 2 == 0}).to_string());
        typist.send_batch(frames).await;
        let mut n = 0;
        fast.recv_until(|f| match f {
            ServerFrame::Typing { user, typing, .. } => {
                assert_eq!(user, &typist_id);
                assert_eq!(
                    *typing,
                    n % 2 == 0,
                    "typing event {} out of order",
                    events + n
                );
                n += 1;
                n == ROUND
            }
            ServerFrame::Error { .. } => panic!("fast got an error: {f:?}"),
            f => {
                slow_left |= left(f, "slow");
                false
            }
        })
        .await;
        events += ROUND;
        if slow_left {
            break;
        }
    }
    assert!(
        slow_left,
        "`slow` was still a member after {events} typing events of ~300 bytes ({:?})",
        started.elapsed()
    );
    // `fast` still gets everything, up to the last update.
    let text = "z".repeat(128);
    typist
        .send(json!({"type": "set_custom", "custom": {"text": text}, "ref": 1}))
        .await;
    typist
        .recv_until(|f| {
            assert!(
                !is_error(f, ErrorCode::RateLimited),
                "typist limited: {f:?}"
            );
            *f == ServerFrame::Ack { r#ref: 1 }
        })
        .await;
    fast.recv_until(|f| {
        matches!(f, ServerFrame::RoomDiff { updates, joins, .. }
            if updates.iter().chain(joins).any(|p| p.user == typist_id
                && p.custom.as_ref().and_then(|c| c.text.as_deref()) == Some(text.as_str())))
    })
    .await;
    // `slow` reads at last: whatever was still buffered, then the end.
    let (_, code) = slow.expect_close().await;
    assert!(
        matches!(code, None | Some(1013)),
        "a dropped slow client is closed with 1013 or just cut off, got {code:?}"
    );
}
