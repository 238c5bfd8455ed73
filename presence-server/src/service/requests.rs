//! What each request of a session does: `hello` (open), every frame after it, and the
//! end of the socket.

use presence_protocol::{
    limits::LARGE_ROOM_MEMBERS_SHOWN, ActivityState, ChosenStatus, ClientFrame, ErrorCode,
    Presence, ServerFrame, UserInfo,
};

use super::{random_hex, Failure, LiveSession, Service, SessionCtx};
use crate::auth::Identity;
use crate::events::{Event, Topic};
use crate::hub::{Interest, Outbox};
use crate::metrics;
use crate::presence::{UserRecord, Viewer};
use crate::small::SmallSet;
use crate::store::{NewSession, TypingOutcome, UserUpdate};
use crate::timers::TimerKey;

impl Service {
    /// Starts a session for a verified identity. Returns the context and the `welcome`.
    pub async fn open(
        &self,
        identity: Identity,
        device: String,
        out: Outbox,
    ) -> Result<(SessionCtx, ServerFrame), Failure> {
        let now = self.clock.now_ms();
        let session = format!("{}-{}", self.node_id, random_hex(8));
        let opened = self
            .store
            .open_session(
                NewSession {
                    id: session.clone(),
                    user: identity.user.clone(),
                    name: identity.name.clone(),
                    device: device.clone(),
                    node: self.node_id.clone(),
                },
                self.config.max_sessions_per_user,
                now,
            )
            .await?;
        if let Some(evicted) = &opened.evicted {
            self.publish_change(evicted, now).await;
        }
        if let Some(resumed) = &opened.resumed {
            self.timers.cancel(&TimerKey::Grace {
                user: identity.user.clone(),
                session: resumed.session.clone(),
            });
            let mut carried = self.carried();
            carried.remove(&resumed.session);
            if !resumed.rooms.is_empty() {
                carried.insert(session.clone(), resumed.rooms.iter().cloned().collect());
                self.timers.schedule(
                    TimerKey::Carried {
                        user: identity.user.clone(),
                        session: session.clone(),
                    },
                    now + self.config.grace_ms,
                );
            }
        }
        self.publish_change(&opened.change, now).await;
        // Only a store shared by several nodes can lose a node's sessions and need them
        // asserted again; with the memory store this would be a copy of every session
        // for nothing.
        if self.shared_store() {
            self.live().insert(
                session.clone(),
                LiveSession {
                    user: identity.user.clone(),
                    name: identity.name.clone(),
                    device: device.clone(),
                    activity: ActivityState::Active,
                    rooms: SmallSet::new(),
                },
            );
        }
        let local = self.hub.register(&identity.user, out.clone());
        let welcome = ServerFrame::Welcome {
            session: session.clone(),
            user: UserInfo {
                id: identity.user.clone(),
                name: identity.name.clone(),
            },
            heartbeat_ms: self.config.heartbeat_ms,
            typing_ttl_ms: self.config.typing_ttl_ms,
            server_time: now,
        };
        let ctx = SessionCtx {
            local,
            session,
            identity,
            device,
            rooms: SmallSet::new(),
            watching: SmallSet::new(),
            out,
        };
        Ok((ctx, welcome))
    }

    /// Handles one request. `Ok(Some(frame))` is the direct answer to send; answers
    /// that must be ordered with events (`room_state`, `presence_state` of `watch`) are
    /// queued through the hub instead and give `Ok(None)`.
    pub async fn handle(
        &self,
        ctx: &mut SessionCtx,
        frame: ClientFrame,
    ) -> Result<Option<ServerFrame>, Failure> {
        let reference = frame.reference();
        let ack = reference.map(|r| ServerFrame::Ack { r#ref: r });
        let now = self.clock.now_ms();
        let user = ctx.identity.user.clone();
        match frame {
            ClientFrame::Hello { .. } => Err(Failure::new(
                ErrorCode::BadRequest,
                "`hello` was already accepted on this connection",
            )),
            ClientFrame::Ping { r#ref } => Ok(Some(ServerFrame::Pong {
                server_time: now,
                r#ref,
            })),
            ClientFrame::Activity { state, .. } => {
                let change = self
                    .store
                    .set_activity(&user, &ctx.session, state, now)
                    .await?;
                if let Some(live) = self.live().get_mut(&ctx.session) {
                    live.activity = state;
                }
                self.publish_change(&change, now).await;
                Ok(ack)
            }
            ClientFrame::SetStatus { status, .. } => {
                self.update_user(&user, UserUpdate::Status(status), now)
                    .await?;
                Ok(ack)
            }
            ClientFrame::SetCustom { custom, .. } => {
                let expires_at = custom.as_ref().and_then(|c| c.expires_at);
                if expires_at.is_some_and(|at| at <= now) {
                    return Err(Failure::new(
                        ErrorCode::BadRequest,
                        "custom.expires_at is in the past",
                    ));
                }
                self.update_user(&user, UserUpdate::Custom(custom), now)
                    .await?;
                let key = TimerKey::Custom { user };
                match expires_at {
                    Some(at) => self.timers.schedule(key, at),
                    None => self.timers.cancel(&key),
                }
                Ok(ack)
            }
            ClientFrame::SetPrivacy { last_seen, .. } => {
                self.update_user(&user, UserUpdate::Privacy(last_seen), now)
                    .await?;
                Ok(ack)
            }
            ClientFrame::Join { room, .. } => {
                self.join(ctx, room, reference, now).await?;
                Ok(None)
            }
            ClientFrame::Leave { room, .. } => {
                self.leave(ctx, &room, now).await?;
                Ok(ack)
            }
            ClientFrame::Watch { users, .. } => {
                self.watch(ctx, users, reference, now).await?;
                Ok(None)
            }
            ClientFrame::Unwatch { users, .. } => {
                for u in users {
                    if ctx.watching.remove(&u) && self.hub.unwatch(&u, ctx.local) == Interest::Last
                    {
                        self.unsubscribe(Topic::User(u)).await;
                    }
                }
                Ok(ack)
            }
            ClientFrame::Query { users, .. } => {
                self.check_watch_allowed(ctx, &users)?;
                let users = self.views(&user, &users, now).await?;
                Ok(Some(ServerFrame::PresenceState {
                    users,
                    r#ref: reference,
                }))
            }
            ClientFrame::Typing { room, typing, .. } => {
                self.typing(ctx, room, typing, now).await?;
                Ok(None)
            }
        }
    }

