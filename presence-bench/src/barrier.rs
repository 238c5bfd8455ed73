//! Start lines shared by several generator processes: each shard writes a file when it
//! is ready, and when all `shards` files are there every shard computes the same start
//! time from them (the latest ready time plus a margin). One machine, one clock.

use std::path::Path;
use std::time::Duration;

use crate::sys::now_us;

/// Time between the last shard being ready and the start, so every shard sees the
/// files and sleeps until the same moment.
const MARGIN_US: u64 = 300_000;

/// Waits for every shard at the barrier `name`; returns the common start (epoch µs).
pub async fn wait(
    dir: Option<&Path>,
    name: &str,
    shard: usize,
    shards: usize,
    timeout: Duration,
) -> anyhow::Result<u64> {
    let now = now_us();
    let Some(dir) = dir else {
        return Ok(now + MARGIN_US);
    };
    if shards <= 1 {
        return Ok(now + MARGIN_US);
    }
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.{shard}.tmp"));
    std::fs::write(&tmp, now.to_string())?;
    std::fs::rename(&tmp, dir.join(format!("{name}.{shard}")))?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let times: Vec<u64> = (0..shards)
            .filter_map(|s| std::fs::read_to_string(dir.join(format!("{name}.{s}"))).ok())
            .filter_map(|t| t.trim().parse().ok())
            .collect();
        if times.len() == shards {
            return Ok(times.iter().max().copied().unwrap_or(now) + MARGIN_US);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "barrier {name}: only {} of {shards} shards arrived within {timeout:?}",
                times.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
