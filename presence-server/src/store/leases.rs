//! Node leases: what a store shared by several nodes keeps so that the survivors can
//! clean up after a node that died.
//!
//! Each node holds a lease that it renews; the store indexes each node's sessions. When
//! a lease expires, exactly one live node claims the dead node's cleanup, closes its
//! sessions (their users leave and go offline everywhere) and forgets the node. A node
//! whose lease the store lost (it lost its data, or swept the node after a long
//! outage) asserts its live sessions again.
//!
//! A single-process store has one node, which cannot die without the store: it does
//! not implement this trait, and the service runs no leases or sweeps for it.

use async_trait::async_trait;
use presence_protocol::ActivityState;

use super::{NewSession, StoreError, UserChange};

/// The leases and session index of the nodes that share a store. Every method is one
/// atomic step, like the [`Store`](super::Store)'s.
#[async_trait]
pub trait NodeLeases: Send + Sync + std::fmt::Debug + 'static {
    /// Renews `node`'s lease for `ttl_ms`. Returns whether the lease was still there;
    /// `false` means the store lost it (expired, swept, or the store lost its data)
    /// and the node must assert its sessions again.
    async fn renew_lease(&self, node: &str, ttl_ms: u64, now_ms: u64) -> Result<bool, StoreError>;

    /// Shortens `node`'s lease to `ttl_ms` (a clean shutdown: the node's sessions
    /// linger for that long, then the others sweep them).
    async fn release_lease(&self, node: &str, ttl_ms: u64, now_ms: u64) -> Result<(), StoreError>;

    /// Nodes whose lease expired by `now_ms` and that nobody has cleaned up yet.
    async fn expired_nodes(&self, now_ms: u64) -> Result<Vec<String>, StoreError>;

    /// Claims the cleanup of a dead node for `ttl_ms`; `true` for exactly one
    /// claimant (until the claim expires unfinished).
    async fn claim_sweep(&self, node: &str, by: &str, ttl_ms: u64) -> Result<bool, StoreError>;

    /// A node's sessions, as (user, session).
    async fn node_sessions(&self, node: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Drops what is left of a swept node.
    async fn forget_node(&self, node: &str) -> Result<(), StoreError>;

    /// Makes sure a live session and its rooms are in the store, as after the store
    /// lost its data. Returns the change, or `None` when all was there already.
    async fn assert_session(
        &self,
        session: NewSession,
        activity: ActivityState,
        rooms: &[String],
        now_ms: u64,
    ) -> Result<Option<UserChange>, StoreError>;
}
