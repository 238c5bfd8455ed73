mod common;

use common::TestServer;
use presence_protocol::{EffectiveStatus, ServerFrame};
use serde_json::json;

#[tokio::test]
async fn two_users_see_each_other_join_a_room() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let state = alice.join("lobby").await;
    let ServerFrame::RoomState { count, members, .. } = state else {
        unreachable!()
    };
    assert_eq!(count, 1);
    assert_eq!(members[0].user, "alice");
    assert_eq!(members[0].status, EffectiveStatus::Online);

    let mut bob = server.client("bob").await;
    let ServerFrame::RoomState { count, .. } = bob.join("lobby").await else {
        unreachable!()
    };
    assert_eq!(count, 2);
    // Alice's own join may come back in a diff too (diffs carry whole presences, so
    // applying one after the state is harmless); wait for the one naming Bob.
    let diff = alice
        .recv_until(|f| matches!(f, ServerFrame::RoomDiff { joins, .. } if joins.iter().any(|p| p.user == "bob")))
        .await;
    let ServerFrame::RoomDiff { leaves, .. } = diff else {
        unreachable!()
    };
    assert!(leaves.is_empty());

    bob.send(json!({"type": "leave", "room": "lobby", "ref": 9}))
        .await;
    bob.recv_until(|f| *f == ServerFrame::Ack { r#ref: 9 })
        .await;
    let diff = alice
        .recv_until(|f| matches!(f, ServerFrame::RoomDiff { leaves, .. } if !leaves.is_empty()))
        .await;
    let ServerFrame::RoomDiff { leaves, .. } = diff else {
        unreachable!()
    };
    assert_eq!(leaves, vec!["bob".to_owned()]);
    server.shutdown().await.unwrap();
}
