//! The presence rules. Sessions call in with decoded, validated frames
//! ([`requests`](self)), timers call in when a deadline passes (`deadlines.rs`), and the
//! node's upkeep (`upkeep.rs`) renews its lease, asserts its sessions again after the
//! store lost them, resyncs its sessions and sweeps dead nodes. Every store step
//! reports a change, which `changes.rs` turns into events, as a pure function; events
//! leave through the broker and come back through the hub.

mod changes;
mod deadlines;
mod requests;
mod typing;
mod upkeep;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use presence_protocol::{ActivityState, ErrorCode};

pub(crate) use self::changes::change_events;
use self::typing::TypingStarts;
pub(crate) use self::upkeep::background_tasks;
use crate::auth::{Auth, Identity};
use crate::broker::Broker;
use crate::clock::Clock;
use crate::config::Config;
use crate::events::{Event, Topic};
use crate::hub::{Hub, LocalId, Outbox};
use crate::metrics;
use crate::outbox::NodeBytes;
use crate::small::SmallSet;
use crate::store::{NodeLeases, Store, StoreError, UserChange};
use crate::timers::Timers;

/// A request that failed: the `error` frame's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: ErrorCode,
    pub message: String,
}

impl Failure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::TooManySessions(n) => Self::new(
                ErrorCode::TooMany,
                format!("a user may have at most {n} sessions"),
            ),
            StoreError::NoSession(_) => Self::new(ErrorCode::Internal, "session is gone"),
            StoreError::Unavailable(m) => {
                tracing::warn!("store unavailable: {m}");
                Self::new(ErrorCode::Internal, "presence store unavailable, try again")
            }
        }
    }
}

/// One connection's session, owned by its socket task.
#[derive(Debug)]
pub struct SessionCtx {
    pub local: LocalId,
    pub session: String,
    pub identity: Identity,
    pub device: String,
    pub rooms: SmallSet,
    pub watching: SmallSet,
    pub out: Outbox,
}

/// See the module docs.
#[derive(Debug)]
pub struct Service {
    pub config: Arc<Config>,
    pub node_id: String,
    pub auth: Auth,
    /// Development mode: no secret was configured, `POST /dev/token` exists.
    pub dev_mode: bool,
    pub hub: Arc<Hub>,
    pub timers: Arc<Timers>,
    /// Where every rule, deadline and upkeep step reads the time.
    pub clock: Clock,
    store: Arc<dyn Store>,
    /// The leases of the nodes that share the store; `None` for a single-process store,
    /// which needs no leases, sweeps or reassertion.
    leases: Option<Arc<dyn NodeLeases>>,
    broker: Arc<dyn Broker>,
    /// Resumed sessions → rooms carried over from the session they took over and not
    /// joined again yet. A `std::sync::Mutex`: never held across an `.await`.
    carried: Mutex<HashMap<String, HashSet<String>>>,
    /// This node's live sessions, as the store should have them: what the node asserts
    /// again when the store lost its data. Kept only with shared leases. A
    /// `std::sync::Mutex`: never held across an `.await`.
    live: Mutex<HashMap<String, LiveSession>>,
    /// Resync once more on the next renewal: by then every other node has asserted
    /// its sessions again.
    resync_again: std::sync::atomic::AtomicBool,
    /// The bytes queued for all of this node's sessions (`--node-outbound-bytes`).
    pub outbound: Arc<NodeBytes>,
    /// When each user's last `typing:true` in a room was fanned out from this node
    /// (`--typing-window-ms`).
    typing_starts: TypingStarts,
}

/// What a node knows of one of its live sessions, to assert it again.
#[derive(Debug, Clone)]
struct LiveSession {
    user: String,
    name: String,
    device: String,
    activity: ActivityState,
    rooms: SmallSet,
}

/// A fresh node id, when none is configured.
pub(crate) fn random_node_id() -> String {
    random_hex(6)
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a [`Service`] is made of: [`build`](crate::build) picks them from the config.
#[derive(Debug)]
pub struct Parts {
    /// The time the service, its timers and its upkeep read.
    pub clock: Clock,
    pub config: Arc<Config>,
    pub auth: Auth,
    /// No secret was configured: `POST /dev/token` exists.
    pub dev_mode: bool,
    pub store: Arc<dyn Store>,
    /// The store's node leases, when several nodes share it.
    pub leases: Option<Arc<dyn NodeLeases>>,
    pub broker: Arc<dyn Broker>,
    pub hub: Arc<Hub>,
}

impl Service {
    pub fn new(parts: Parts) -> Self {
        let Parts {
            clock,
            config,
            auth,
            dev_mode,
            store,
            leases,
            broker,
            hub,
        } = parts;
        let node_id = config.node_id.clone().unwrap_or_else(random_node_id);
        Self {
            config,
            node_id,
            auth,
            dev_mode,
            hub,
            timers: Arc::new(Timers::new(clock)),
            clock,
            store,
            leases,
            broker,
            carried: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
            resync_again: std::sync::atomic::AtomicBool::new(false),
            outbound: Arc::default(),
            typing_starts: TypingStarts::default(),
        }
    }

    fn live(&self) -> MutexGuard<'_, HashMap<String, LiveSession>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn carried(&self) -> MutexGuard<'_, HashMap<String, HashSet<String>>> {
        self.carried.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the store answers (`/readyz`).
    pub async fn ready(&self) -> bool {
        self.store.ready().await
    }

    /// Whether several nodes share the store (leases and sweeps then run).
    pub fn shared_store(&self) -> bool {
        self.leases.is_some()
    }

    /// Publishes the events a store change makes ([`change_events`]).
    async fn publish_change(&self, change: &UserChange, now: u64) {
        self.publish_change_seen(change, now, now).await;
    }

    /// [`publish_change`](Self::publish_change), with the record before the change as
    /// it looked at `before_ms`.
    async fn publish_change_seen(&self, change: &UserChange, before_ms: u64, now: u64) {
        match (change.before.visible(), change.after.visible()) {
            (false, true) => metrics::users_online(1.0),
            (true, false) => metrics::users_online(-1.0),
            _ => {}
        }
        for event in change_events(change, before_ms, now) {
            self.publish(event).await;
        }
    }

    async fn publish(&self, event: Event) {
        if let Err(e) = self.broker.publish(event).await {
            tracing::warn!("publish failed: {e}");
        }
    }

    async fn subscribe(&self, topic: Topic) {
        if let Err(e) = self.broker.subscribe(topic).await {
            tracing::warn!("subscribe failed: {e}");
        }
    }

    async fn unsubscribe(&self, topic: Topic) {
        if let Err(e) = self.broker.unsubscribe(topic).await {
            tracing::warn!("unsubscribe failed: {e}");
        }
    }
}
