//! Node leases and each node's session index: [`NodeLeases`] for the Redis store.

use std::collections::BTreeSet;

use async_trait::async_trait;
use presence_protocol::ActivityState;
use redis::AsyncCommands;

use super::RedisStore;
use crate::store::{NewSession, NodeLeases, SessionState, StoreError, UserChange};

impl RedisStore {
    pub(super) async fn index_session(
        &self,
        node: &str,
        user: &str,
        session: &str,
        add: bool,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let key = self.keys.node_sessions(node);
        let member = format!("{user} {session}");
        self.timed("node_index", async move {
            if add {
                conn.sadd::<_, _, ()>(&key, &member).await
            } else {
                conn.srem::<_, _, ()>(&key, &member).await
            }
        })
        .await
    }
}

#[async_trait]
impl NodeLeases for RedisStore {
    async fn renew_lease(&self, node: &str, ttl_ms: u64, now_ms: u64) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let lease = self.keys.lease(node);
        let nodes = self.keys.nodes();
        self.timed("lease", async move {
            let previous: Option<String> = redis::cmd("SET")
                .arg(&lease)
                .arg(now_ms)
                .arg("PX")
                .arg(ttl_ms)
                .arg("GET")
                .query_async(&mut conn)
                .await?;
            conn.zadd::<_, _, _, ()>(&nodes, node, now_ms + ttl_ms)
                .await?;
            Ok(previous.is_some())
        })
        .await
    }

    async fn release_lease(&self, node: &str, ttl_ms: u64, now_ms: u64) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let lease = self.keys.lease(node);
        let nodes = self.keys.nodes();
        self.timed("lease", async move {
            conn.pset_ex::<_, _, ()>(&lease, now_ms, ttl_ms.max(1))
                .await?;
            conn.zadd::<_, _, _, ()>(&nodes, node, now_ms + ttl_ms)
                .await
        })
        .await
    }

    async fn expired_nodes(&self, now_ms: u64) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        let nodes = self.keys.nodes();
        self.timed("lease", async move {
            conn.zrangebyscore(&nodes, "-inf", now_ms).await
        })
        .await
    }

    async fn claim_sweep(&self, node: &str, by: &str, ttl_ms: u64) -> Result<bool, StoreError> {
        let claimed: i64 = self
            .invoke(
                "sweep_claim",
                self.scripts
                    .sweep_claim
                    .key(self.keys.lease(node))
                    .key(self.keys.sweep(node))
                    .arg(by)
                    .arg(ttl_ms),
            )
            .await?;
        Ok(claimed == 1)
    }

    async fn node_sessions(&self, node: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.keys.node_sessions(node);
        let members: Vec<String> = self
            .timed("node_index", async move { conn.smembers(&key).await })
            .await?;
        Ok(members
            .into_iter()
            .filter_map(|m| {
                let (user, session) = m.split_once(' ')?;
                Some((user.to_owned(), session.to_owned()))
            })
            .collect())
    }

    async fn forget_node(&self, node: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let (nodes, index) = (self.keys.nodes(), self.keys.node_sessions(node));
        // The claim is left to expire by itself: deleting it could let a slow second
        // sweeper start over.
        self.timed("lease", async move {
            conn.zrem::<_, _, ()>(&nodes, node).await?;
            conn.del::<_, ()>(&index).await
        })
        .await
    }

    async fn assert_session(
        &self,
        session: NewSession,
        activity: ActivityState,
        rooms: &[String],
        now_ms: u64,
    ) -> Result<Option<UserChange>, StoreError> {
        self.index_session(&session.node, &session.user, &session.id, true)
            .await?;
        let wanted: BTreeSet<String> = rooms.iter().cloned().collect();
        let (before, after, changed) = self
            .modify(&session.user, now_ms, |st| {
                let mut changed = false;
                if !st.has_session(&session.id) {
                    st.record.name.clone_from(&session.name);
                    st.record.sessions.push(SessionState {
                        id: session.id.clone(),
                        device: session.device.clone(),
                        activity,
                        lingering: false,
                    });
                    st.nodes.insert(session.id.clone(), session.node.clone());
                    changed = true;
                }
                let have = st.rooms.entry(session.id.clone()).or_default();
                if !wanted.is_subset(have) {
                    have.extend(wanted.iter().cloned());
                    changed = true;
                }
                Ok(changed)
            })
            .await?;
        let visible = after.record.visible();
        let mut effects = Vec::new();
        for room in &wanted {
            effects.push(
                self.room_join(room, &session.user, &session.id, visible)
                    .await?,
            );
        }
        let joined_anew = effects.iter().any(|e| !e.was_member);
        if !changed && !joined_anew {
            return Ok(None);
        }
        Ok(Some(UserChange {
            before,
            after: after.record,
            rooms: effects,
        }))
    }
}
