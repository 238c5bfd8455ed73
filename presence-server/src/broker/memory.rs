//! The in-process broker: one node, so publishing is delivering.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Broker, BrokerError};
use crate::events::{Event, Topic};
use crate::hub::Hub;

#[derive(Debug)]
pub struct MemoryBroker {
    hub: Arc<Hub>,
}

impl MemoryBroker {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self { hub }
    }
}

#[async_trait]
impl Broker for MemoryBroker {
    async fn publish(&self, event: Event) -> Result<(), BrokerError> {
        self.hub.deliver(&event);
        Ok(())
    }

    async fn subscribe(&self, _topic: Topic) -> Result<(), BrokerError> {
        Ok(())
    }

    async fn unsubscribe(&self, _topic: Topic) -> Result<(), BrokerError> {
        Ok(())
    }
}
