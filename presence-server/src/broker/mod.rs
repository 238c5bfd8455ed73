//! Carries events between server nodes: [`Broker`].
//!
//! The broker delivers into the [`Hub`](crate::hub::Hub) and never touches sockets. A
//! node subscribes only to the topics its own sessions care about: the hub reports
//! when the first local session wants a topic and when the last one stops, and the
//! service passes that on here.

pub mod memory;
pub mod redis;

use async_trait::async_trait;

use crate::events::{Event, Topic};

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
#[error("broker unavailable: {0}")]
pub struct BrokerError(pub String);

/// Moves events to every node with sessions subscribed to their topic, this node
/// included. Events of one topic arrive in the order they were published.
#[async_trait]
pub trait Broker: Send + Sync + std::fmt::Debug + 'static {
    async fn publish(&self, event: Event) -> Result<(), BrokerError>;
    /// This node wants events of `topic`.
    async fn subscribe(&self, topic: Topic) -> Result<(), BrokerError>;
    /// This node no longer wants events of `topic`.
    async fn unsubscribe(&self, topic: Topic) -> Result<(), BrokerError>;

    /// Whether events from other nodes may have been lost since the last call (the
    /// link to them broke); local sessions then need fresh state. Clears the flag.
    fn take_lost_messages(&self) -> bool {
        false
    }

    /// Makes sure the link to the other nodes is up and every wanted topic is
    /// subscribed (after an outage). Returns once done.
    async fn recover(&self) {}
}
