//! The targets the page holds the measurements against: data, in
//! `presence-bench/targets.json` (compiled in; `report --targets FILE` reads another).

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

/// The targets file the binary was built with.
pub const DEFAULT: &str = include_str!("../../targets.json");

/// Each target: the text its row on the page shows, and its limit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    pub memory_per_idle_connection: Memory,
    pub connects_per_s: AtLeast,
    pub connections_per_node: AtLeast,
    pub cluster_connections: AtLeast,
    pub deliveries_per_core: Deliveries,
    pub p99_at_half_max: AtMostMs,
    pub vs_baseline: Ratio,
    pub join_visible: Join,
}

/// Server memory (user space + kernel) per idle connection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    pub text: String,
    /// The row's text when there is no measurement.
    pub short: String,
    /// The limit as the "what bounds it" paragraph names it.
    pub limit_text: String,
    pub max_bytes: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtLeast {
    pub text: String,
    pub min: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deliveries {
    pub text: String,
    pub min_per_s: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtMostMs {
    pub text: String,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ratio {
    pub text: String,
    pub min_ratio: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Join {
    pub text: String,
    pub max_p99_ms: f64,
}

impl Targets {
    /// `file`, or the compiled-in targets without one.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
            }
            None => serde_json::from_str(DEFAULT).context("parsing the compiled-in targets.json"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_targets_parse() {
        let t = Targets::load(None).expect("targets.json parses");
        assert_eq!(t.memory_per_idle_connection.max_bytes, 8000.0);
        assert_eq!(t.vs_baseline.min_ratio, 5.0);
    }
}
