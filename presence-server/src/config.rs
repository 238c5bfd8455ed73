//! Configuration: every setting is a flag and an environment variable, with its unit in
//! the name.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use presence_protocol::limits;

/// Where presence state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// In this process: one node, no setup.
    Memory,
    /// In Redis: many nodes.
    Redis,
}

/// The server's settings.
#[derive(Debug, Clone, Parser)]
#[command(name = "presence-server", version, about = "Real-time presence server")]
pub struct Config {
    /// Address to listen on. Without a JWT secret only loopback addresses are allowed.
    #[arg(long, env = "PRESENCE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// HS256 secret that signs client tokens. Unset, the server refuses to start unless
    /// `--dev` is given.
    #[arg(long, env = "PRESENCE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Development mode: loopback binds only, `POST /dev/token`, and without
    /// `--jwt-secret` a random secret. Explicit, so that a forgotten secret behind a
    /// reverse proxy cannot turn it on.
    #[arg(long, env = "PRESENCE_DEV")]
    pub dev: bool,

    /// Serve `POST /dev/token` even with a secret (loopback binds only): for local
    /// multi-node setups, where every node must share one secret.
    #[arg(long, env = "PRESENCE_DEV_TOKENS")]
    pub dev_tokens: bool,

    /// Where presence state lives.
    #[arg(long, env = "PRESENCE_STORE", value_enum, default_value = "memory")]
    pub store: StoreKind,

    /// Redis to use with `--store redis`.
    #[arg(
        long,
        env = "PRESENCE_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,

    /// Prefix of every Redis key and channel.
    #[arg(long, env = "PRESENCE_REDIS_PREFIX", default_value = "presence")]
    pub redis_prefix: String,

    /// `--redis-url` names Redis Cluster nodes (one or more seeds, comma-separated).
    #[arg(long, env = "PRESENCE_REDIS_CLUSTER")]
    pub redis_cluster: bool,

    /// How long the store (memory or Redis) keeps a user's last seen, status, custom
    /// status and privacy after their last session ends (days; 0: forever).
    #[arg(long, env = "PRESENCE_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u64,

    /// A node's lease in Redis lasts this long unless renewed; a node gone for longer
    /// has its sessions swept by the others (ms).
    #[arg(long, env = "PRESENCE_LEASE_TTL_MS", default_value_t = 15_000)]
    pub lease_ttl_ms: u64,

    /// Interval of lease renewals, and of the checks for expired leases (ms).
    #[arg(long, env = "PRESENCE_LEASE_RENEW_MS", default_value_t = 5_000)]
    pub lease_renew_ms: u64,

    /// This node's id (random at start when unset).
    #[arg(long, env = "PRESENCE_NODE_ID")]
    pub node_id: Option<String>,

    /// How long a session that ended without `leave` keeps its user present (ms).
    #[arg(long, env = "PRESENCE_GRACE_MS", default_value_t = limits::GRACE_MS)]
    pub grace_ms: u64,

    /// How long `typing:true` lasts unless refreshed (ms).
    #[arg(long, env = "PRESENCE_TYPING_TTL_MS", default_value_t = limits::TYPING_TTL_MS)]
    pub typing_ttl_ms: u64,

    /// Interval of the client's `ping` frames, sent to it in `welcome` (ms).
    #[arg(long, env = "PRESENCE_HEARTBEAT_MS", default_value_t = limits::HEARTBEAT_MS)]
    pub heartbeat_ms: u64,

    /// Interval of the server's WebSocket pings (ms).
    #[arg(long, env = "PRESENCE_PING_INTERVAL_MS", default_value_t = 10_000)]
    pub ping_interval_ms: u64,

    /// A connection with no inbound frame or pong for this long is dead (ms).
    #[arg(long, env = "PRESENCE_DEAD_AFTER_MS", default_value_t = 20_000)]
    pub dead_after_ms: u64,

    /// Coalescing window: at most one `room_diff` per room per window (ms). A room's
    /// first change after a quiet window goes out at once; the changes after it
    /// within the window go out together when it has passed.
    #[arg(long, env = "PRESENCE_COALESCE_MS", default_value_t = 50)]
    pub coalesce_ms: u64,

    /// Serve this directory (a built example app) at `/`.
    #[arg(long, env = "PRESENCE_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// Time from the upgrade to `hello` before the socket is closed with 4408 (ms).
    #[arg(long, env = "PRESENCE_HELLO_TIMEOUT_MS", default_value_t = limits::HELLO_TIMEOUT_MS)]
    pub hello_timeout_ms: u64,

    /// Time a connection has to send its whole HTTP request head; slower ones are closed
    /// (ms).
    #[arg(long, env = "PRESENCE_HEADER_READ_TIMEOUT_MS", default_value_t = 5_000)]
    pub header_read_timeout_ms: u64,