    async fn update_user(&self, user: &str, update: UserUpdate, now: u64) -> Result<(), Failure> {
        let change = self.store.update_user(user, update, now).await?;
        self.publish_change(&change, now).await;
        Ok(())
    }

    async fn join(
        &self,
        ctx: &mut SessionCtx,
        room: String,
        reference: Option<u64>,
        now: u64,
    ) -> Result<(), Failure> {
        if !ctx.identity.rooms.allows(&room) {
            return Err(Failure::new(
                ErrorCode::Forbidden,
                format!("the token does not allow joining room {room:?}"),
            ));
        }
        let rejoin = ctx.rooms.contains(&room);
        if !rejoin && ctx.rooms.len() >= self.config.max_rooms_per_session {
            return Err(Failure::new(
                ErrorCode::TooMany,
                format!(
                    "a session may be in at most {} rooms",
                    self.config.max_rooms_per_session
                ),
            ));
        }
        if self.outbound.get() >= self.config.node_outbound_bytes
            && self
                .hub
                .room_count(&room)
                .is_none_or(|count| count > LARGE_ROOM_MEMBERS_SHOWN as u64)
        {
            // Under pressure a `room_state` that may be large is not queued on top:
            // refused before the store step, so nothing is undone.
            metrics::join_refused_under_pressure();
            return Err(Failure::new(
                ErrorCode::Busy,
                "server busy: too many bytes queued, retry the join later",
            ));
        }
        // Subscribe first (held), so no event between the store's change and the
        // snapshot is lost; they wait behind the snapshot.
        if self.hub.subscribe_room(&room, ctx.local) == Interest::First {
            self.subscribe(Topic::Room(room.clone())).await;
        }
        let result = async {
            let change = self
                .store
                .join(&ctx.identity.user, &ctx.session, &room, now)
                .await?;
            self.publish_change(&change, now).await;
            let snapshot_at = tokio::time::Instant::now();
            let snapshot = self
                .store
                .room_snapshot(
                    &room,
                    self.config.large_room_threshold,
                    LARGE_ROOM_MEMBERS_SHOWN,
                )
                .await?;
            Ok::<_, Failure>((change.after, snapshot, snapshot_at))
        }
        .await;
        let (me, snapshot, snapshot_at) = match result {
            Ok(ok) => ok,
            Err(e) => {
                if !rejoin && self.hub.unsubscribe_room(&room, ctx.local) == Interest::Last {
                    self.unsubscribe(Topic::Room(room)).await;
                }
                return Err(e);
            }
        };
        ctx.rooms.insert(room.clone());
        if let Some(live) = self.live().get_mut(&ctx.session) {
            live.rooms.insert(room.clone());
        }
        if let Some(rooms) = self.carried().get_mut(&ctx.session) {
            rooms.remove(&room);
        }
        let mut members: Vec<Presence> = snapshot
            .members
            .iter()
            .map(|m| self.view_for(&ctx.identity.user, m, now))
            .collect();
        if me.chosen == ChosenStatus::Invisible {
            // Others do not list an invisible user; their own sessions do.
            members.push(me.view(Viewer::Own, now));
        }
        let state = ServerFrame::RoomState {
            room: room.clone(),
            count: snapshot.count,
            members,
            typing: snapshot.typing,
            r#ref: reference,
        };
        self.hub
            .release_room(&room, ctx.local, &state, snapshot.count, snapshot_at);
        Ok(())
    }

    async fn leave(&self, ctx: &mut SessionCtx, room: &str, now: u64) -> Result<(), Failure> {
        let carried = self
            .carried()
            .get_mut(&ctx.session)
            .is_some_and(|rooms| rooms.remove(room));
        if !ctx.rooms.remove(room) && !carried {
            return Ok(());
        }
        if let Some(live) = self.live().get_mut(&ctx.session) {
            live.rooms.remove(room);
        }
        if self.hub.unsubscribe_room(room, ctx.local) == Interest::Last {
            self.unsubscribe(Topic::Room(room.to_owned())).await;
        }
        let change = self
            .store
            .leave(&ctx.identity.user, &ctx.session, room, now)
            .await?;
        self.publish_change(&change, now).await;
        Ok(())
    }

