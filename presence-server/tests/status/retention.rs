//! Retention: the memory store forgets an offline user after `--retention-days`, as
//! the Redis store does (`docs/redis.md`, "Retention").

use super::*;

const DAY: Duration = Duration::from_secs(24 * 3600);

#[tokio::test(start_paused = true)]
async fn an_offline_user_is_forgotten_after_the_retention() {
    let server = TestServer::with(|c| c.retention_days = 1).await;
    let mut alice = server.client("alice").await;
    set_status(&mut alice, "busy", 1).await;
    alice.close().await;
    let mut carol = server.client("carol").await;
    // Kept while the retention runs: her last seen, under her name.
    let mut seen = query(&mut carol, &["alice"], 2).await;
    while seen[0].status != EffectiveStatus::Offline {
        tokio::time::sleep(QUIET).await;
        seen = query(&mut carol, &["alice"], 3).await;
    }
    assert!(seen[0].last_seen.is_some(), "{seen:?}");
    assert_eq!(seen[0].name, "Alice");
    carol.close().await;

    // A day later her record is gone: she is a user the server has never seen.
    tokio::time::advance(DAY + Duration::from_secs(1)).await;
    let mut dave = server.client("dave").await;
    let seen = query(&mut dave, &["alice"], 4).await;
    assert_eq!(seen[0].last_seen, None, "{seen:?}");
    assert_eq!((seen[0].name.as_str(), seen[0].since), ("", 0));
    // Who comes back starts afresh, with the status everybody starts with.
    let _alice = server.client("alice").await;
    let seen = query(&mut dave, &["alice"], 5).await;
    assert_eq!(seen[0].status, EffectiveStatus::Online);
    server.shutdown().await.unwrap();
}