    /// Largest HTTP request head (request line and headers); larger ones are answered
    /// 431 (bytes, at least 8,192).
    #[arg(
        long,
        env = "PRESENCE_MAX_REQUEST_HEAD_BYTES",
        default_value_t = 32_768
    )]
    pub max_request_head_bytes: usize,

    /// Open connections (HTTP and WebSocket); more are answered 503 before the upgrade.
    #[arg(long, env = "PRESENCE_MAX_CONNECTIONS", default_value_t = 100_000)]
    pub max_connections: usize,

    /// Connections that have not finished `hello` (from accept to `welcome`); more are
    /// answered 503 before the upgrade.
    #[arg(
        long,
        env = "PRESENCE_MAX_PRE_HELLO_CONNECTIONS",
        default_value_t = 10_000
    )]
    pub max_pre_hello_connections: usize,

    /// Connections from one source address that have not finished `hello`; more are
    /// answered 503 before the upgrade.
    #[arg(
        long,
        env = "PRESENCE_MAX_PRE_HELLO_CONNECTIONS_PER_IP",
        default_value_t = 1_000
    )]
    pub max_pre_hello_connections_per_ip: usize,

    /// Largest inbound frame; larger ones close the socket with 1009 (bytes).
    #[arg(long, env = "PRESENCE_MAX_FRAME_BYTES", default_value_t = limits::MAX_FRAME_BYTES)]
    pub max_frame_bytes: usize,

    /// Sustained inbound frames per second per connection.
    #[arg(long, env = "PRESENCE_RATE_PER_SEC", default_value_t = limits::RATE_PER_SEC)]
    pub rate_per_sec: u32,

    /// Inbound burst per connection (frames).
    #[arg(long, env = "PRESENCE_RATE_BURST", default_value_t = limits::RATE_BURST)]
    pub rate_burst: u32,

    /// Rooms one session may be in.
    #[arg(long, env = "PRESENCE_MAX_ROOMS_PER_SESSION", default_value_t = limits::MAX_ROOMS_PER_SESSION)]
    pub max_rooms_per_session: usize,

    /// Users one session may watch.
    #[arg(long, env = "PRESENCE_MAX_WATCHED_PER_SESSION", default_value_t = limits::MAX_WATCHED_PER_SESSION)]
    pub max_watched_per_session: usize,

    /// Live sessions one user may have.
    #[arg(long, env = "PRESENCE_MAX_SESSIONS_PER_USER", default_value_t = limits::MAX_SESSIONS_PER_USER)]
    pub max_sessions_per_user: usize,

    /// A room with more members than this sends `room_count` instead of `room_diff`.
    #[arg(long, env = "PRESENCE_LARGE_ROOM_THRESHOLD", default_value_t = limits::LARGE_ROOM_THRESHOLD)]
    pub large_room_threshold: u64,

    /// Frames queued for one session before it counts as too slow and is closed.
    #[arg(long, env = "PRESENCE_OUTBOUND_QUEUE", default_value_t = 256)]
    pub outbound_queue: usize,

    /// Bytes queued for one session before it counts as too slow and is closed with
    /// 1013, like a queue of too many frames. A `room_state` of a 1,000-member room is
    /// about 330 KiB: the default holds six of them (bytes).
    #[arg(long, env = "PRESENCE_OUTBOUND_QUEUE_BYTES", default_value_t = 2 << 20)]
    pub outbound_queue_bytes: usize,

    /// Bytes queued for all of this node's sessions together above which joins of
    /// rooms with more than 100 members are refused with `internal` (retry later),
    /// before memory goes: 20 sessions that never read took 558 MB with no such bound
    /// (bytes).
    #[arg(long, env = "PRESENCE_NODE_OUTBOUND_BYTES", default_value_t = 256 << 20)]
    pub node_outbound_bytes: usize,

    /// WebSocket pings and pongs accepted before `hello` (each ping is answered at
    /// once); one more closes the connection with 4400 (frames).
    #[arg(long, env = "PRESENCE_MAX_PRE_HELLO_FRAMES", default_value_t = 8)]
    pub max_pre_hello_frames: u32,

    /// A user's `typing:true` in a room within this long of the last one that was
    /// fanned out (from any of the user's sessions on this node) is dropped (ms).
    #[arg(long, env = "PRESENCE_TYPING_WINDOW_MS", default_value_t = 1_000)]
    pub typing_window_ms: u64,

    /// A socket write that takes longer than this closes the session (ms).
    #[arg(long, env = "PRESENCE_WRITE_TIMEOUT_MS", default_value_t = 5_000)]
    pub write_timeout_ms: u64,

    /// How long shutdown waits for sockets to close (ms).
    #[arg(long, env = "PRESENCE_SHUTDOWN_TIMEOUT_MS", default_value_t = 5_000)]
    pub shutdown_timeout_ms: u64,

    /// After a read error (a frame over the limit, a protocol violation), what the
    /// server reads and drops while its close frame goes out, waiting for the client
    /// to end its side (bytes). Past it, the socket is dropped, which the kernel
    /// answers with a reset that can destroy the close frame. The time it may take is
    /// bounded by `--write-timeout-ms` (at least 2 s).
    #[arg(long, env = "PRESENCE_CLOSE_DRAIN_BYTES", default_value_t = 8 << 20)]
    pub close_drain_bytes: usize,
}

