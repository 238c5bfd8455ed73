//! Liveness: server pings, dead connections; shutdown.

use super::*;

#[tokio::test(start_paused = true)]
async fn server_sends_websocket_pings_every_ping_interval() {
    let server = TestServer::with(|c| c.ping_interval_ms = 100).await;
    let mut alice = server.client("alice").await;
    let n = alice.count_pings(Duration::from_millis(650)).await;
    assert!(n >= 3, "only {n} pings in 650 ms at one per 100 ms");
    assert!(n <= 8, "{n} pings in 650 ms at one per 100 ms");
}

#[tokio::test(start_paused = true)]
async fn client_that_answers_pings_stays_connected_without_sending_frames() {
    let server = TestServer::with(|c| {
        c.ping_interval_ms = 100;
        c.dead_after_ms = 300;
    })
    .await;
    let mut alice = server.client("alice").await;
    // Only WebSocket pongs (answered by tungstenite while polled) for over three
    // dead_after periods.
    let n = alice.count_pings(Duration::from_millis(1_000)).await;
    assert!(n >= 3, "only {n} pings");
    expect_still_open(&mut alice, 1).await;
}

#[tokio::test(start_paused = true)]
async fn client_that_stops_answering_pings_is_dropped_and_leaves_after_grace() {
    let server = TestServer::with(|c| {
        c.ping_interval_ms = 100;
        c.dead_after_ms = 300;
        c.grace_ms = 400;
    })
    .await;
    let [mut alice, mut bob] = server.joined("room", ["alice", "bob"]).await;
    alice.recv_until(|f| joined(f, "bob")).await;
    // From here bob's socket is never polled, so it answers no ping.
    let started = Instant::now();
    let diff = alice.recv_until(|f| left(f, "bob")).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(500),
        "bob left after {elapsed:?}: sooner than dead_after 300 ms + grace 400 ms; {diff:?}"
    );
    // Bob's connection is gone: what he reads now ends in a close.
    bob.expect_close().await;
    // Alice, who kept answering, is still there.
    expect_still_open(&mut alice, 1).await;
}

// ---------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn graceful_shutdown_closes_every_connection_with_1012() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let [mut alice, mut bob] = server.joined("room", ["alice", "bob"]).await;
    let mut anonymous = Client::connect(&server).await; // no hello yet
    server.shutdown().await.unwrap();
    for (who, c) in [
        ("alice", &mut alice),
        ("bob", &mut bob),
        ("anonymous", &mut anonymous),
    ] {
        let (frames, code) = c.expect_close().await;
        assert_eq!(code, Some(1012), "{who}: frames {frames:?}");
    }
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed after shutdown"
    );
}