    fn check_watch_allowed(&self, ctx: &SessionCtx, users: &[String]) -> Result<(), Failure> {
        match users.iter().find(|u| !ctx.identity.watch.allows(u)) {
            Some(u) => Err(Failure::new(
                ErrorCode::Forbidden,
                format!("the token does not allow watching user {u:?}"),
            )),
            None => Ok(()),
        }
    }

    async fn watch(
        &self,
        ctx: &mut SessionCtx,
        users: Vec<String>,
        reference: Option<u64>,
        now: u64,
    ) -> Result<(), Failure> {
        self.check_watch_allowed(ctx, &users)?;
        let new: Vec<String> = users
            .iter()
            .filter(|u| !ctx.watching.contains(u))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if ctx.watching.len() + new.len() > self.config.max_watched_per_session {
            return Err(Failure::new(
                ErrorCode::TooMany,
                format!(
                    "a session may watch at most {} users",
                    self.config.max_watched_per_session
                ),
            ));
        }
        for u in &new {
            if self.hub.subscribe_watch(u, ctx.local) == Interest::First {
                self.subscribe(Topic::User(u.clone())).await;
            }
            ctx.watching.insert(u.clone());
        }
        let views = match self.views(&ctx.identity.user, &users, now).await {
            Ok(views) => views,
            Err(e) => {
                for u in new {
                    ctx.watching.remove(&u);
                    if self.hub.unwatch(&u, ctx.local) == Interest::Last {
                        self.unsubscribe(Topic::User(u)).await;
                    }
                }
                return Err(e);
            }
        };
        let state = ServerFrame::PresenceState {
            users: views,
            r#ref: reference,
        };
        self.hub.release_watch(&new, ctx.local, &state);
        Ok(())
    }

    async fn typing(
        &self,
        ctx: &SessionCtx,
        room: String,
        typing: bool,
        now: u64,
    ) -> Result<(), Failure> {
        if !ctx.rooms.contains(&room) {
            return Err(Failure::new(
                ErrorCode::NotJoined,
                format!("join room {room:?} before typing in it"),
            ));
        }
        let user = ctx.identity.user.clone();
        let key = TimerKey::Typing {
            room: room.clone(),
            user: user.clone(),
        };
        let window = self.config.typing_window_ms;
        if typing {
            if !self.typing_starts.may_start(&user, &room, now, window) {
                metrics::typing_dropped();
                return Ok(());
            }
            let until = now + self.config.typing_ttl_ms;
            let outcome = self
                .store
                .set_typing(&user, &ctx.session, &room, until)
                .await?;
            if outcome != TypingOutcome::Hidden {
                self.timers.schedule(key, until);
            }
            if outcome == TypingOutcome::Started {
                self.typing_starts.started(&user, &room, now, window);
                self.publish(Event::Typing { room, user, typing }).await;
            }
        } else {
            self.timers.cancel(&key);
            if self.store.clear_typing(&user, &room, None).await? {
                self.typing_starts.stopped(&user, &room);
                self.publish(Event::Typing { room, user, typing }).await;
            }
        }
        Ok(())
    }

    /// The socket of a session is gone (closed, lost, or the node shuts down): stop
    /// delivering to it, and keep its user present for the grace period.
    pub async fn end(&self, ctx: SessionCtx) {
        self.live().remove(&ctx.session);
        let rooms: Vec<String> = ctx.rooms.into_iter().collect();
        let watching: Vec<String> = ctx.watching.into_iter().collect();
        let (rooms, users) = self.hub.unregister(ctx.local, &rooms, &watching);
        for room in rooms {
            self.unsubscribe(Topic::Room(room)).await;
        }
        for user in users {
            self.unsubscribe(Topic::User(user)).await;
        }
        let now = self.clock.now_ms();
        let user = ctx.identity.user;
        match self.store.linger_session(&user, &ctx.session, now).await {
            Ok(change) => self.publish_change(&change, now).await,
            Err(e) => tracing::warn!(%user, session = %ctx.session, "linger failed: {e}"),
        }
        self.timers.schedule(
            TimerKey::Grace {
                user,
                session: ctx.session,
            },
            now + self.config.grace_ms,
        );
    }

    /// The presences of `ids` as `viewer` sees them.
    async fn views(
        &self,
        viewer: &str,
        ids: &[String],
        now: u64,
    ) -> Result<Vec<Presence>, Failure> {
        let records = self.store.users(ids).await?;
        Ok(records
            .iter()
            .map(|r| self.view_for(viewer, r, now))
            .collect())
    }

    fn view_for(&self, viewer: &str, record: &UserRecord, now: u64) -> Presence {
        let who = if record.id == viewer {
            Viewer::Own
        } else {
            Viewer::Others
        };
        record.view(who, now)
    }
}
