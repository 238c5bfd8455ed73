//! The Redis store: many nodes share one Redis (or Redis Cluster).
//!
//! A user's record is one hash in the user's slot, changed by compare-and-set: the
//! node reads it, applies the same rules as the memory store (`presence.rs`), and
//! writes it back only if nobody wrote in between (`cas_user.lua`), else it retries.
//! The rules thus live in Rust only. Room state lives in the room's slot and changes
//! through one script per step (`room_*.lua`, `typing_*.lua`), each atomic: "the
//! user's last session leaves the room, so the user leaves it" is one script.
//!
//! A change to a user that concerns their rooms is first written to the user's record,
//! then to each room. Closing a session goes the other way (rooms first, then the
//! record), so a node that dies half way leaves the session in the record, where the
//! sweep of that node finds it and finishes the job; every step can run twice.
//!
//! The parts: `record.rs` (the user's record and its compare-and-set), `rooms.rs` (the
//! room steps), `leases.rs` (node leases and each node's session index, for
//! [`NodeLeases`](super::NodeLeases)), `scripts.rs` (the Lua scripts, from `lua/`).
//! Key layout: [`crate::redis_link`]. Costs: every call is O(1) in the
//! number of users and rooms, plus the rooms of the one user it changes;
//! `room_snapshot` is O(members shown).

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Instant;

use async_trait::async_trait;
use futures_util::future::try_join_all;
use presence_protocol::ActivityState;
use redis::AsyncCommands;

use super::{
    NewSession, Opened, Resumed, RoomSnapshot, SessionState, Store, StoreError, TypingOutcome,
    UserChange, UserRecord, UserUpdate,
};
use crate::redis_link::{Keys, RedisConn};
use scripts::Scripts;

mod leases;
mod record;
mod rooms;
mod scripts;

/// See the module docs.
#[derive(Debug)]
pub struct RedisStore {
    conn: RedisConn,
    keys: Keys,
    scripts: Scripts,
    /// How long a user's record (last seen, status, custom status, privacy) is kept
    /// after their last session ends.
    retention_ms: u64,
}

