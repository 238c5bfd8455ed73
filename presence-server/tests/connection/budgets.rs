//! The outbound queue's byte budgets: per session, and for the whole node.
//!
//! Real time: what fills a queue is real kernel socket buffers filling up.

use super::*;

/// A server where only the byte budgets can end a client that never reads: no frame
/// limit, write timeout, dead-connection check or rate limit gets in the way.
async fn server_with(f: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::with(|c| {
        c.outbound_queue = 10_000_000;
        c.write_timeout_ms = 600_000;
        c.ping_interval_ms = 300_000;
        c.dead_after_ms = 600_000;
        c.rate_per_sec = 1_000_000;
        c.rate_burst = 1_000_000;
        f(c);
    })
    .await
}

/// A room whose `room_state` is about 12 KB: 40 members with long ids. Returns the
/// room and the members, who have read everything up to their own join.
async fn big_room(server: &TestServer) -> (String, Vec<Client>) {
    let room = format!("room-{}", "r".repeat(123));
    let mut members = Vec::new();
    for i in 0..40 {
        let mut c = server.client(&format!("{i:03}-{}", "m".repeat(124))).await;
        c.join(&room).await;
        members.push(c);
    }
    (room, members)
}

/// Re-joins `room` `n` times in one write, and never reads the answers.
async fn rejoin_flood(c: &mut Client, room: &str, n: usize) {
    c.send_batch((0..n).map(|i| json!({"type": "join", "room": room, "ref": i}).to_string()))
        .await;
}

/// 20 sessions that never read, each re-joining a big room, used to take the server
/// from 18 to 558 MB: the queue counted frames only.
#[tokio::test]
async fn a_client_over_its_byte_budget_is_closed_like_a_slow_one() {
    let server = server_with(|_| {}).await; // 2 MiB a session by default
    let (room, mut members) = big_room(&server).await;
    let mut slow = server.client("slow").await;
    slow.join(&room).await;
    // ~36 MB of `room_state`s: far more than the kernel's socket buffers hold.
    rejoin_flood(&mut slow, &room, 3_000).await;
    // Its queue went over its budget: closed with 1013, so it lingers and then
    // leaves (grace 400 ms).
    let observer = &mut members[0];
    observer.recv_until(|f| left(f, "slow")).await;
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn joins_of_rooms_that_may_be_large_are_refused_while_the_node_has_too_much_queued() {
    let server = server_with(|c| {
        c.outbound_queue_bytes = 64 << 20;
        c.node_outbound_bytes = 1 << 20;
    })
    .await;
    let (room, _members) = big_room(&server).await;
    let mut slow = server.client("slow").await;
    slow.join(&room).await;
    rejoin_flood(&mut slow, &room, 3_000).await;

    // Once the flood is queued, a join of a room this node knows nothing of (its
    // state may be large) is refused, and the node's memory stays bounded.
    let mut late = server.client("late").await;
    let mut refused = None;
    for attempt in 0..100u64 {
        late.send(json!({"type": "join", "room": format!("other-{attempt}"), "ref": attempt}))
            .await;
        match late
            .recv_until(|f| matches!(f, ServerFrame::RoomState { .. } | ServerFrame::Error { .. }))
            .await
        {
            ServerFrame::Error {
                code,
                message,
                r#ref,
            } => {
                assert_eq!(code, ErrorCode::Busy, "{message}");
                assert_eq!(r#ref, Some(attempt));
                refused = Some(message);
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let message = refused.expect("a join refused under pressure");
    assert!(message.contains("retry"), "{message}");
    // A room known to have at most 100 members can still be joined.
    match late.join(&room).await {
        ServerFrame::RoomState { count, .. } => assert_eq!(count, 42),
        other => panic!("expected room_state, got {other:?}"),
    }
    server.shutdown().await.expect("shutdown");
}