impl Default for Config {
    /// The settings the binary has with no flags (the `PRESENCE_*` environment still
    /// applies).
    fn default() -> Self {
        Self::parse_from(["presence-server"])
    }
}

/// Why the server refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no JWT secret: set --jwt-secret (PRESENCE_JWT_SECRET, at least 32 bytes), or pass \
         --dev (PRESENCE_DEV=true) for development mode on a loopback address"
    )]
    NoSecret,
    #[error(
        "refusing to listen on {0} without a JWT secret: anyone could mint tokens with the \
         development route. Set --jwt-secret (PRESENCE_JWT_SECRET), or bind a loopback \
         address such as 127.0.0.1:8080 for development mode"
    )]
    PublicBindWithoutSecret(SocketAddr),
    #[error("--dev and --dev-tokens hand out tokens to anyone: only on a loopback bind, not {0}")]
    PublicDevTokens(SocketAddr),
    #[error("--jwt-secret must be at least 32 bytes (got {0})")]
    ShortSecret(usize),
    #[error("--max-request-head-bytes must be at least 8192 (got {0})")]
    SmallRequestHead(usize),
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    #[error("--lease-renew-ms ({renew}) must be shorter than --lease-ttl-ms ({ttl})")]
    LeaseRenewal { renew: u64, ttl: u64 },
}

impl Config {
    /// Checks the settings against the address actually bound.
    pub fn check(&self, bound: SocketAddr) -> Result<(), ConfigError> {
        match &self.jwt_secret {
            None if !self.dev => return Err(ConfigError::NoSecret),
            None if !bound.ip().is_loopback() => {
                return Err(ConfigError::PublicBindWithoutSecret(bound))
            }
            Some(s) if s.len() < 32 => return Err(ConfigError::ShortSecret(s.len())),
            _ => {}
        }
        if (self.dev || self.dev_tokens) && !bound.ip().is_loopback() {
            return Err(ConfigError::PublicDevTokens(bound));
        }
        for (name, value) in [
            ("--ping-interval-ms", self.ping_interval_ms),
            ("--dead-after-ms", self.dead_after_ms),
            ("--coalesce-ms", self.coalesce_ms),
            ("--typing-ttl-ms", self.typing_ttl_ms),
            ("--heartbeat-ms", self.heartbeat_ms),
            ("--rate-per-sec", u64::from(self.rate_per_sec)),
            ("--rate-burst", u64::from(self.rate_burst)),
            ("--outbound-queue", self.outbound_queue as u64),
            ("--outbound-queue-bytes", self.outbound_queue_bytes as u64),
            ("--node-outbound-bytes", self.node_outbound_bytes as u64),
            ("--max-frame-bytes", self.max_frame_bytes as u64),
            ("--header-read-timeout-ms", self.header_read_timeout_ms),
            ("--max-connections", self.max_connections as u64),
            (
                "--max-pre-hello-connections",
                self.max_pre_hello_connections as u64,
            ),
            (
                "--max-pre-hello-connections-per-ip",
                self.max_pre_hello_connections_per_ip as u64,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        if self.max_request_head_bytes < 8192 {
            return Err(ConfigError::SmallRequestHead(self.max_request_head_bytes));
        }
        if self.lease_renew_ms == 0 || self.lease_renew_ms >= self.lease_ttl_ms {
            return Err(ConfigError::LeaseRenewal {
                renew: self.lease_renew_ms,
                ttl: self.lease_ttl_ms,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let c = Config::default();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.store, StoreKind::Memory);
        assert_eq!(
            (c.grace_ms, c.typing_ttl_ms, c.heartbeat_ms),
            (5_000, 5_000, 25_000)
        );
        assert_eq!(
            (c.ping_interval_ms, c.dead_after_ms, c.coalesce_ms),
            (10_000, 20_000, 50)
        );
        assert_eq!(c.redis_prefix, "presence");
    }

    #[test]
    fn no_secret_needs_dev() {
        let loopback: SocketAddr = "127.0.0.1:8080".parse().unwrap_or_else(|_| unreachable!());
        assert!(matches!(
            Config::default().check(loopback),
            Err(ConfigError::NoSecret)
        ));
        let dev = Config {
            dev: true,
            ..Config::default()
        };
        assert!(dev.check(loopback).is_ok());
    }

    #[test]
    fn public_bind_needs_a_secret() {
        let c = Config {
            dev: true,
            ..Config::default()
        };
        let public: SocketAddr = "0.0.0.0:8080".parse().unwrap_or_else(|_| unreachable!());
        assert!(matches!(
            c.check(public),
            Err(ConfigError::PublicBindWithoutSecret(_))
        ));
        let c = Config {
            jwt_secret: Some("x".repeat(32)),
            ..Config::default()
        };
        assert!(c.check(public).is_ok());
        assert!(c
            .check("[::1]:1".parse().unwrap_or_else(|_| unreachable!()))
            .is_ok());
    }
}