pub(super) fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisStore {
    pub fn new(conn: RedisConn, prefix: &str, retention_ms: u64) -> Self {
        Self {
            conn,
            keys: Keys::new(prefix),
            scripts: Scripts::default(),
            retention_ms,
        }
    }

    /// Runs one Redis step, recording its latency and errors.
    pub(super) async fn timed<T>(
        &self,
        op: &'static str,
        f: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        let start = Instant::now();
        let result = f.await;
        crate::metrics::redis_command(op, start.elapsed(), result.is_ok());
        result.map_err(unavailable)
    }

    /// Runs one script call on a connection of its own, timed like every step.
    pub(super) async fn invoke<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        call: &redis::ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        self.timed(op, call.invoke_async(&mut conn)).await
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn open_session(
        &self,
        new: NewSession,
        max_sessions: usize,
        now_ms: u64,
    ) -> Result<Opened, StoreError> {
        // At the limit with a lingering session of another device: close that one
        // first (a step of its own, with its own events).
        let (_, current) = self.load(&new.user).await?;
        let same_device = |s: &SessionState| s.lingering && s.device == new.device;
        let mut evicted = None;
        if !current.record.sessions.iter().any(same_device)
            && current.record.sessions.len() >= max_sessions
        {
            match current.record.sessions.iter().find(|s| s.lingering) {
                Some(old) => evicted = self.close_session(&new.user, &old.id, now_ms).await?,
                None => return Err(StoreError::TooManySessions(max_sessions)),
            }
        }
        // Index first: a node that dies right after still has this session swept.
        self.index_session(&new.node, &new.user, &new.id, true)
            .await?;
        let (before, after, resumed) = self
            .modify(&new.user, now_ms, |st| {
                let old = st
                    .record
                    .sessions
                    .iter()
                    .find(|s| same_device(s))
                    .map(|s| s.id.clone());
                let resumed = old.map(|old| {
                    let node = st.nodes.get(&old).cloned();
                    let rooms = st.remove_session(&old);
                    st.rooms.insert(new.id.clone(), rooms.clone());
                    (old, rooms, node)
                });
                if resumed.is_none() && st.record.sessions.len() >= max_sessions {
                    return Err(StoreError::TooManySessions(max_sessions));
                }
                st.record.name.clone_from(&new.name);
                st.record.sessions.push(SessionState {
                    id: new.id.clone(),
                    device: new.device.clone(),
                    activity: ActivityState::Active,
                    lingering: false,
                });
                st.nodes.insert(new.id.clone(), new.node.clone());
                Ok(resumed)
            })
            .await?;
        let visible = after.record.visible();
        let mut rooms = Vec::new();
        if let Some((old, carried, old_node)) = &resumed {
            // Join the new session before the old one leaves: the user never leaves.
            for room in carried {
                let mut effect = self.room_join(room, &new.user, &new.id, visible).await?;
                let left = self.room_leave(room, &new.user, old).await?;
                effect.count = left.count;
                rooms.push(effect);
            }
            if let Some(node) = old_node {
                self.index_session(node, &new.user, old, false).await?;
            }
        }
        let carried: BTreeSet<String> = resumed
            .as_ref()
            .map(|(_, r, _)| r.clone())
            .unwrap_or_default();
        let others = after
            .all_rooms()
            .into_iter()
            .filter(|r| !carried.contains(r));
        rooms.extend(self.sync_rooms(others, &new.user, visible, None).await?);
        Ok(Opened {
            change: UserChange {
                before,
                after: after.record,
                rooms,
            },
            resumed: resumed.map(|(session, rooms, _)| Resumed {
                session,
                rooms: rooms.into_iter().collect(),
            }),
            evicted,
        })
    }

    async fn linger_session(
        &self,
        user: &str,
        session: &str,
        now_ms: u64,
    ) -> Result<UserChange, StoreError> {
        let (before, after, rooms) = self
            .modify(user, now_ms, |st| {
                st.record
                    .session_mut(session)
                    .ok_or_else(|| StoreError::NoSession(session.to_owned()))?
                    .lingering = true;
                Ok(st.rooms.get(session).cloned().unwrap_or_default())
            })
            .await?;
        let visible = after.record.visible();
        let rooms = self.sync_rooms(rooms, user, visible, Some(session)).await?;
        Ok(UserChange {
            before,
            after: after.record,
            rooms,
        })
    }

    async fn close_session(
        &self,
        user: &str,
        session: &str,
        now_ms: u64,
    ) -> Result<Option<UserChange>, StoreError> {
        let (_, current) = self.load(user).await?;
        if !current.has_session(session) {
            return Ok(None);
        }
        let node = current.nodes.get(session).cloned();
        // Rooms first, the record last (see the module docs).
        let leaving = current.rooms.get(session).cloned().unwrap_or_default();
        let mut rooms = try_join_all(
            leaving
                .iter()
                .map(|room| self.room_leave(room, user, session)),
        )
        .await?;
        let (before, after, existed) = self
            .modify(user, now_ms, |st| {
                let existed = st.has_session(session);
                st.remove_session(session);
                Ok(existed)
            })
            .await?;
        if !existed {
            return Ok(None);
        }
        let visible = after.record.visible();
        let others = after
            .all_rooms()
            .into_iter()
            .filter(|r| !leaving.contains(r));
        rooms.extend(self.sync_rooms(others, user, visible, None).await?);
        if let Some(node) = node {
            self.index_session(&node, user, session, false).await?;
        }
        Ok(Some(UserChange {
            before,
            after: after.record,
            rooms,
        }))
    }

    async fn set_activity(
        &self,
        user: &str,
        session: &str,
        activity: ActivityState,
        now_ms: u64,
    ) -> Result<UserChange, StoreError> {
        self.modify_everywhere(user, now_ms, |rec| {
            rec.session_mut(session)
                .ok_or_else(|| StoreError::NoSession(session.to_owned()))?
                .activity = activity;
            Ok(())
        })
        .await
    }

    async fn update_user(
        &self,
        user: &str,
        update: UserUpdate,
        now_ms: u64,
    ) -> Result<UserChange, StoreError> {
        self.modify_everywhere(user, now_ms, |rec| {
            update.apply(rec);
            Ok(())
        })
        .await
    }

    async fn join(
        &self,
        user: &str,
        session: &str,
        room: &str,
        now_ms: u64,
    ) -> Result<UserChange, StoreError> {
        let (before, after, ()) = self
            .modify(user, now_ms, |st| {
                if !st.has_session(session) {
                    return Err(StoreError::NoSession(session.to_owned()));
                }
                st.rooms
                    .entry(session.to_owned())
                    .or_default()
                    .insert(room.to_owned());
                Ok(())
            })
            .await?;
        let effect = self
            .room_join(room, user, session, after.record.visible())
            .await?;
        Ok(UserChange {
            before,
            after: after.record,
            rooms: vec![effect],
        })
    }

    async fn leave(
        &self,
        user: &str,
        session: &str,
        room: &str,
        now_ms: u64,
    ) -> Result<UserChange, StoreError> {
        let (before, after, ()) = self
            .modify(user, now_ms, |st| {
                if let Some(rooms) = st.rooms.get_mut(session) {
                    rooms.remove(room);
                }
                Ok(())
            })
            .await?;
        let effect = self.room_leave(room, user, session).await?;
        Ok(UserChange {
            before,
            after: after.record,
            rooms: vec![effect],
        })
    }

    async fn room_snapshot(
        &self,
        room: &str,
        large: u64,
        shown: usize,
    ) -> Result<RoomSnapshot, StoreError> {
        let mut conn = self.conn.clone();
        let visible_key = self.keys.room_visible(room);
        let typing_key = self.keys.room_typing(room);
        let count: u64 = self
            .timed("room_count", async { conn.zcard(&visible_key).await })
            .await?;
        let stop = if count > large {
            isize::try_from(shown).unwrap_or(isize::MAX) - 1
        } else {
            -1
        };
        let mut conn = self.conn.clone();
        let (ids, typists): (Vec<String>, Vec<String>) = self
            .timed("room_snapshot", async {
                let ids: Vec<String> = conn.zrange(&visible_key, 0, stop).await?;
                let typists: Vec<String> = conn.hkeys(&typing_key).await?;
                Ok((ids, typists))
            })
            .await?;
        let mut typing = Vec::with_capacity(typists.len());
        for user in typists {
            let mut conn = self.conn.clone();
            let score: Option<f64> = self
                .timed("room_snapshot", async {
                    conn.zscore(&visible_key, &user).await
                })
                .await?;
            if score.is_some() {
                typing.push(user);
            }
        }
        let members = self.users(&ids).await?;
        Ok(RoomSnapshot {
            count,
            members,
            typing,
        })
    }

    async fn users(&self, ids: &[String]) -> Result<Vec<UserRecord>, StoreError> {
        try_join_all(ids.iter().map(|id| async move {
            let (_, stored) = self.load(id).await?;
            Ok::<_, StoreError>(stored.record)
        }))
        .await
    }

    async fn set_typing(
        &self,
        user: &str,
        session: &str,
        room: &str,
        until_ms: u64,
    ) -> Result<TypingOutcome, StoreError> {
        let outcome: i64 = self
            .invoke(
                "typing_set",
                self.scripts
                    .typing_set
                    .key(self.keys.room_visible(room))
                    .key(self.keys.room_typing(room))
                    .arg(user)
                    .arg(session)
                    .arg(until_ms),
            )
            .await?;
        Ok(match outcome {
            0 => TypingOutcome::Started,
            1 => TypingOutcome::Refreshed,
            _ => TypingOutcome::Hidden,
        })
    }

    async fn clear_typing(
        &self,
        user: &str,
        room: &str,
        deadline_ms: Option<u64>,
    ) -> Result<bool, StoreError> {
        let ended: i64 = self
            .invoke(
                "typing_clear",
                self.scripts
                    .typing_clear
                    .key(self.keys.room_visible(room))
                    .key(self.keys.room_typing(room))
                    .arg(user)
                    .arg(deadline_ms.map(|d| d.to_string()).unwrap_or_default()),
            )
            .await?;
        Ok(ended == 1)
    }

    async fn ready(&self) -> bool {
        let mut conn = self.conn.clone();
        self.timed("ping", async {
            redis::cmd("PING").query_async::<String>(&mut conn).await
        })
        .await
        .is_ok()
    }
}
