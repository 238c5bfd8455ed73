//! Readings from `/proc`: CPU time and RSS of given processes (the servers, Redis, and
//! this generator), and the kernel's memory for sockets.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the epoch: the clock every shard shares (one machine).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// A process's CPU time (user + system), in seconds. `pid` 0 means this process.
pub fn cpu_s(pid: u32) -> Option<f64> {
    cpu_user_sys_s(pid).map(|(user, sys)| user + sys)
}

/// A process's CPU time in user space and in the kernel, in seconds. `pid` 0 means
/// this process.
pub fn cpu_user_sys_s(pid: u32) -> Option<(f64, f64)> {
    let path = if pid == 0 {
        "/proc/self/stat".to_owned()
    } else {
        format!("/proc/{pid}/stat")
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name may contain spaces: fields are counted after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3; utime and stime are fields 14 and 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime / clock_ticks(), stime / clock_ticks()))
}

/// CPU time the whole machine spent busy (everything but idle and iowait), in seconds
/// summed over cores: compared with the watched processes, it tells how much else ran.
pub fn machine_busy_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal …
    let busy: f64 = v
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4 && *i < 8)
        .map(|(_, x)| x)
        .sum();
    busy / clock_ticks()
}

/// The machine's 1-minute load average.
pub fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// Resident set size in KiB. `pid` 0 means this process.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let path = if pid == 0 {
        "/proc/self/status".to_owned()
    } else {
        format!("/proc/{pid}/status")
    };
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Kernel memory that grows with sockets, in KiB: slab (socket, inode, dentry, epoll
/// objects) plus TCP buffer pages. System-wide, so it covers both ends of every
/// loopback connection.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct KernelMem {
    pub slab_kb: u64,
    pub tcp_buffers_kb: u64,
}

pub fn kernel_mem() -> KernelMem {
    let slab_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("Slab:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0);
    let tcp_pages: u64 = std::fs::read_to_string("/proc/net/sockstat")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("TCP:"))?.to_owned();
            let mut it = line.split_whitespace();
            while let Some(word) = it.next() {
                if word == "mem" {
                    return it.next().and_then(|v| v.parse().ok());
                }
            }
            None
        })
        .unwrap_or(0);
    KernelMem {
        slab_kb,
        tcp_buffers_kb: tcp_pages * 4,
    }
}

/// CPU seconds of several processes at one moment.
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot(pub Vec<(u32, Option<f64>)>);

impl CpuSnapshot {
    pub fn take(pids: &[u32]) -> Self {
        Self(pids.iter().map(|&p| (p, cpu_s(p))).collect())
    }

    /// CPU seconds used per pid since `earlier`.
    pub fn since(&self, earlier: &Self) -> Vec<(u32, f64)> {
        self.0
            .iter()
            .zip(&earlier.0)
            .map(|((pid, now), (_, then))| {
                (*pid, (now.unwrap_or(0.0) - then.unwrap_or(0.0)).max(0.0))
            })
            .collect()
    }
}

/// A tokio runtime on the current thread for `threads` ≤ 1 (what the generator and the
/// floor's reader use by default: one pinned core), else with that many workers.
pub fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}
