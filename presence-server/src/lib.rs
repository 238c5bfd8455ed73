//! presence-server: who is online, away, busy or offline, who is typing, when someone
//! was last seen, across tabs, devices and (with Redis) server nodes.
//!
//! # Layout
//!
//! - [`config`]: every setting, as a flag and a `PRESENCE_*` environment variable.
//! - `accept.rs`: before the upgrade: the accept loop, which backs off when out of
//!   files, the header-read timeout, and the caps on open connections and on those
//!   that have not finished `hello` (answered 503).
//! - [`http`]: the routes: `GET /v1/ws`, `/healthz`, `/readyz`, `/metrics`, and
//!   `POST /dev/token` in development mode. [`app`] builds the router.
//! - [`session`]: one task per WebSocket: `hello`, frame validation, rate limits,
//!   pings and dead-connection detection, and the writes from a bounded queue
//!   ([`outbox`]), all polled by that one task. It closes a connection only with a
//!   [`presence_protocol::CloseCode`].
//! - [`ws`]: the only place that knows RFC 6455: the upgrade handshake
//!   (`ws/handshake.rs`), the framing, masking and close frames (`ws/codec.rs`), and
//!   the connection a session polls (`ws/mod.rs`).
//! - [`frame`]: serialized protocol frames ([`frame::Utf8Bytes`]), shared by every
//!   recipient; what the hub and the outbox deal in, knowing nothing of WebSocket.
//! - [`small`]: the small sets and vectors each session holds a few entries of.
//! - [`service`]: the presence rules. A request becomes one atomic store step; the
//!   change it reports becomes events (joins, leaves, updates, typing, presence) by a
//!   pure function ([`service::change_events`]). Also what a deadline does, and the
//!   node's upkeep (lease, reassertion, resyncs, sweeps) with its background loop.
//! - [`presence`]: the user record and the effective-status and privacy rules, as pure
//!   functions.
//! - [`store`]: the [`Store`] trait, whose doc comment is the contract, the
//!   [`NodeLeases`] trait of stores shared by several nodes, and the
//!   backends (`store/memory.rs`, `store/redis/`: record compare-and-set, room steps,
//!   leases, Lua scripts).
//! - [`broker`]: the [`Broker`] trait that carries events between
//!   nodes, and its backends (`broker/memory.rs`, `broker/redis.rs`), both checked by
//!   `tests/broker_conformance.rs`.
//! - [`hub`]: this node's sessions by room and watched user; serializes each event
//!   once, coalesces room diffs (a quiet room's change at once, then at most one
//!   `room_diff` per room per window), never blocks on a slow client. Its parts: who
//!   is subscribed to what (`hub/registry.rs`), the per-room coalescing windows
//!   (`hub/coalesce.rs`), and the hold/release protocol of joins and resyncs, whose
//!   ordering invariant heads `hub/hold.rs`.
//! - [`timers`]: every deadline (grace, typing, custom status expiry) in one sorted set
//!   with one task.
//! - [`clock`]: the [`Clock`] the service, its timers and its upkeep read the time
//!   from: the wall clock, or in tests tokio's (pausable) clock.
//! - [`auth`]: JWT verification (HS256) and room/watch patterns.
//! - [`redis_link`]: the Redis (or Redis Cluster) connection and key layout shared by
//!   `store/redis/` and `broker/redis.rs`.
//! - [`metrics`]: the Prometheus metric names.
//!
//! The binary (`main.rs`) parses the config, sets up logging, binds and calls [`run`].
//!
//! # The path of a frame
//!
//! A `typing` frame: [`ws`] decodes it, [`session`] checks size and rate and hands a
//! `ClientFrame` to [`service`] (`service/requests.rs`), which makes one store step
//! (`Store::set_typing`), schedules the stop in [`timers`] and publishes an
//! `Event::Typing` on the room's topic. The [`broker`] carries it to every node with a
//! session in the room, where the [`hub`] first sends the room's pending diff, then
//! serializes the `typing` frame once into each member's [`outbox`]; each session task
//! writes what is queued in one go.
//!
//! A `join`: the service subscribes the session in the hub *held* (`hub/hold.rs`), and
//! the node to the room's topic if it is the first; makes the store step
//! (`Store::join`), whose change [`service::change_events`] turns into the join others
//! see; reads the room snapshot; and releases the hold with the `room_state` first and
//! what was held after it. `docs/architecture.md` walks both paths step by step.

#![warn(unreachable_pub)]
// The tour above names private modules too: `cargo doc --document-private-items`
// renders those links.
#![allow(rustdoc::private_intra_doc_links)]

mod accept;
pub mod auth;
pub mod broker;
pub mod clock;
mod config;
pub mod events;
mod frame;
mod http;
pub mod hub;
mod metrics;
pub mod outbox;
pub mod presence;
pub mod redis_link;
mod service;
mod session;
mod small;
pub mod store;
mod timers;
pub mod ws;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::clock::Clock;
pub use crate::config::{Config, ConfigError};
pub use crate::http::{app, AppState};

use crate::auth::Auth;
use crate::broker::memory::MemoryBroker;
use crate::broker::redis::RedisBroker;
use crate::broker::Broker;
use crate::config::StoreKind;
use crate::hub::Hub;
use crate::redis_link::RedisConn;
use crate::service::{Parts, Service};
use crate::store::memory::MemoryStore;
use crate::store::redis::RedisStore;
use crate::store::{NodeLeases, Store};

