//! The reader side of `write-floor`: the `floor-reader` process (one tokio task per
//! connection that reads and counts bytes; its stdin and stdout are the control line), and
//! the writer's handle on it.

use std::io::{BufRead as _, BufReader, ErrorKind, Write as _};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::FloorArgs;

/// The hidden `floor-reader` subcommand's options (the writer passes them).
#[derive(Debug, Clone, clap::Args)]
pub struct ReaderArgs {
    #[arg(long)]
    pub connect: SocketAddr,
    #[arg(long)]
    pub connections: usize,
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

/// The reader process and its control line; stopped (stdin closed, then killed by its
/// PID if it lingers) when dropped.
#[derive(Debug)]
pub(super) struct Reader {
    pub(super) child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Reader {
    pub(super) fn start(args: &FloorArgs, addr: SocketAddr) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding this executable")?;
        let mut cmd = match args.reader_cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.arg("floor-reader")
            .arg("--connect")
            .arg(addr.to_string())
            .arg("--connections")
            .arg(args.connections.to_string())
            .arg("--threads")
            .arg(args.reader_threads.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().context("starting the reader")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("the reader's stdout")?;
        Ok(Self {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn line(&mut self) -> anyhow::Result<String> {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line)?;
        anyhow::ensure!(n > 0, "the reader ended (see its stderr)");
        Ok(line.trim().to_owned())
    }

    /// Waits until the reader has read `bytes` (at most `max`); returns what it read.
    pub(super) fn wait_for(&mut self, bytes: u64, max: Duration) -> anyhow::Result<u64> {
        let stdin = self
            .stdin
            .as_mut()
            .context("the reader's stdin is closed")?;
        writeln!(stdin, "wait {bytes} {}", max.as_millis())?;
        stdin.flush()?;
        let line = self.line()?;
        line.parse()
            .with_context(|| format!("the reader answered {line:?}"))
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads one connection until it ends, counting bytes.
async fn read_all(stream: tokio::net::TcpStream, bytes: Arc<AtomicU64>) {
    let mut buf = [0u8; 1024];
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        match stream.try_read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// The hidden `floor-reader` subcommand: connects, reads, answers the writer's `wait`s.
pub fn reader(args: ReaderArgs) -> anyhow::Result<()> {
    let rt = crate::sys::runtime(args.threads)?;
    let bytes = Arc::new(AtomicU64::new(0));
    let (quit_tx, quit_rx) = tokio::sync::oneshot::channel::<()>();

    // The control line, on its own thread: the runtime's thread only reads sockets.
    let counter = Arc::clone(&bytes);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            let mut words = line.split_whitespace();
            if words.next() != Some("wait") {
                continue;
            }
            let want: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
            let max_ms: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
            let deadline = Instant::now() + Duration::from_millis(max_ms);
            while counter.load(Ordering::Relaxed) < want && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(200));
            }
            println!("{}", counter.load(Ordering::Relaxed));
        }
        // The writer is gone: end the process.
        let _ = quit_tx.send(());
    });

    rt.block_on(async move {
        let addr = args.connect;
        let permits = Arc::new(tokio::sync::Semaphore::new(64));
        let mut pending = Vec::with_capacity(args.connections);
        for _ in 0..args.connections {
            let permit = Arc::clone(&permits).acquire_owned().await?;
            pending.push(tokio::spawn(async move {
                let s = tokio::net::TcpStream::connect(addr).await;
                drop(permit);
                s
            }));
        }
        for (i, p) in pending.into_iter().enumerate() {
            let s = p
                .await?
                .with_context(|| format!("connecting {i} to {addr}"))?;
            s.set_nodelay(true)?;
            tokio::spawn(read_all(s, Arc::clone(&bytes)));
        }
        println!("ready");
        let _ = quit_rx.await;
        anyhow::Ok(())
    })?;
    rt.shutdown_timeout(Duration::from_millis(200));
    Ok(())
}
