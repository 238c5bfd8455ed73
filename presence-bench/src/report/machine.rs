//! The machine the run measured: read here, or given (`report --machine FILE`) so that a
//! page can be rendered elsewhere, and the golden test does not depend on its host.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Machine {
    pub cores: usize,
    pub model: String,
    /// `23.5 GiB`.
    pub memory: String,
    pub kernel: String,
    pub rustc: String,
    pub node: String,
    pub redis: String,
}

/// A tool's first output, trimmed; empty when it is missing or fails.
fn sh(cmd: &str, arg: &str) -> String {
    std::process::Command::new(cmd)
        .arg(arg)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

impl Machine {
    pub fn here() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default();
        let cores = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count()
            .max(1);
        let mem_kb: f64 = std::fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned();
        let redis = sh("redis-server", "--version");
        Self {
            cores,
            model,
            memory: format!("{:.1} GiB", mem_kb / 1024.0 / 1024.0),
            kernel,
            rustc: sh("rustc", "--version"),
            node: sh("node", "--version"),
            redis: redis.split(" sha=").next().unwrap_or_default().to_owned(),
        }
    }
}
