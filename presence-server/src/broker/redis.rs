//! The Redis broker: Redis pub/sub between nodes, one channel per room and one per
//! watched user. On a cluster it uses sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`), so a
//! message goes only to the shard that owns the channel's slot.
//!
//! A node subscribes to exactly the topics its own sessions care about. Subscribing is
//! done by one task that reconciles what the hub wants with what Redis has, so
//! concurrent joins and leaves of the same room can never leave the node unsubscribed
//! while a session is in the room; the caller of [`Broker::subscribe`] waits until the
//! subscription is confirmed, so a joiner cannot miss an event sent after its
//! snapshot.
//!
//! An event is delivered to this node's hub at once, and carries its origin node so
//! the copy that comes back through Redis is dropped. This node's sessions thus keep
//! getting this node's events while Redis is away.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use redis::{PushInfo, PushKind, Value};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::{Broker, BrokerError};
use crate::events::{Event, Topic};
use crate::hub::Hub;
use crate::redis_link::{Keys, PushHandler, RedisConn};

/// Subscription requests waiting for the subscription task.
const SUBSCRIBE_QUEUE: usize = 4096;

/// What travels on a channel.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    /// The node that published it.
    o: String,
    e: Event,
}

/// A topic to bring in line with the hub, and who waits for it.
struct SyncRequest {
    /// `None`: subscribe again to everything subscribed (after an outage).
    topic: Option<Topic>,
    done: oneshot::Sender<Result<(), BrokerError>>,
}

/// See the module docs.
#[derive(Debug)]
pub struct RedisBroker {
    node: String,
    publisher: RedisConn,
    keys: Keys,
    hub: Arc<Hub>,
    requests: mpsc::Sender<SyncRequest>,
    subscriber: RedisConn,
    /// Set when the pub/sub connection dropped: messages may have been lost meanwhile,
    /// so local sessions need fresh state.
    lost_messages: Arc<AtomicBool>,
}

impl std::fmt::Debug for SyncRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SyncRequest({:?})", self.topic)
    }
}

impl RedisBroker {
    /// Connects the subscriber and starts the subscription task.
    pub async fn connect(
        urls: &str,
        cluster: bool,
        prefix: &str,
        node: String,
        hub: Arc<Hub>,
        publisher: RedisConn,
    ) -> redis::RedisResult<Self> {
        let lost_messages = Arc::new(AtomicBool::new(false));
        let handler: PushHandler = {
            let (hub, node, lost) = (hub.clone(), node.clone(), lost_messages.clone());
            Arc::new(move |push: PushInfo| on_push(&hub, &node, &lost, push))
        };
        let subscriber = RedisConn::connect(urls, cluster, Some(handler)).await?;
        let (requests, rx) = mpsc::channel(SUBSCRIBE_QUEUE);
        let keys = Keys::new(prefix);
        tokio::spawn(subscription_task(
            subscriber.clone(),
            keys.clone(),
            hub.clone(),
            rx,
        ));
        Ok(Self {
            node,
            publisher,
            keys,
            hub,
            requests,
            subscriber,
            lost_messages,
        })
    }

    fn channel(&self, topic: &Topic) -> String {
        channel(&self.keys, topic)
    }

    async fn sync(&self, topic: Option<Topic>) -> Result<(), BrokerError> {
        let (done, wait) = oneshot::channel();
        self.requests
            .send(SyncRequest { topic, done })
            .await
            .map_err(|_| BrokerError("subscription task stopped".into()))?;
        wait.await
            .map_err(|_| BrokerError("subscription task stopped".into()))?
    }
}

fn channel(keys: &Keys, topic: &Topic) -> String {
    match topic {
        Topic::Room(room) => keys.room_channel(room),
        Topic::User(user) => keys.user_channel(user),
    }
}

fn on_push(hub: &Hub, node: &str, lost: &AtomicBool, push: PushInfo) {
    match push.kind {
        PushKind::Message | PushKind::SMessage => {
            let Some(Value::BulkString(payload)) = push.data.get(1) else {
                return;
            };
            match serde_json::from_slice::<Envelope>(payload) {
                Ok(envelope) if envelope.o != node => hub.deliver(&envelope.e),
                Ok(_) => {} // our own event, delivered when published
                Err(e) => tracing::warn!("undecodable event from Redis: {e}"),
            }
        }
        PushKind::Disconnection => {
            lost.store(true, Ordering::Release);
            crate::metrics::redis_reconnected();
        }
        _ => {}
    }
}

/// Applies subscription requests in batches: what the hub wants now, compared with
/// what this task subscribed, decides each topic.
async fn subscription_task(
    mut conn: RedisConn,
    keys: Keys,
    hub: Arc<Hub>,
    mut rx: mpsc::Receiver<SyncRequest>,
) {
    let mut subscribed: HashSet<Topic> = HashSet::new();
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 512).await > 0 {
        let all = batch.iter().any(|r| r.topic.is_none());
        let mut topics: HashSet<Topic> = batch.iter().filter_map(|r| r.topic.clone()).collect();
        let mut result = Ok(());
        if all {
            for topic in subscribed.iter() {
                let name = channel(&keys, topic);
                if let Err(e) = conn.subscribe(&name).await {
                    result = Err(BrokerError(e.to_string()));
                }
            }
            topics.extend(subscribed.iter().cloned());
        }
        for topic in topics {
            let wanted = hub.wants(&topic);
            let have = subscribed.contains(&topic);
            let name = channel(&keys, &topic);
            let start = Instant::now();
            let outcome = match (wanted, have) {
                (true, false) => conn.subscribe(&name).await.map(|()| {
                    subscribed.insert(topic);
                }),
                (false, true) => conn.unsubscribe(&name).await.map(|()| {
                    subscribed.remove(&topic);
                }),
                _ => Ok(()),
            };
            crate::metrics::redis_command("subscribe", start.elapsed(), outcome.is_ok());
            if let Err(e) = outcome {
                result = Err(BrokerError(e.to_string()));
            }
        }
        for request in batch.drain(..) {
            let _ = request.done.send(result.clone());
        }
    }
}

impl Clone for BrokerError {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

#[async_trait]
impl Broker for RedisBroker {
    async fn publish(&self, event: Event) -> Result<(), BrokerError> {
        self.hub.deliver(&event);
        let channel = self.channel(&event.topic());
        let payload = serde_json::to_vec(&Envelope {
            o: self.node.clone(),
            e: event,
        })
        .map_err(|e| BrokerError(e.to_string()))?;
        let mut conn = self.publisher.clone();
        let cmd = conn.publish_cmd(&channel, &payload);
        let start = Instant::now();
        let result = cmd.query_async::<()>(&mut conn).await;
        crate::metrics::redis_command("publish", start.elapsed(), result.is_ok());
        result.map_err(|e| BrokerError(e.to_string()))
    }

    async fn subscribe(&self, topic: Topic) -> Result<(), BrokerError> {
        self.sync(Some(topic)).await
    }

    async fn unsubscribe(&self, topic: Topic) -> Result<(), BrokerError> {
        self.sync(Some(topic)).await
    }

    async fn recover(&self) {
        // A command makes a connection manager that gave up reconnecting try again.
        let mut conn = self.subscriber.clone();
        let _ = redis::cmd("PING").query_async::<Value>(&mut conn).await;
        if let Err(e) = self.sync(None).await {
            tracing::warn!("resubscribing failed: {e}");
            self.lost_messages.store(true, Ordering::Release);
        }
    }

    fn take_lost_messages(&self) -> bool {
        self.lost_messages.swap(false, Ordering::AcqRel)
    }
}
