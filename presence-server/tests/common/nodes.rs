//! Server nodes as real processes of the built binary, all on one Redis or one Redis
//! Cluster: each node listens on 127.0.0.1 (a free port, read back from its
//! "listening bound=…" log line), runs `--store redis` with the shared test secret, its
//! own `--node-id` and the test's own `--redis-prefix`. A node's stderr goes to a log
//! file in the test's scratch directory, and every node prints its log when the test
//! fails. Nodes are stopped by PID: SIGKILL when dropped or killed, SIGTERM (`kill
//! -TERM <pid>`) on request.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use presence_protocol::{Presence, ServerFrame, WS_PATH};

use super::redis::{RedisCluster, RedisServer};
use super::{token, Client, Incoming, SECRET};

pub use super::process::BIN;

/// How long a node may take to connect to Redis and bind (generous: a busy 2-core
/// machine runs several tests at once).
const START_WITHIN: Duration = Duration::from_secs(30);

/// The Redis the nodes share: one server, or a 3-master cluster.
pub enum Backend {
    Single(RedisServer),
    Cluster(RedisCluster),
}

impl Backend {
    /// A fresh, empty `redis-server` on a free port.
    pub fn single() -> Self {
        Self::Single(RedisServer::start())
    }

    /// A fresh local Redis Cluster of three masters.
    pub fn cluster() -> Self {
        Self::Cluster(RedisCluster::start())
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// `--redis-url` (and `--redis-cluster`) for a node.
    pub fn node_args(&self) -> Vec<String> {
        match self {
            Self::Single(s) => vec!["--redis-url".into(), s.url()],
            Self::Cluster(c) => vec!["--redis-url".into(), c.urls(), "--redis-cluster".into()],
        }
    }

    /// Every `redis-server` process of the backend.
    pub fn servers(&self) -> Vec<&RedisServer> {
        match self {
            Self::Single(s) => vec![s],
            Self::Cluster(c) => c.nodes.iter().collect(),
        }
    }

    fn servers_mut(&mut self) -> Vec<&mut RedisServer> {
        match self {
            Self::Single(s) => vec![s],
            Self::Cluster(c) => c.nodes.iter_mut().collect(),
        }
    }

    /// Kills every `redis-server` of the backend (SIGKILL, by PID): all data is lost.
    pub fn kill(&mut self) {
        for s in self.servers_mut() {
            s.kill();
        }
    }

    /// Starts every `redis-server` again, empty, on the same ports (a restart without
    /// persistence). A cluster node keeps its `nodes.conf`, so the cluster comes back
    /// with the same slots; this waits until every node reports `cluster_state:ok`.
    pub fn start_again(&mut self) {
        for s in self.servers_mut() {
            s.restart();
        }
        if let Self::Cluster(c) = self {
            let deadline = Instant::now() + Duration::from_secs(30);
            while !c
                .nodes
                .iter()
                .all(|n| n.cli(&["cluster", "info"]).contains("cluster_state:ok"))
            {
                assert!(
                    Instant::now() < deadline,
                    "the restarted cluster did not become ok"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Every key in the backend (`redis-cli --scan` on each server: a test's own
    /// Redis, never one serving anything else).
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .servers()
            .iter()
            .flat_map(|s| {
                s.cli(&["--scan"])
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .filter(|k| !k.is_empty())
            .collect();
        keys.sort();
        keys
    }
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// One test's world: the backend, the key prefix every node uses, and a scratch
/// directory for the nodes' logs (removed when the test passes, kept when it fails).
pub struct Deployment {
    pub backend: Backend,
    pub prefix: String,
    pub dir: PathBuf,
}

impl Deployment {
    pub fn new(backend: Backend, test: &str) -> Self {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let prefix = format!("mn{pid}t{n}");
        let dir = std::env::temp_dir().join(format!("presence-multinode-{test}-{pid}-{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            backend,
            prefix,
            dir,
        }
    }

    /// Starts a node with this id and extra flags, and waits until it listens.
    pub async fn node(&self, id: &str, extra: &[&str]) -> Node {
        Node::start(&self.backend, &self.prefix, id, &self.dir, extra).await
    }

    /// Keys of the backend that are not under this deployment's prefix.
    pub fn keys_outside_prefix(&self) -> Vec<String> {
        let under = format!("{}:", self.prefix);
        self.backend
            .keys()
            .into_iter()
            .filter(|k| !k.starts_with(&under))
            .collect()
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("node logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A server node: the binary running as a child process.
pub struct Node {
    pub id: String,
    pub addr: SocketAddr,
    child: Child,
    log: PathBuf,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Node {
    /// Spawns the binary and waits for its "listening" line.
    pub async fn start(
        backend: &Backend,
        prefix: &str,
        id: &str,
        dir: &Path,
        extra: &[&str],
    ) -> Self {
        let log = dir.join(format!("{id}.log"));
        let mut cmd = Command::new(BIN);
        // Only the flags below configure the node, whatever the environment says.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PRESENCE_") {
                cmd.env_remove(key);
            }
        }
        cmd.args(["--bind", "127.0.0.1:0", "--store", "redis"])
            .args(["--jwt-secret", SECRET, "--node-id", id])
            .args(["--redis-prefix", prefix])
            .args(backend.node_args())
            .args(extra)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut file = std::fs::File::create(&log).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        let reader = std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                if let Some(rest) = line.split("bound=").nth(1) {
                    if let Some(tx) = tx.take() {
                        let addr = rest.split_whitespace().next().unwrap_or_default();
                        let _ = tx.send(addr.to_owned());
                    }
                }
            }
        });
        let mut node = Self {
            id: id.to_owned(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child,
            log,
            reader: Some(reader),
        };
        match tokio::time::timeout(START_WITHIN, rx).await {
            Ok(Ok(addr)) => node.addr = addr.parse().unwrap(),
            _ => {
                node.kill();
                panic!(
                    "node {id} did not start within {START_WITHIN:?}; its log:\n{}",
                    node.log()
                );
            }
        }
        node
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}{}", self.addr, WS_PATH)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client of `user` (token from the shared secret) that said hello with this
    /// `device` label.
    pub async fn client(&self, user: &str, device: &str) -> Client {
        let mut c = Client::connect_url(&self.ws_url()).await;
        c.hello_device(&token(user), device).await;
        c
    }

    /// Sends SIGTERM by PID (`kill -TERM <pid>`): a clean shutdown.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Kills the process (SIGKILL, by PID) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself; panics after `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "node {} did not exit within {within:?}",
                self.id
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until a line of the log satisfies `pred`; panics after `within`.
    pub async fn wait_log(&self, within: Duration, what: &str, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + within;
        while !self.log().lines().any(&pred) {
            assert!(
                Instant::now() < deadline,
                "node {} logged no {what} within {within:?}",
                self.id
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        if std::thread::panicking() {
            eprintln!(
                "===== log of node {} ({}) =====\n{}===== end of log of node {} =====",
                self.id,
                self.log.display(),
                self.log(),
                self.id
            );
        }
    }
}

impl Client {
    /// Skips frames until one matches; panics (listing what came) after `within` or
    /// on a close.
    pub async fn recv_within(
        &mut self,
        within: Duration,
        what: &str,
        mut pred: impl FnMut(&ServerFrame) -> bool,
    ) -> ServerFrame {
        let deadline = tokio::time::Instant::now() + within;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv_raw(left).await {
                Some(Incoming::Frame(f)) if pred(&f) => return f,
                Some(Incoming::Frame(f)) => skipped.push(f),
                other => panic!(
                    "expected {what} within {within:?}, got {other:?}; skipped: {skipped:#?}"
                ),
            }
        }
    }

    /// Every frame that arrives within `d`; panics if the socket closes.
    pub async fn collect_for(&mut self, d: Duration) -> Vec<ServerFrame> {
        let deadline = tokio::time::Instant::now() + d;
        let mut frames = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv_raw(left).await {
                None => return frames,
                Some(Incoming::Frame(f)) => frames.push(f),
                Some(Incoming::Close(code)) => {
                    panic!("socket closed ({code:?}) while collecting; frames: {frames:#?}")
                }
            }
        }
    }

    /// Collects frames until `done` holds for all of them so far; panics (listing
    /// them) after `within` or on a close.
    pub async fn collect_until(
        &mut self,
        within: Duration,
        what: &str,
        mut done: impl FnMut(&[ServerFrame]) -> bool,
    ) -> Vec<ServerFrame> {
        let deadline = tokio::time::Instant::now() + within;
        let mut frames = Vec::new();
        while !done(&frames) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv_raw(left).await {
                Some(Incoming::Frame(f)) => frames.push(f),
                other => {
                    panic!("expected {what} within {within:?}, got {other:?}; frames: {frames:#?}")
                }
            }
        }
        frames
    }

    /// Applies frames to `view` until `done(view)` holds; returns the frames. Panics
    /// (with the view and the frames) after `within` or on a close.
    pub async fn track_until(
        &mut self,
        view: &mut RoomView,
        within: Duration,
        what: &str,
        done: impl Fn(&RoomView) -> bool,
    ) -> Vec<ServerFrame> {
        let deadline = tokio::time::Instant::now() + within;
        let mut frames = Vec::new();
        while !done(view) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv_raw(left).await {
                Some(Incoming::Frame(f)) => {
                    view.apply(&f);
                    frames.push(f);
                }
                other => panic!(
                    "expected {what} within {within:?}, got {other:?}; view: {view:?}; \
                     frames: {frames:#?}"
                ),
            }
        }
        frames
    }
}

/// A room as a client sees it, built the way docs/protocol.md tells clients to:
/// `room_state` replaces it, `room_diff` upserts `joins` and `updates` and removes
/// `leaves`.
#[derive(Debug, Clone, Default)]
pub struct RoomView {
    pub room: String,
    pub members: BTreeMap<String, Presence>,
    /// The `count` of the last `room_state`.
    pub state_count: Option<u64>,
    /// `room_state` frames applied.
    pub states: usize,
}

impl RoomView {
    pub fn new(room: &str) -> Self {
        Self {
            room: room.to_owned(),
            ..Self::default()
        }
    }

    /// Applies `frame` if it concerns this room.
    pub fn apply(&mut self, frame: &ServerFrame) {
        match frame {
            ServerFrame::RoomState {
                room,
                count,
                members,
                ..
            } if *room == self.room => {
                self.members = members
                    .iter()
                    .map(|m| (m.user.clone(), m.clone()))
                    .collect();
                self.state_count = Some(*count);
                self.states += 1;
            }
            ServerFrame::RoomDiff {
                room,
                joins,
                leaves,
                updates,
            } if *room == self.room => {
                for p in joins.iter().chain(updates) {
                    self.members.insert(p.user.clone(), p.clone());
                }
                for u in leaves {
                    self.members.remove(u);
                }
            }
            _ => {}
        }
    }

    /// The member ids, in order.
    pub fn ids(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }

    /// Whether the members are exactly `users`.
    pub fn is(&self, users: &[&str]) -> bool {
        let mut want: Vec<&str> = users.to_vec();
        want.sort_unstable();
        self.members.keys().map(String::as_str).eq(want)
    }
}
