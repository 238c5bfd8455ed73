//! The built binary as a child process, as an operator runs it: on 127.0.0.1 with a
//! port the kernel picks (read back from its "listening bound=…" log line), configured
//! by flags only (no `PRESENCE_*` from the test's environment), its stderr collected
//! line by line. Stopped by its PID: SIGKILL when dropped, SIGTERM on request. The log
//! is printed when the test fails.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The built server binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_presence-server");

/// The binary [`command`] runs: [`BIN`] (the debug build of this test run), or
/// another one named by `PRESENCE_TEST_SERVER_BIN`, such as the release build
/// (`target/release/presence-server`) for the heavy hostile cases.
pub fn server_bin() -> String {
    std::env::var("PRESENCE_TEST_SERVER_BIN").unwrap_or_else(|_| BIN.to_owned())
}

/// How long the binary may take to bind (generous: a busy 2-core machine runs several
/// tests at once).
const START_WITHIN: Duration = Duration::from_secs(30);

/// A running `presence-server` process.
pub struct Process {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

/// The binary, or the binary run by `wrapper` (for example
/// `["prlimit", "--nofile=32:64", "--"]`), with no `PRESENCE_*` variable of the
/// environment, an info-level, colourless log and no flags.
pub fn bare_command_under(wrapper: &[&str]) -> Command {
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut cmd = Command::new(program);
            cmd.args(args).arg(server_bin());
            cmd
        }
        None => Command::new(server_bin()),
    };
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PRESENCE_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "info").env("NO_COLOR", "1");
    cmd
}

/// [`bare_command_under`] with `--bind 127.0.0.1:0`.
pub fn command_under(wrapper: &[&str]) -> Command {
    let mut cmd = bare_command_under(wrapper);
    cmd.args(["--bind", "127.0.0.1:0"]);
    cmd
}

/// [`command_under`] with no wrapper: the binary itself.
pub fn command() -> Command {
    command_under(&[])
}

impl Process {
    /// Starts `cmd` (from [`command`], with the test's flags added) and waits until it
    /// listens.
    pub fn start(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let bound = line.split("bound=").nth(1).map(|rest| {
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                });
                // Logged before the address is handed over: a test that starts sees
                // every line up to the listening one.
                lines.lock().unwrap().push(line);
                if let Some(addr) = bound {
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = match rx.recv_timeout(START_WITHIN) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server logged no listening address within {START_WITHIN:?}:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Self {
            child,
            addr: addr.parse().unwrap(),
            log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Its resident set size (VmRSS) in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    /// Every log line so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The log lines so far that contain `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter().filter(|l| l.contains(needle)).cloned().collect()
    }

    /// Sends SIGTERM (`kill -TERM <pid>`): a graceful shutdown.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {}", self.pid());
    }

    /// Waits for it to exit (blocking).
    pub fn wait(&mut self) -> ExitStatus {
        self.child.wait().unwrap()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log.lock().map(|l| l.join("\n")).unwrap_or_default();
            eprintln!("===== server log =====\n{log}\n===== end of server log =====");
        }
    }
}
