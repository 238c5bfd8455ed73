//! A user's record: one hash in the user's slot (`v` the version, `d` the JSON), read,
//! changed by the same rules as the memory store and written back by compare-and-set
//! (`cas_user.lua`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::RedisStore;
use crate::store::{StoreError, UserChange, UserRecord};

/// Compare-and-set attempts before a change gives up: only the same user's own
/// sessions write the same record, so more than a couple of conflicts means something
/// is wrong.
const MAX_CAS_ATTEMPTS: usize = 16;

/// What is stored under a user's key (as JSON in field `d`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Stored {
    #[serde(flatten)]
    pub(super) record: UserRecord,
    /// Session → the rooms it is in.
    #[serde(default)]
    pub(super) rooms: BTreeMap<String, BTreeSet<String>>,
    /// Session → the node that holds its socket.
    #[serde(default)]
    pub(super) nodes: BTreeMap<String, String>,
}

impl Stored {
    pub(super) fn unknown(user: &str) -> Self {
        Self {
            record: UserRecord::unknown(user),
            ..Self::default()
        }
    }

    pub(super) fn has_session(&self, session: &str) -> bool {
        self.record.sessions.iter().any(|s| s.id == session)
    }

    pub(super) fn all_rooms(&self) -> BTreeSet<String> {
        self.rooms.values().flatten().cloned().collect()
    }

    pub(super) fn remove_session(&mut self, session: &str) -> BTreeSet<String> {
        self.record.sessions.retain(|s| s.id != session);
        self.nodes.remove(session);
        self.rooms.remove(session).unwrap_or_default()
    }
}

impl RedisStore {
    pub(super) async fn load(&self, user: &str) -> Result<(u64, Stored), StoreError> {
        let mut conn = self.conn.clone();
        let key = self.keys.user(user);
        let (version, data): (Option<u64>, Option<String>) = self
            .timed("load_user", async move {
                redis::cmd("HMGET")
                    .arg(&key)
                    .arg("v")
                    .arg("d")
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        let stored = match data {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| StoreError::Unavailable(format!("corrupt record of {user}: {e}")))?,
            None => Stored::unknown(user),
        };
        Ok((version.unwrap_or(0), stored))
    }

    /// Applies `f` to the user's record by compare-and-set, settles `since` and
    /// `last_seen`, and returns the record before and after.
    pub(super) async fn modify<T>(
        &self,
        user: &str,
        now_ms: u64,
        f: impl Fn(&mut Stored) -> Result<T, StoreError>,
    ) -> Result<(UserRecord, Stored, T), StoreError> {
        for _ in 0..MAX_CAS_ATTEMPTS {
            let (version, before) = self.load(user).await?;
            let mut after = before.clone();
            let out = f(&mut after)?;
            after.record.settle(before.record.public_status(), now_ms);
            let json = serde_json::to_string(&after)
                .map_err(|e| StoreError::Unavailable(format!("encode: {e}")))?;
            let ttl = if after.record.sessions.is_empty() {
                self.retention_ms
            } else {
                0
            };
            let key = self.keys.user(user);
            let written: i64 = self
                .invoke(
                    "cas_user",
                    self.scripts
                        .cas_user
                        .key(&key)
                        .arg(version)
                        .arg(&json)
                        .arg(ttl),
                )
                .await?;
            if written == 1 {
                return Ok((before.record, after, out));
            }
        }
        Err(StoreError::Unavailable(format!(
            "record of {user} kept changing under {MAX_CAS_ATTEMPTS} attempts"
        )))
    }

    /// [`modify`](Self::modify) of the record alone, then every room of the user
    /// brought up to date.
    pub(super) async fn modify_everywhere(
        &self,
        user: &str,
        now_ms: u64,
        f: impl Fn(&mut UserRecord) -> Result<(), StoreError>,
    ) -> Result<UserChange, StoreError> {
        let (before, after, ()) = self.modify(user, now_ms, |st| f(&mut st.record)).await?;
        let rooms = self
            .sync_rooms(after.all_rooms(), user, after.record.visible(), None)
            .await?;
        Ok(UserChange {
            before,
            after: after.record,
            rooms,
        })
    }
}
