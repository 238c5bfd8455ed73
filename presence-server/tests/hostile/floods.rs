//! Floods and timeouts: too many frames (`docs/protocol.md`, "Rate limit": one
//! `rate_limited`, then 4429 at the 20th dropped frame in a row), too many bad frames
//! ("Bad frames": each answered with `bad_request`, 4400 at the 10th), and no `hello`
//! (`unauthorized` "no hello in time", then 4408 after 10 s).

use super::raw::Raw;
use super::{Got, Target};

/// 100 pings in one write: past the burst of 40 and 20 dropped in a row.
pub(crate) async fn frame_flood(t: Target) -> Got {
    flood(t, "mallory".to_owned()).await
}

async fn flood(t: Target, user: String) -> Got {
    let mut raw = Raw::hello(&t, &user).await;
    raw.texts((1..=100).map(|r| format!(r#"{{"type":"ping","ref":{r}}}"#)))
        .await;
    raw.outcome().await
}

/// 10 frames that are not JSON, in one write.
pub(crate) async fn bad_frame_flood(t: Target) -> Got {
    bad_flood(t, "mallory".to_owned()).await
}

async fn bad_flood(t: Target, user: String) -> Got {
    let mut raw = Raw::hello(&t, &user).await;
    raw.texts((0..10).map(|_| "{".to_owned())).await;
    raw.outcome().await
}

/// A WebSocket that never says hello.
pub(crate) async fn hello_timeout(t: Target) -> Got {
    Raw::upgrade(&t).await.outcome().await
}

/// Runs `attack` from `n` connections at once, as users `mallory0`…
async fn at_once<F, Fut>(t: Target, n: usize, attack: F) -> Got
where
    F: Fn(Target, String) -> Fut,
    Fut: std::future::Future<Output = Got> + Send + 'static,
{
    let attacks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(attack(t.clone(), format!("mallory{i}"))))
        .collect();
    let mut gots = Vec::new();
    for a in attacks {
        gots.push(a.await.unwrap());
    }
    Got::all_same(gots)
}

/// 100 connections flooding at once.
pub(crate) async fn many_frame_floods_at_once(t: Target) -> Got {
    at_once(t, 100, flood).await
}

/// 100 connections sending bad frames at once.
pub(crate) async fn many_bad_frame_floods_at_once(t: Target) -> Got {
    at_once(t, 100, bad_flood).await
}
