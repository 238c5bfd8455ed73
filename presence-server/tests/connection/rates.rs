//! Rate limits.
//!
//! Real time: the rate limiter refills by the real clock, not tokio's.

use super::*;

/// A server whose rate limiter lets `per_sec` frames a second through after a burst of
/// `burst`, and alice connected to it.
async fn alice_limited_to(per_sec: u32, burst: u32) -> (TestServer, Client) {
    let server = TestServer::with(|c| {
        c.rate_per_sec = per_sec;
        c.rate_burst = burst;
    })
    .await;
    let alice = server.client("alice").await;
    (server, alice)
}

#[tokio::test]
async fn flood_of_100_frames_gets_one_rate_limited_error_then_close_4429() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.send_batch(pings(1..=100)).await;
    let (frames, code) = alice.expect_close().await;
    assert_eq!(code, Some(4429));
    let errors: Vec<_> = frames
        .iter()
        .filter(|f| matches!(f, ServerFrame::Error { .. }))
        .collect();
    assert!(
        matches!(errors.as_slice(), [f] if is_error(f, ErrorCode::RateLimited)),
        "expected exactly one rate_limited error, got {errors:?}"
    );
    // The burst (40 by default) went through, in order.
    let pongs: Vec<u64> = frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Pong { r#ref, .. } => *r#ref,
            _ => None,
        })
        .collect();
    assert!(pongs.len() >= 40, "only {} pongs", pongs.len());
    assert_eq!(pongs[..40], (1..=40).collect::<Vec<u64>>());
}

#[tokio::test]
async fn client_within_its_rate_is_never_limited() {
    let (_server, mut alice) = alice_limited_to(20, 40).await;
    // A burst inside the burst size …
    alice.send_batch(pings(1..=30)).await;
    for r in 1..=30 {
        match alice.recv().await {
            ServerFrame::Pong { r#ref, .. } => assert_eq!(r#ref, Some(r)),
            other => panic!("expected pong {r}, got {other:?}"),
        }
    }
    // … then a steady 10 frames a second, under the sustained 20.
    for r in 31..=40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        expect_still_open(&mut alice, r).await;
    }
    alice.expect_silence(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn nineteen_over_limit_frames_in_a_row_are_tolerated() {
    // One frame a second: no token comes back while the test runs.
    let (_server, mut alice) = alice_limited_to(1, 40).await;
    alice.send_batch(pings(1..=59)).await;
    for r in 1..=40 {
        assert!(matches!(alice.recv().await, ServerFrame::Pong { r#ref: Some(x), .. } if x == r));
    }
    assert!(is_error(&alice.recv().await, ErrorCode::RateLimited));
    // Nineteen over the limit: warned once, not closed.
    alice.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn twentieth_over_limit_frame_in_a_row_closes_with_4429() {
    let (_server, mut alice) = alice_limited_to(1, 40).await;
    alice.send_batch(pings(1..=60)).await;
    let (frames, code) = alice.expect_close().await;
    assert_eq!(code, Some(4429), "frames: {frames:?}");
    assert_eq!(frames.len(), 41, "40 pongs and one error: {frames:?}");
    assert!(is_error(&frames[40], ErrorCode::RateLimited));
}
