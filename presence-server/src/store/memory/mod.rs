//! The in-memory store: one process, no setup. The default.
//!
//! Offline users are forgotten after the retention, as in the Redis store: see
//! [`retention`].

pub mod retention;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use presence_protocol::{ActivityState, ChosenStatus};

use super::{
    NewSession, Opened, Resumed, RoomEffect, RoomSnapshot, SessionState, Store, StoreError,
    TypingOutcome, UserChange, UserRecord, UserUpdate,
};
use crate::clock::Clock;
use crate::small::{push_compact, SmallSet};
use retention::Retention;

/// All state under one lock. This is a `std::sync::Mutex` and not a Tokio mutex,
/// because no `.await` happens while it is held: every method is a short, bounded
/// piece of work (see the contract in `store/mod.rs`).
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// A store on the wall clock that forgets offline users after 30 days.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that forgets a user `retention_ms` after their last session ended
    /// (0: never), counted on `clock`.
    pub fn with_retention(clock: Clock, retention_ms: u64) -> Self {
        Self {
            state: Mutex::new(State {
                retention: Retention::new(clock, retention_ms),
                ..State::default()
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A panic while the lock was held would poison it; the state is still the
        // last consistent one since every mutation finishes before unlocking or
        // panics before touching anything, so carry on with it.
        let mut guard = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

#[derive(Debug, Default)]
struct State {
    /// Boxed: a table is up to half empty after it grows, and a record is large, so
    /// inline it cost ~320 bytes per user at 10,000 users; boxed, ~230 (measured
    /// before the box also held the 16-byte time to forget, [`Kept::forget_at`]).
    users: HashMap<String, Box<Kept>>,
    /// Session id → the rooms it is in.
    session_rooms: HashMap<String, SmallSet>,
    rooms: HashMap<String, Room>,
    retention: Retention,
}

/// A user's record, and when it is to be forgotten (`None` while they have a
/// session).
#[derive(Debug)]
struct Kept {
    rec: UserRecord,
    forget_at: Option<u64>,
}

#[derive(Debug, Default)]
struct Room {
    /// User → their sessions in this room.
    members: BTreeMap<String, SmallSet>,
    /// Members others can see; its order gives the "first N" of a snapshot.
    visible: BTreeSet<String>,
    /// User → (owner session, deadline).
    typing: HashMap<String, (String, u64)>,
}

/// A room touched by a change, before `finish` fills in the rest.
struct Touched {
    room: String,
    was_member: bool,
    typing_ended: bool,
}

impl State {
    fn user_mut(&mut self, user: &str) -> &mut UserRecord {
        self.forget_if_due(user);
        &mut self
            .users
            .entry(user.to_owned())
            .or_insert_with(|| {
                Box::new(Kept {
                    rec: UserRecord::unknown(user),
                    forget_at: None,
                })
            })
            .rec
    }

    fn is_member(&self, room: &str, user: &str) -> bool {
        self.rooms
            .get(room)
            .is_some_and(|r| r.members.contains_key(user))
    }

    fn rooms_of_user(&self, user: &str) -> BTreeSet<String> {
        let Some(kept) = self.users.get(user) else {
            return BTreeSet::new();
        };
        kept.rec
            .sessions
            .iter()
            .filter_map(|s| self.session_rooms.get(&s.id))
            .flatten()
            .cloned()
            .collect()
    }

    fn has_session(&self, user: &str, session: &str) -> bool {
        self.users
            .get(user)
            .is_some_and(|k| k.rec.sessions.iter().any(|s| s.id == session))
    }

    /// Removes `session` from `room`; returns whether it ended the session's typing.
    fn remove_membership(&mut self, room: &str, user: &str, session: &str) -> bool {
        let Some(r) = self.rooms.get_mut(room) else {
            return false;
        };
        if let Some(sessions) = r.members.get_mut(user) {
            sessions.remove(session);
            if sessions.is_empty() {
                r.members.remove(user);
            }
        }
        if let Some(rooms) = self.session_rooms.get_mut(session) {
            rooms.remove(room);
        }
        match r.typing.get(user) {
            Some((owner, _)) if owner == session => {
                r.typing.remove(user);
                true
            }
            _ => false,
        }
    }

    /// Ends typing owned by `session` in every room it is in, leaving membership.
    fn end_typing_of_session(&mut self, session: &str, user: &str) -> Vec<Touched> {
        let rooms: Vec<String> = self
            .session_rooms
            .get(session)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default();
        let mut touched = Vec::new();
        for room in rooms {
            if let Some(r) = self.rooms.get_mut(&room) {
                if matches!(r.typing.get(user), Some((owner, _)) if owner == session) {
                    r.typing.remove(user);
                    touched.push(Touched {
                        room,
                        was_member: true,
                        typing_ended: true,
                    });
                }
            }
        }
        touched
    }

    /// Settles the user record, brings every touched room (and with `all_rooms`,
    /// every room the user is in) up to date, and builds the change.
    fn finish(
        &mut self,
        before: UserRecord,
        mut touched: Vec<Touched>,
        all_rooms: bool,
        now_ms: u64,
    ) -> UserChange {
        let user = before.id.clone();
        let rec = self.user_mut(&user);
        rec.settle(before.public_status(), now_ms);
        let after = rec.clone();
        self.reschedule(&user);
        let visible = after.visible();
        if all_rooms {
            for room in self.rooms_of_user(&user) {
                if !touched.iter().any(|t| t.room == room) {
                    touched.push(Touched {
                        room,
                        was_member: true,
                        typing_ended: false,
                    });
                }
            }
        }
        let mut rooms = Vec::with_capacity(touched.len());
        for t in touched {
            let is_member = self.is_member(&t.room, &user);
            let mut typing_ended = t.typing_ended;
            let count = match self.rooms.get_mut(&t.room) {
                Some(r) => {
                    if is_member && visible {
                        r.visible.insert(user.clone());
                    } else {
                        r.visible.remove(&user);
                        // Typing is only ever shown for visible members.
                        typing_ended |= r.typing.remove(&user).is_some();
                    }
                    let count = r.visible.len() as u64;
                    if r.members.is_empty() && r.typing.is_empty() {
                        self.rooms.remove(&t.room);
                    }
                    count
                }
                None => 0,
            };
            rooms.push(RoomEffect {
                room: t.room,
                count,
                was_member: t.was_member,
                is_member,
                typing_ended,
            });
        }
        UserChange {
            before,
            after,
            rooms,
        }
    }

    fn close(&mut self, user: &str, session: &str, now_ms: u64) -> Option<UserChange> {
        if !self.has_session(user, session) {
            return None;
        }
        let before = self.user_mut(user).clone();
        let rooms = self.session_rooms.remove(session).unwrap_or_default();
        let mut touched = Vec::with_capacity(rooms.len());
        for room in rooms {
            let typing_ended = self.remove_membership(&room, user, session);
            touched.push(Touched {
                room,
                was_member: true,
                typing_ended,
            });
        }
        self.user_mut(user).sessions.retain(|s| s.id != session);
        // Every room of the user: their device count changed in all of them.
        Some(self.finish(before, touched, true, now_ms))
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn open_session(
        &self,
        new: NewSession,
        max_sessions: usize,
        now_ms: u64,
    ) -> Result<Opened, StoreError> {
        self.with(|st| {
            let mut evicted = None;
            let rec = st.user_mut(&new.user);
            let lingering_same_device = rec
                .sessions
                .iter()
                .position(|s| s.lingering && s.device == new.device);
            if lingering_same_device.is_none() && rec.sessions.len() >= max_sessions {
                // At the limit: a lingering session of another device makes room;
                // only live sockets count against the limit.
                let Some(old) = rec.sessions.iter().find(|s| s.lingering) else {
                    return Err(StoreError::TooManySessions(max_sessions));
                };
                let old = old.id.clone();
                evicted = st.close(&new.user, &old, now_ms);
            }
            let rec = st.user_mut(&new.user);
            let before = rec.clone();
            // The taken-over session leaves the list and the new one takes its place,
            // so the device count does not move.
            let resumed = lingering_same_device.map(|i| rec.sessions.remove(i).id);
            rec.name = new.name;
            push_compact(
                &mut rec.sessions,
                SessionState {
                    id: new.id.clone(),
                    device: new.device,
                    activity: ActivityState::Active,
                    lingering: false,
                },
            );
            let mut touched = Vec::new();
            let resumed = resumed.map(|old| {
                let rooms = st.session_rooms.remove(&old).unwrap_or_default();
                for room in &rooms {
                    if let Some(r) = st.rooms.get_mut(room) {
                        if let Some(sessions) = r.members.get_mut(&new.user) {
                            sessions.remove(&old);
                            sessions.insert(new.id.clone());
                        }
                        if let Some((owner, _)) = r.typing.get(&new.user) {
                            if *owner == old {
                                r.typing.remove(&new.user);
                            }
                        }
                    }
                    touched.push(Touched {
                        room: room.clone(),
                        was_member: true,
                        typing_ended: false,
                    });
                }
                st.session_rooms.insert(new.id.clone(), rooms.clone());
                Resumed {
                    session: old,
                    rooms: rooms.into_iter().collect(),
                }
            });
            // A new session of a user already in rooms changes their device count
            // there, so every room of the user is touched.
            let change = st.finish(before, touched, true, now_ms);
            Ok(Opened {
                change,
                resumed,
                evicted,
            })
        })
    }

    async fn linger_session(
        &self,
        user: &str,
        session: &str,
        now_ms: u64,
    ) -> Result<UserChange, StoreError> {
        self.with(|st| {
            if !st.has_session(user, session) {
                return Err(StoreError::NoSession(session.to_owned()));
            }
            let before = st.user_mut(user).clone();
            if let Some(s) = st.user_mut(user).session_mut(session) {
                s.lingering = true;
            }
            let touched = st.end_typing_of_session(session, user);
            Ok(st.finish(before, touched, false, now_ms))
        })
    }

    async fn close_session(
        &self,
        user: &str,
        session: &str,
        now_ms: u64,
    ) -> Result<Option<UserChange>, StoreError> {
        Ok(self.with(|st| st.close(user, session, now_ms)))
    }

    async fn set_activity(
        &self,
        user: &str,
        session: &str,
        activity: ActivityState,
        now_ms: u64,
    ) -> Result<UserChange, StoreError> {
        self.with(|st| {
            if !st.has_session(user, session) {
                return Err(StoreError::NoSession(session.to_owned()));
            }
            let rec = st.user_mut(user);
            let before = rec.clone();
            if let Some(s) = rec.session_mut(session) {
                s.activity = activity;
            }
            Ok(st.finish(before, Vec::new(), true, now_ms))
        })
    }

    async fn update_user(
        &self,
        user: &str,
        update: UserUpdate,
        now_ms: u64,
    ) -> Result<UserChange, StoreError> {
        Ok(self.with(|st| {
            let rec = st.user_mut(user);
            let before = rec.clone();
            update.apply(rec);
            st.finish(before, Vec::new(), true, now_ms)
        }))
    }

    async fn join(
        &self,
        user: &str,
        session: &str,
        room: &str,
        now_ms: u64,
    ) -> Result<UserChange, StoreError> {
        self.with(|st| {
            if !st.has_session(user, session) {
                return Err(StoreError::NoSession(session.to_owned()));
            }
            let before = st.user_mut(user).clone();
            let was_member = st.is_member(room, user);
            st.rooms
                .entry(room.to_owned())
                .or_default()
                .members
                .entry(user.to_owned())
                .or_default()
                .insert(session.to_owned());
            st.session_rooms
                .entry(session.to_owned())
                .or_default()
                .insert(room.to_owned());
            let touched = vec![Touched {
                room: room.to_owned(),
                was_member,
                typing_ended: false,
            }];
            Ok(st.finish(before, touched, false, now_ms))
        })
    }

    async fn leave(
        &self,
        user: &str,
        session: &str,
        room: &str,
        now_ms: u64,
    ) -> Result<UserChange, StoreError> {
        Ok(self.with(|st| {
            let before = st.user_mut(user).clone();
            let was_member = st.is_member(room, user);
            let typing_ended = st.remove_membership(room, user, session);
            let touched = vec![Touched {
                room: room.to_owned(),
                was_member,
                typing_ended,
            }];
            st.finish(before, touched, false, now_ms)
        }))
    }

    async fn room_snapshot(
        &self,
        room: &str,
        large: u64,
        shown: usize,
    ) -> Result<RoomSnapshot, StoreError> {
        Ok(self.with(|st| {
            let Some(r) = st.rooms.get(room) else {
                return RoomSnapshot::default();
            };
            let count = r.visible.len() as u64;
            let limit = if count > large { shown } else { usize::MAX };
            RoomSnapshot {
                count,
                members: r
                    .visible
                    .iter()
                    .take(limit)
                    .filter_map(|u| st.users.get(u).map(|k| k.rec.clone()))
                    .collect(),
                typing: r
                    .typing
                    .keys()
                    .filter(|u| r.visible.contains(*u))
                    .cloned()
                    .collect(),
            }
        }))
    }

    async fn users(&self, ids: &[String]) -> Result<Vec<UserRecord>, StoreError> {
        Ok(self.with(|st| {
            ids.iter()
                .map(|id| {
                    st.user(id)
                        .map_or_else(|| UserRecord::unknown(id), UserRecord::clone)
                })
                .collect()
        }))
    }

    async fn set_typing(
        &self,
        user: &str,
        session: &str,
        room: &str,
        until_ms: u64,
    ) -> Result<TypingOutcome, StoreError> {
        self.with(|st| {
            let rec = st
                .users
                .get(user)
                .map(|k| &k.rec)
                .ok_or_else(|| StoreError::NoSession(session.to_owned()))?;
            if rec.chosen == ChosenStatus::Invisible {
                return Ok(TypingOutcome::Hidden);
            }
            let r = st
                .rooms
                .get_mut(room)
                .ok_or_else(|| StoreError::NoSession(session.to_owned()))?;
            let previous = r
                .typing
                .insert(user.to_owned(), (session.to_owned(), until_ms));
            Ok(if previous.is_some() {
                TypingOutcome::Refreshed
            } else {
                TypingOutcome::Started
            })
        })
    }

    async fn clear_typing(
        &self,
        user: &str,
        room: &str,
        deadline_ms: Option<u64>,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|st| {
            let Some(r) = st.rooms.get_mut(room) else {
                return false;
            };
            match (r.typing.get(user), deadline_ms) {
                (Some(_), None) => {}
                (Some((_, until)), Some(deadline)) if *until == deadline => {}
                _ => return false,
            }
            r.typing.remove(user);
            let was_visible = r.visible.contains(user);
            if r.members.is_empty() && r.typing.is_empty() {
                st.rooms.remove(room);
            }
            was_visible
        }))
    }

    async fn ready(&self) -> bool {
        true
    }
}
