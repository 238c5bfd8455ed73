//! The presence rules: what each request does to the store, and which events its
//! changes make. Sessions call in with decoded, validated frames; timers call in when a
//! deadline passes. Events leave through the broker and come back through the hub.

use std::collections::{HashMap, HashSet};

use crate::small::SmallSet;
use std::sync::{Arc, Mutex};

use presence_protocol::{
    limits::LARGE_ROOM_MEMBERS_SHOWN, ActivityState, ChosenStatus, ClientFrame, ErrorCode,
    Presence, ServerFrame, UserInfo,
};

use crate::auth::{Auth, Identity};
use crate::broker::Broker;
use crate::clock::now_ms;
use crate::config::Config;
use crate::events::{Event, RoomChange, Topic};
use crate::hub::{Hub, Interest, LocalId, Outbox};
use crate::metrics;
use crate::presence::{UserRecord, Viewer};
use crate::store::{NewSession, Store, StoreError, TypingOutcome, UserChange, UserUpdate};
use crate::timers::{TimerKey, Timers};

/// How long a node owns the cleanup of a dead node before another may retry it.
const SWEEP_CLAIM_MS: u64 = 30_000;

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
    store: Arc<dyn Store>,
    broker: Arc<dyn Broker>,
    /// Resumed sessions → rooms carried over from the session they took over and not
    /// joined again yet. A `std::sync::Mutex`: never held across an `.await`.
    carried: Mutex<HashMap<String, HashSet<String>>>,
    /// This node's live sessions, as the store should have them: what the node asserts
    /// again when the store lost its data. A `std::sync::Mutex`: never held across an
    /// `.await`.
    live: Mutex<HashMap<String, LiveSession>>,
    /// Resync once more on the next renewal: by then every other node has asserted
    /// its sessions again.
    resync_again: std::sync::atomic::AtomicBool,
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
pub fn random_node_id() -> String {
    random_hex(6)
}

fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