/// How often the memory store forgets offline users past `--retention-days`, a
/// bounded batch at a time (a record nobody sweeps yet is already treated as gone).
const MEMORY_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot connect to Redis at {url}: {error}")]
    Redis {
        url: String,
        error: redis::RedisError,
    },
}

/// Builds the service for `config` on an address that is already bound. In development
/// mode (`--dev` and no secret) the secret is random and logged as a warning.
pub async fn build(
    config: Config,
    bound: std::net::SocketAddr,
) -> Result<Arc<Service>, StartError> {
    build_with_clock(config, bound, Clock::system()).await
}

/// [`build`] on `clock` ([`Clock::tokio`] in tests, so that paused time drives it).
pub async fn build_with_clock(
    config: Config,
    bound: std::net::SocketAddr,
    clock: Clock,
) -> Result<Arc<Service>, StartError> {
    config.check(bound)?;
    let (auth, dev_mode) = match &config.jwt_secret {
        Some(secret) => (Auth::hs256(secret.as_bytes()), false),
        None => {
            use rand::RngCore;
            let mut secret = [0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            (Auth::hs256(&secret), true)
        }
    };
    let hub = Arc::new(Hub::new(
        config.large_room_threshold,
        Duration::from_millis(presence_protocol::limits::ROOM_COUNT_INTERVAL_MS),
        Duration::from_millis(config.coalesce_ms),
    ));
    let node_id = config
        .node_id
        .clone()
        .unwrap_or_else(service::random_node_id);
    type Backends = (Arc<dyn Store>, Option<Arc<dyn NodeLeases>>, Arc<dyn Broker>);
    let retention_ms = config.retention_days.saturating_mul(24 * 3600 * 1000);
    let (store, leases, broker): Backends = match config.store {
        StoreKind::Memory => {
            let store = Arc::new(MemoryStore::with_retention(clock, retention_ms));
            MemoryStore::spawn_sweeper(&store, MEMORY_SWEEP_INTERVAL);
            (store, None, Arc::new(MemoryBroker::new(hub.clone())))
        }
        StoreKind::Redis => {
            let redis_error = |error| StartError::Redis {
                url: config.redis_url.clone(),
                error,
            };
            let conn = RedisConn::connect(&config.redis_url, config.redis_cluster, None)
                .await
                .map_err(redis_error)?;
            let store = Arc::new(RedisStore::new(
                conn.clone(),
                &config.redis_prefix,
                retention_ms,
            ));
            let broker = RedisBroker::connect(
                &config.redis_url,
                config.redis_cluster,
                &config.redis_prefix,
                node_id.clone(),
                hub.clone(),
                conn,
            )
            .await
            .map_err(redis_error)?;
            (store.clone(), Some(store), Arc::new(broker))
        }
    };
    let config = Config {
        node_id: Some(node_id),
        ..config
    };
    Ok(Arc::new(Service::new(Parts {
        clock,
        config: Arc::new(config),
        auth,
        dev_mode,
        store,
        leases,
        broker,
        hub,
    })))
}

/// Serves on `listener` until `shutdown` completes, then closes every session with
/// 1012 and returns once they are closed (or the shutdown timeout passed).
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with_clock(listener, config, Clock::system(), shutdown).await
}

/// [`run`] on `clock` ([`Clock::tokio`] in tests, so that paused time drives it).
pub async fn run_with_clock(
    listener: TcpListener,
    config: Config,
    clock: Clock,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let bound = listener.local_addr()?;
    let service = build_with_clock(config, bound, clock).await?;
    if service.dev_mode {
        tracing::warn!(
            "DEVELOPMENT MODE (--dev): no --jwt-secret (PRESENCE_JWT_SECRET) is set, so tokens are \
             signed with a random secret and anyone who can reach http://{bound} can get one \
             from POST /dev/token. Set a secret for anything but local development."
        );
    }
    tracing::info!(%bound, node = %service.node_id, store = ?service.config.store, "presence-server listening");

    let stop = CancellationToken::new();
    let sessions = TaskTracker::new();
    let state = AppState {
        service: service.clone(),
        metrics: metrics::install(),
        shutdown: stop.clone(),
        sessions: sessions.clone(),
    };

    let background = tokio::spawn(service::background_tasks(service.clone(), stop.clone()));

    let serve_stop = stop.clone();
    let hub = service.hub.clone();
    let on_shutdown = tokio::spawn(async move {
        tokio::select! {
            () = shutdown => {}
            () = serve_stop.cancelled() => {}
        }
        tracing::info!("shutting down: closing sessions with 1012");
        // First the token (sessions in their handshake, and those registering
        // now, check it), then every registered session.
        serve_stop.cancel();
        hub.stop_all();
    });
    let config = &service.config;
    let admission = accept::Admission::new(accept::Limits {
        max_connections: config.max_connections,
        max_pre_hello: config.max_pre_hello_connections,
        max_pre_hello_per_ip: config.max_pre_hello_connections_per_ip,
        header_read_timeout: Duration::from_millis(config.header_read_timeout_ms),
        max_request_head_bytes: config.max_request_head_bytes,
    });
    let drain = Duration::from_millis(config.shutdown_timeout_ms);
    accept::serve(listener, app(state), admission, stop.clone(), drain).await;
    on_shutdown.abort();
    stop.cancel();
    service.hub.stop_all();
    sessions.close();
    let timeout = Duration::from_millis(service.config.shutdown_timeout_ms);
    if tokio::time::timeout(timeout, sessions.wait())
        .await
        .is_err()
    {
        tracing::warn!("some sessions did not close within {timeout:?}");
    }
    background.abort();
    service.release_lease().await;
    Ok(())
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
