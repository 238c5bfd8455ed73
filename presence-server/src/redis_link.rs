//! The link to Redis, shared by the Redis store and the Redis broker: the connection
//! (one Redis, or a Redis Cluster) and the key layout. The store's scripts are in
//! `store/redis/scripts.rs`.
//!
//! # Key layout
//!
//! Every key starts with `--redis-prefix` (`P` below). Keys that one script touches
//! together share a hash tag (`{…}`), so they sit in one cluster slot and the same code
//! runs on a single Redis and on a cluster.
//!
//! | key | type | what |
//! |---|---|---|
//! | `P:{u:USER}` | hash `v`, `d` | the user's record (JSON) and its version, for compare-and-set |
//! | `P:{r:ROOM}:m` | hash user → session ids | who is in the room, per session |
//! | `P:{r:ROOM}:v` | sorted set (scores 0) | members others can see, ordered by id |
//! | `P:{r:ROOM}:t` | hash user → `session deadline` | who is typing |
//! | `P:{r:ROOM}:ch` | channel | the room's events |
//! | `P:{u:USER}:ch` | channel | the user's presence events, for watchers |
//! | `P:{n:NODE}:lease` | string with a TTL | the node is alive |
//! | `P:{n:NODE}:sessions` | set of `user session` | the node's sessions, for cleanup |
//! | `P:{n:NODE}:sweep` | string with a TTL | a live node is cleaning up after this one |
//! | `P:nodes` | sorted set node → lease expiry | where to look for expired leases |

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// Receives pub/sub pushes. It runs on the connection's task, so it must not block.
pub type PushHandler = std::sync::Arc<dyn Fn(redis::PushInfo) + Send + Sync>;

/// How long a Redis command may take before it counts as failed. Redis answers in
/// well under a millisecond here; a command that takes this long means Redis is gone
/// or stuck, and the caller must not hang on it.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection to one Redis or to a Redis Cluster. Cheap to clone: clones share one
/// multiplexed connection (per cluster node), which pipelines concurrent commands.
#[derive(Clone)]
pub enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Single(_) => "RedisConn::Single",
            Self::Cluster(_) => "RedisConn::Cluster",
        })
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

impl RedisConn {
    /// Connects. `urls` is one URL, or for a cluster (`cluster = true`) one or more
    /// seed URLs separated by commas. RESP3 is used, so pub/sub pushes arrive on
    /// `push` (when given) over the same connection that reconnects and resubscribes by
    /// itself.
    pub async fn connect(
        urls: &str,
        cluster: bool,
        push: Option<PushHandler>,
    ) -> redis::RedisResult<Self> {
        let push = push.map(|f| {
            move |info: redis::PushInfo| -> Result<(), ()> {
                f(info);
                Ok(())
            }
        });
        let seeds: Vec<String> = urls
            .split(',')
            .map(|u| with_resp3(u.trim()))
            .filter(|u| !u.is_empty())
            .collect();
        if cluster {
            let mut builder = redis::cluster::ClusterClientBuilder::new(seeds)
                .use_protocol(redis::ProtocolVersion::RESP3)
                .connection_timeout(Duration::from_secs(2))
                .response_timeout(RESPONSE_TIMEOUT)
                .retries(2);
            if let Some(push) = push {
                builder = builder.push_sender(push);
            }
            let client = builder.build()?;
            Ok(Self::Cluster(client.get_async_connection().await?))
        } else {
            let url = seeds.first().cloned().unwrap_or_default();
            let client = redis::Client::open(url)?;
            let mut config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(2)))
                .set_response_timeout(Some(RESPONSE_TIMEOUT))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_secs(2));
            if let Some(push) = push {
                config = config.set_push_sender(push).set_automatic_resubscription();
            }
            Ok(Self::Single(
                client.get_connection_manager_with_config(config).await?,
            ))
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// Subscribes to channels: sharded pub/sub on a cluster, plain pub/sub otherwise.
    pub async fn subscribe(&mut self, channel: &str) -> redis::RedisResult<()> {
        match self {
            Self::Single(c) => c.subscribe(channel).await,
            Self::Cluster(c) => c.ssubscribe(channel).await,
        }
    }

    pub async fn unsubscribe(&mut self, channel: &str) -> redis::RedisResult<()> {
        match self {
            Self::Single(c) => c.unsubscribe(channel).await,
            Self::Cluster(c) => c.sunsubscribe(channel).await,
        }
    }

    /// The publish command for this kind of deployment.
    pub fn publish_cmd(&self, channel: &str, payload: &[u8]) -> Cmd {
        let mut cmd = redis::cmd(if self.is_cluster() {
            "SPUBLISH"
        } else {
            "PUBLISH"
        });
        cmd.arg(channel).arg(payload);
        cmd
    }
}

fn with_resp3(url: &str) -> String {
    if url.is_empty() || url.contains("protocol=") {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}protocol=resp3")
}

/// Builds every key and channel name from the prefix (see the module docs).
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    pub fn user(&self, user: &str) -> String {
        format!("{}:{{u:{user}}}", self.prefix)
    }

    pub fn user_channel(&self, user: &str) -> String {
        format!("{}:{{u:{user}}}:ch", self.prefix)
    }

    pub fn room_members(&self, room: &str) -> String {
        format!("{}:{{r:{room}}}:m", self.prefix)
    }

    pub fn room_visible(&self, room: &str) -> String {
        format!("{}:{{r:{room}}}:v", self.prefix)
    }

    pub fn room_typing(&self, room: &str) -> String {
        format!("{}:{{r:{room}}}:t", self.prefix)
    }

    pub fn room_channel(&self, room: &str) -> String {
        format!("{}:{{r:{room}}}:ch", self.prefix)
    }

    pub fn lease(&self, node: &str) -> String {
        format!("{}:{{n:{node}}}:lease", self.prefix)
    }

    pub fn node_sessions(&self, node: &str) -> String {
        format!("{}:{{n:{node}}}:sessions", self.prefix)
    }

    pub fn sweep(&self, node: &str) -> String {
        format!("{}:{{n:{node}}}:sweep", self.prefix)
    }

    pub fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }
}