impl Service {
    pub fn new(
        config: Arc<Config>,
        auth: Auth,
        dev_mode: bool,
        store: Arc<dyn Store>,
        broker: Arc<dyn Broker>,
        hub: Arc<Hub>,
    ) -> Self {
        let node_id = config.node_id.clone().unwrap_or_else(|| random_hex(6));
        Self {
            config,
            node_id,
            auth,
            dev_mode,
            hub,
            timers: Arc::new(Timers::default()),
            store,
            broker,
            carried: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
            resync_again: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, LiveSession>> {
        self.live
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn carried(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashSet<String>>> {
        self.carried
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the store answers (`/readyz`).
    pub async fn ready(&self) -> bool {
        self.store.ready().await
    }

    /// Starts a session for a verified identity. Returns the context and the `welcome`.
    pub async fn open(
        &self,
        identity: Identity,
        device: String,
        out: Outbox,
    ) -> Result<(SessionCtx, ServerFrame), Failure> {
        let now = now_ms();
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
        let now = now_ms();
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
            let snapshot_at = std::time::Instant::now();
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
        if typing {
            let until = now + self.config.typing_ttl_ms;
            let outcome = self
                .store
                .set_typing(&room, &user, &ctx.session, until)
                .await?;
            if outcome != TypingOutcome::Hidden {
                self.timers.schedule(key, until);
            }
            if outcome == TypingOutcome::Started {
                self.publish(Event::Typing { room, user, typing }).await;
            }
        } else {
            self.timers.cancel(&key);
            if self.store.clear_typing(&room, &user, None).await? {
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
        let now = now_ms();
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

    /// A deadline passed. Runs on the timer task, so it only spawns.
    pub fn on_timer(self: &Arc<Self>, key: TimerKey, at: u64) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.fire(key.clone(), at).await {
                // The store is away: try again, or a lingering session would never
                // close. Its deadline stays `at`, so the retry does the same work.
                tracing::warn!(?key, "timer work failed, retrying in 1 s: {}", e.message);
                this.timers.retry(key, at, now_ms() + 1_000);
            }
        });
    }

    async fn fire(&self, key: TimerKey, at: u64) -> Result<(), Failure> {
        let now = now_ms();
        match key {
            TimerKey::Grace { user, session } => {
                self.carried().remove(&session);
                if let Some(change) = self.store.close_session(&user, &session, now).await? {
                    self.publish_change(&change, now).await;
                }
            }
            TimerKey::Typing { room, user } => {
                if self.store.clear_typing(&room, &user, Some(at)).await? {
                    self.publish(Event::Typing {
                        room,
                        user,
                        typing: false,
                    })
                    .await;
                }
            }
            TimerKey::Custom { user } => {
                let change = self
                    .store
                    .update_user(&user, UserUpdate::ExpireCustom { expires_at: at }, now)
                    .await?;
                // Seen at `now`, the expired status is hidden already: compare with the
                // moment before it expired, or the change would look like no change.
                self.publish_change_seen(&change, at.saturating_sub(1), now)
                    .await;
            }
            TimerKey::Carried { user, session } => {
                let rooms = self.carried().remove(&session).unwrap_or_default();
                for room in rooms {
                    let change = self.store.leave(&user, &session, &room, now).await?;
                    self.publish_change(&change, now).await;
                }
            }
        }
        Ok(())
    }

    // --- Many nodes, and a store that went away ------------------------------------

    /// Whether several nodes share the store (leases and sweeps then run).
    pub fn shared_store(&self) -> bool {
        self.store.shared()
    }

    /// Renews this node's lease. `first` is the node's first renewal. When the store
    /// had lost the lease (it lost its data, or swept this node after a long outage),
    /// the node asserts its live sessions again; after any outage, or when events from
    /// other nodes may have been lost, local sessions get fresh state. Returns whether
    /// the store answered.
    pub async fn maintain_lease(&self, first: bool, was_up: bool) -> bool {
        let now = now_ms();
        let renewed = self
            .store
            .renew_lease(&self.node_id, self.config.lease_ttl_ms, now)
            .await;
        metrics::redis_up(renewed.is_ok());
        let lease_was_there = match renewed {
            Ok(existed) => existed,
            Err(e) => {
                if was_up {
                    tracing::warn!("store unreachable, serving local sessions only: {e}");
                }
                return false;
            }
        };
        let lost_messages = self.broker.take_lost_messages();
        let recovering = (!lease_was_there && !first) || !was_up || lost_messages;
        if recovering {
            self.broker.recover().await;
        }
        if !lease_was_there && !first {
            tracing::warn!("this node's lease was gone: asserting its sessions again");
            self.reassert().await;
        }
        let again = self
            .resync_again
            .swap(recovering, std::sync::atomic::Ordering::AcqRel);
        if recovering || again {
            if !was_up {
                tracing::info!("store reachable again: resyncing local sessions");
            }
            self.resync_local().await;
        }
        true
    }

    /// Writes every live session of this node, and its rooms, to the store again.
    async fn reassert(&self) {
        let sessions: Vec<(String, LiveSession)> = self
            .live()
            .iter()
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect();
        let now = now_ms();
        for (id, s) in sessions {
            let rooms: Vec<String> = s.rooms.into_iter().collect();
            let session = NewSession {
                id,
                user: s.user,
                name: s.name,
                device: s.device,
                node: self.node_id.clone(),
            };
            match self
                .store
                .assert_session(session, s.activity, &rooms, now)
                .await
            {
                Ok(Some(change)) => self.publish_change(&change, now).await,
                Ok(None) => {}
                Err(e) => tracing::warn!("asserting a session failed: {e}"),
            }
        }
    }

    /// Sends fresh state to every local session: a `room_state` for each room, a
    /// `presence` for each watched user.
    async fn resync_local(&self) {
        for room in self.hub.room_names() {
            self.resync_room(&room).await;
        }
        let users = self.hub.watched_users();
        let now = now_ms();
        for chunk in users.chunks(100) {
            match self.store.users(chunk).await {
                Ok(records) => {
                    for r in records {
                        self.hub.deliver(&Event::User {
                            user: r.id.clone(),
                            public: Some(r.view(Viewer::Others, now)),
                            own: Some(r.view(Viewer::Own, now)),
                        });
                    }
                }
                Err(e) => tracing::warn!("resync of watched users failed: {e}"),
            }
        }
    }

    /// Sends a fresh `room_state` (no `ref`) to the local members of `room`.
    pub async fn resync_room(&self, room: &str) {
        // Held first, so that no diff delivered while the state is read overtakes it.
        let held = self.hub.hold_room(room);
        if held.is_empty() {
            return;
        }
        let snapshot_at = std::time::Instant::now();
        let snapshot = match self
            .store
            .room_snapshot(
                room,
                self.config.large_room_threshold,
                LARGE_ROOM_MEMBERS_SHOWN,
            )
            .await
        {
            Ok(snapshot) => snapshot,
            Err(e) => {
                tracing::warn!(room, "resync failed: {e}");
                self.hub.resync_room(room, &held, None, snapshot_at);
                return;
            }
        };
        let now = now_ms();
        let state = ServerFrame::RoomState {
            room: room.to_owned(),
            count: snapshot.count,
            members: snapshot
                .members
                .iter()
                .map(|m| m.view(Viewer::Others, now))
                .collect(),
            typing: snapshot.typing,
            r#ref: None,
        };
        self.hub
            .resync_room(room, &held, Some((&state, snapshot.count)), snapshot_at);
    }

    /// Cleans up after nodes whose lease expired: closes their sessions (their users
    /// leave and go offline everywhere). Exactly one live node sweeps each dead node.
    pub async fn sweep_dead_nodes(&self) {
        let now = now_ms();
        let Ok(expired) = self.store.expired_nodes(now).await else {
            return;
        };
        for node in expired.into_iter().filter(|n| *n != self.node_id) {
            match self
                .store
                .claim_sweep(&node, &self.node_id, SWEEP_CLAIM_MS)
                .await
            {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(%node, "sweep claim failed: {e}");
                    continue;
                }
            }
            let sessions = match self.store.node_sessions(&node).await {
                Ok(sessions) => sessions,
                Err(e) => {
                    tracing::warn!(%node, "listing a dead node's sessions failed: {e}");
                    continue;
                }
            };
            let mut closed = 0;
            let mut complete = true;
            for (user, session) in &sessions {
                match self.store.close_session(user, session, now_ms()).await {
                    Ok(Some(change)) => {
                        closed += 1;
                        self.publish_change(&change, now_ms()).await;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        complete = false;
                        tracing::warn!(%node, %user, "closing a dead node's session failed: {e}");
                    }
                }
            }
            // An incomplete sweep is left for the claim to expire; then it runs again.
            if complete {
                if let Err(e) = self.store.forget_node(&node).await {
                    tracing::warn!(%node, "forgetting a swept node failed: {e}");
                }
            }
            tracing::info!(%node, sessions = closed, "swept a dead node");
            metrics::node_swept(closed);
        }
    }

    /// At shutdown: the node's sessions linger for the grace period, then the other
    /// nodes sweep the ones that did not come back.
    pub async fn release_lease(&self) {
        if let Err(e) = self
            .store
            .release_lease(&self.node_id, self.config.grace_ms, now_ms())
            .await
        {
            tracing::warn!("releasing the lease failed: {e}");
        }
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

    /// Publishes the events a store change makes: a `presence` for watchers if the
    /// user's presence changed, and per room a join, leave or update (and the end of
    /// typing). Nothing when nothing visible changed.
    async fn publish_change(&self, change: &UserChange, now: u64) {
        self.publish_change_seen(change, now, now).await;
    }

    /// [`publish_change`](Self::publish_change), with the record before the change as
    /// it looked at `before_ms`.
    async fn publish_change_seen(&self, change: &UserChange, before_ms: u64, now: u64) {
        let (before, after) = (&change.before, &change.after);
        let user = &after.id;
        let before_public = before.view(Viewer::Others, before_ms);
        let after_public = after.view(Viewer::Others, now);
        let before_own = before.view(Viewer::Own, before_ms);
        let after_own = after.view(Viewer::Own, now);
        match (before.visible(), after.visible()) {
            (false, true) => metrics::users_online(1.0),
            (true, false) => metrics::users_online(-1.0),
            _ => {}
        }
        let public_changed = before_public != after_public;
        let own_changed = before_own != after_own;
        if public_changed || own_changed {
            self.publish(Event::User {
                user: user.clone(),
                public: public_changed.then(|| after_public.clone()),
                own: own_changed.then(|| after_own.clone()),
            })
            .await;
        }
        for effect in &change.rooms {
            let seen_before = effect.was_member && before.visible();
            let seen_after = effect.is_member && after.visible();
            if effect.typing_ended && seen_before {
                self.publish(Event::Typing {
                    room: effect.room.clone(),
                    user: user.clone(),
                    typing: false,
                })
                .await;
            }
            let public = room_change(seen_before, seen_after, &before_public, &after_public);
            let own = room_change(effect.was_member, effect.is_member, &before_own, &after_own);
            if public.is_some() || own.is_some() {
                self.publish(Event::Room {
                    room: effect.room.clone(),
                    user: user.clone(),
                    public,
                    own,
                    count: effect.count,
                })
                .await;
            }
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

/// The room event one side sees, from whether it saw the user as a member before and
/// after, and the presences it saw.
fn room_change(
    seen_before: bool,
    seen_after: bool,
    before: &Presence,
    after: &Presence,
) -> Option<RoomChange> {
    match (seen_before, seen_after) {
        (false, true) => Some(RoomChange::Join(after.clone())),
        (true, false) => Some(RoomChange::Leave),
        (true, true) if before != after => Some(RoomChange::Update(after.clone())),
        _ => None,
    }
}
