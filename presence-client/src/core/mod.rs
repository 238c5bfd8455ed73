//! The sans-IO core: every rule of the client, with no browser in sight.
//!
//! [`Core::handle`] takes one [`Input`] (a user call, a socket event, a DOM event, a
//! timer) with the current time in milliseconds, updates the state, and queues
//! [`Effect`]s (open or close the socket, send a frame, fetch a token, emit an event)
//! that the caller drains with [`Core::take_effects`] and carries out. Time only enters
//! through the `now` arguments and randomness only through the seed, so the native
//! tests replay exact timelines.
//!
//! Timers follow the "poll timeout" pattern of sans-IO protocol crates (quinn-proto):
//! instead of one effect per timer, the core exposes [`Core::next_deadline`], the
//! earliest moment anything is due (a reconnect, a ping, a missing pong, idle, a typing
//! stop, a paced frame). The caller keeps one timer at that moment and feeds
//! [`Input::Timer`] when it fires; firing early is harmless, as nothing is due yet.

mod backoff;
mod cache;
mod idle;
mod pacer;
mod typing;
mod vecmap;
pub mod wire;

use presence_protocol::{
    limits, ActivityState, ChosenStatus, ClientFrame, CloseCode, CustomStatus, ErrorCode,
    LastSeenPrivacy, Secret, ServerFrame, UserInfo,
};

pub use backoff::{Backoff, Rng};
pub use cache::{Cache, RoomView, UserView};
pub use idle::IdleTracker;
pub use pacer::{Pacer, PACE_BURST, PACE_INTERVAL_MS};
pub use typing::TypingDebounce;
pub use vecmap::{VecMap, VecSet};

/// Default of [`Config::idle_after_ms`]: 5 minutes.
pub const DEFAULT_IDLE_AFTER_MS: u64 = 5 * 60_000;
/// Default of [`Config::hidden_idle_ms`]: 60 seconds.
pub const DEFAULT_HIDDEN_IDLE_MS: u64 = 60_000;
/// Default of [`Config::typing_stop_ms`]: 1.5 seconds.
pub const DEFAULT_TYPING_STOP_MS: u64 = 1_500;
/// Default of [`Config::backoff_base_ms`].
pub const DEFAULT_BACKOFF_BASE_MS: u64 = 1_000;
/// Default of [`Config::backoff_max_ms`].
pub const DEFAULT_BACKOFF_MAX_MS: u64 = 30_000;
/// Default of [`Config::stable_after_ms`].
pub const DEFAULT_STABLE_AFTER_MS: u64 = 10_000;
/// The close code the client uses when it gives up on a socket (no `welcome` or no
/// `pong` in time). Browsers allow only 1000 and 3000–4999 from scripts.
pub const CLOSE_GAVE_UP: u16 = 4000;
/// The close code of a deliberate close (`destroy()`, `pagehide`).
pub const CLOSE_NORMAL: u16 = 1000;
/// The `client` label of `hello`.
pub const CLIENT_NAME: &str = concat!("presence-client/", env!("CARGO_PKG_VERSION"));
/// Users per `watch`/`unwatch` frame, as the protocol allows.
const USERS_PER_FRAME: usize = limits::MAX_USERS_PER_FRAME;

/// The client's settings. Durations are in milliseconds.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `device` label sent in `hello` (cut to 32 characters). Default: none.
    pub device: Option<String>,
    /// Idle after this long without input. Default 5 min.
    pub idle_after_ms: u64,
    /// Idle once the page has been hidden this long. Default 60 s.
    pub hidden_idle_ms: u64,
    /// `typing:false` after this long without input. Default 1.5 s.
    pub typing_stop_ms: u64,
    /// Reconnect when no `pong` (or no `welcome` after opening) comes within this.
    /// Default 10 s.
    pub pong_timeout_ms: u64,
    /// First backoff window. Default 1 s.
    pub backoff_base_ms: u64,
    /// Largest backoff window, and the wait between attempts while offline. Default 30 s.
    pub backoff_max_ms: u64,
    /// A connection that lived this long resets the backoff. Default 10 s.
    pub stable_after_ms: u64,
    /// Whether the app gave a `getToken`: then a refused token (4401) is replaced
    /// instead of ending the connection.
    pub can_fetch_token: bool,
    /// Seed of the jitter RNG.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            device: None,
            idle_after_ms: DEFAULT_IDLE_AFTER_MS,
            hidden_idle_ms: DEFAULT_HIDDEN_IDLE_MS,
            typing_stop_ms: DEFAULT_TYPING_STOP_MS,
            pong_timeout_ms: limits::PONG_TIMEOUT_MS,
            backoff_base_ms: DEFAULT_BACKOFF_BASE_MS,
            backoff_max_ms: DEFAULT_BACKOFF_MAX_MS,
            stable_after_ms: DEFAULT_STABLE_AFTER_MS,
            can_fetch_token: false,
            seed: 0,
        }
    }
}

/// The connection as the app sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// The first attempt since `connect()` is under way.
    Connecting,
    /// `welcome` received; requests go out.
    Open,
    /// The connection was lost (or the page hidden away); a new attempt is scheduled or
    /// under way.
    Reconnecting,
    /// Not connected and not trying: before `connect()`, after `destroy()`, or after
    /// the server refused the client for good (4401 without `getToken`, 4400).
    Closed,
}

impl ConnectionState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Open => "open",
            Self::Reconnecting => "reconnecting",
            Self::Closed => "closed",
        }
    }
}

/// Everything that can happen to the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    // Calls from the app.
    Connect,
    Destroy,
    SetStatus(ChosenStatus),
    SetCustom(Option<CustomStatus>),
    SetPrivacy(LastSeenPrivacy),
    Join(String),
    Leave(String),
    Watch(Vec<String>),
    Unwatch(Vec<String>),
    /// One input event in a room's message box.
    Typing(String),
    StopTyping(String),
    // The page.
    /// Mouse, keyboard, scroll, touch or window focus.
    UserActivity,
    Visibility {
        hidden: bool,
    },
    /// The window lost focus: typing stops everywhere.
    Blur,
    Online,
    Offline,
    /// The page is being unloaded or put in the back-forward cache.
    PageHide,
    /// The page came back from the back-forward cache.
    PageShow,
    // The socket.
    SocketOpened,
    SocketMessage(ServerFrame),
    SocketClosed {
        code: u16,
    },
    /// The answer of `getToken`: a token, or the reason it failed.
    TokenFetched(Result<String, String>),
    /// The timer set for [`Core::next_deadline`] fired.
    Timer,
}

impl Input {
    /// Calls from the app, which a destroyed client refuses.
    const fn is_call(&self) -> bool {
        matches!(
            self,
            Self::Connect
                | Self::SetStatus(_)
                | Self::SetCustom(_)
                | Self::SetPrivacy(_)
                | Self::Join(_)
                | Self::Leave(_)
                | Self::Watch(_)
                | Self::Unwatch(_)
                | Self::Typing(_)
                | Self::StopTyping(_)
        )
    }
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Open a WebSocket to the server (closing any previous one first).
    OpenSocket,
    /// Close the current socket with this code, and deliver no more of its events.
    CloseSocket(u16),
    Send(ClientFrame),
    /// Call `getToken` and feed its answer back as [`Input::TokenFetched`].
    FetchToken,
    Emit(Event),
}

/// Events for the app's listeners.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Connection(ConnectionState),
    /// This room's snapshot changed, or the room is gone (left or refused).
    Room(String),
    /// This watched user's presence changed, or the user is no longer watched.
    Presence(String),
    /// Another member started or stopped typing.
    Typing {
        room: String,
        user: String,
        typing: bool,
    },
    /// The client's own presence ([`Core::me`]) changed.
    Me,
    Error(ClientError),
}

/// An error for the app: a refused call, a failed request, a refused connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    /// A protocol error code (`forbidden`, `too_many`…) or one of the client's own:
    /// `invalid_argument`, `destroyed`, `token_failed`, `unauthorized`.
    pub code: &'static str,
    pub message: String,
    /// The room of a refused `join`.
    pub room: Option<String>,
    /// The users of a refused `watch`.
    pub users: Vec<String>,
}

impl ClientError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            room: None,
            users: Vec::new(),
        }
    }
}

/// The client's own presence as it chose it, for the `me` snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Me<'a> {
    /// Who the server says this is; `None` before the first `welcome`.
    pub user: Option<&'a UserInfo>,
    pub status: ChosenStatus,
    pub custom: Option<&'a CustomStatus>,
    pub privacy: LastSeenPrivacy,
    /// This device's idle detection result.
    pub activity: ActivityState,
}

/// Checks a room or user id: 1 to 128 characters of `[A-Za-z0-9._:@-]`. (The protocol
/// crate's `validate_id` explains the problem in a formatted message; the client only
/// needs the verdict, and skipping `format!` keeps the wasm small.)
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= limits::MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-'))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not connected, not trying.
    Idle,
    /// Waiting out a backoff delay.
    Waiting { at: u64 },
    /// `getToken` is running.
    Fetching,
    /// The socket is opening.
    Opening,
    /// The socket is open and `hello` sent; waiting for `welcome`.
    Hello,
    /// `welcome` received at `since`.
    Open { since: u64 },
    /// The page was hidden away (`pagehide`); resume when it is shown.
    Suspended,
}

/// A request whose refusal the client must act on.
#[derive(Debug, Clone)]
enum Pending {
    Join(String),
    Watch(Vec<String>),
}

/// The client state machine. See the module docs.
#[derive(Debug)]
pub struct Core {
    config: Config,
    phase: Phase,
    destroyed: bool,
    /// A connection was lost since `connect()`: attempts show as `reconnecting`.
    retrying: bool,
    online: bool,
    token: Option<String>,
    /// The token came from `getToken` and has not yet been accepted: a 4401 now means
    /// even a fresh token fails, so the next fetch waits out a backoff.
    token_fresh: bool,
    backoff: Backoff,
    rng: Rng,
    heartbeat_ms: u64,
    typing_ttl_ms: u64,
    ping_at: Option<u64>,
    /// `welcome` (after opening) or `pong` (after a ping) must come by then.
    live_due: Option<u64>,
    pacer: Pacer,
    next_ref: u64,
    pending: Vec<(u64, Pending)>,
    // What the app asked for; re-sent on every new connection.
    rooms: VecSet,
    watched: VecSet,
    status: Option<ChosenStatus>,
    custom: Option<Option<CustomStatus>>,
    privacy: Option<LastSeenPrivacy>,
    user: Option<UserInfo>,
    me_version: u64,
    idle: IdleTracker,
    typing: TypingDebounce,
    cache: Cache,
    effects: Vec<Effect>,
}

impl Core {
    /// A client that has not connected yet. `token` may be `None` when
    /// `config.can_fetch_token` (the first attempt then fetches one).
    pub fn new(mut config: Config, token: Option<String>, now: u64) -> Self {
        if let Some(device) = &mut config.device {
            if let Some((cut, _)) = device.char_indices().nth(limits::MAX_DEVICE_LEN) {
                device.truncate(cut);
            }
        }
        let mut cache = Cache::default();
        let me_version = cache.bump();
        Self {
            backoff: Backoff::new(config.backoff_base_ms, config.backoff_max_ms),
            rng: Rng::new(config.seed),
            idle: IdleTracker::new(now, config.idle_after_ms, config.hidden_idle_ms),
            typing: TypingDebounce::new(config.typing_stop_ms),
            config,
            phase: Phase::Idle,
            destroyed: false,
            retrying: false,
            online: true,
            token,
            token_fresh: false,
            heartbeat_ms: limits::HEARTBEAT_MS,
            typing_ttl_ms: limits::TYPING_TTL_MS,
            ping_at: None,
            live_due: None,
            pacer: Pacer::default(),
            next_ref: 0,
            pending: Vec::new(),
            rooms: VecSet::new(),
            watched: VecSet::new(),
            status: None,
            custom: None,
            privacy: None,
            user: None,
            me_version,
            cache,
            effects: Vec::new(),
        }
    }

    /// Applies one input at time `now` (ms). Calls refused outright (a bad id, a
    /// destroyed client) return the error and change nothing.
    pub fn handle(&mut self, now: u64, input: Input) -> Result<(), ClientError> {
        if self.destroyed {
            return if input.is_call() {
                Err(ClientError::new("destroyed", "the client was destroyed"))
            } else {
                Ok(())
            };
        }
        let before = self.state();
        let result = self.dispatch(now, input);
        let after = self.state();
        if before != after {
            self.emit(Event::Connection(after));
        }
        result
    }

    /// The effects queued since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// The earliest time something is due; feed [`Input::Timer`] then.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.destroyed {
            return None;
        }
        let waiting = match self.phase {
            Phase::Waiting { at } => Some(at),
            _ => None,
        };
        let ping = match self.phase {
            Phase::Open { .. } => self.ping_at,
            _ => None,
        };
        [
            waiting,
            self.live_due,
            ping,
            self.idle.deadline(),
            self.typing.deadline(),
            self.pacer.next_at(),
            self.custom_expires_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn state(&self) -> ConnectionState {
        match self.phase {
            Phase::Idle => ConnectionState::Closed,
            Phase::Open { .. } => ConnectionState::Open,
            _ if self.retrying => ConnectionState::Reconnecting,
            _ => ConnectionState::Connecting,
        }
    }

    pub fn room(&self, room: &str) -> Option<&RoomView> {
        self.cache.room(room)
    }

    pub fn user(&self, user: &str) -> Option<&UserView> {
        self.cache.user(user)
    }

    pub fn me(&self) -> Me<'_> {
        Me {
            user: self.user.as_ref(),
            status: self.status.unwrap_or_default(),
            custom: self.custom.as_ref().and_then(Option::as_ref),
            privacy: self.privacy.unwrap_or_default(),
            activity: self.idle.state(),
        }
    }

    /// Changes whenever [`Core::me`] does.
    pub const fn me_version(&self) -> u64 {
        self.me_version
    }

    /// The rooms the app joined (and the client re-joins after a reconnect).
    pub fn joined(&self) -> impl Iterator<Item = &str> {
        self.rooms.keys()
    }

    /// The users the app watches.
    pub fn watched(&self) -> impl Iterator<Item = &str> {
        self.watched.keys()
    }

    /// Whether this device is typing in `room` (a `typing:true` is in force).
    pub fn is_typing(&self, room: &str) -> bool {
        self.typing.is_typing(room)
    }

    /// Frames held back by the pacer.
    pub fn queued_frames(&self) -> usize {
        self.pacer.queued()
    }

    /// The backoff attempts since the last stable connection.
    pub const fn attempt(&self) -> u32 {
        self.backoff.attempt()
    }

    fn dispatch(&mut self, now: u64, input: Input) -> Result<(), ClientError> {
        match input {
            Input::Connect => {
                if self.phase == Phase::Idle {
                    self.retrying = false;
                    self.backoff.reset();
                    self.start_attempt(now);
                }
            }
            Input::Destroy => self.destroy(),
            Input::SetStatus(status) => {
                if self.status != Some(status) {
                    self.status = Some(status);
                    self.me_changed();
                    self.send(
                        now,
                        ClientFrame::SetStatus {
                            status,
                            r#ref: None,
                        },
                    );
                }
            }
            Input::SetCustom(custom) => {
                self.custom = Some(custom.clone());
                self.me_changed();
                self.send(
                    now,
                    ClientFrame::SetCustom {
                        custom,
                        r#ref: None,
                    },
                );
            }
            Input::SetPrivacy(last_seen) => {
                if self.privacy != Some(last_seen) {
                    self.privacy = Some(last_seen);
                    self.me_changed();
                    self.send(
                        now,
                        ClientFrame::SetPrivacy {
                            last_seen,
                            r#ref: None,
                        },
                    );
                }
            }
            Input::Join(room) => {
                check_id(&room)?;
                if self.rooms.add(room.clone()) {
                    self.send_join(now, room);
                }
            }
            Input::Leave(room) => self.leave(now, &room),
            Input::Watch(users) => {
                users.iter().try_for_each(|u| check_id(u))?;
                let added: Vec<String> = users
                    .into_iter()
                    .filter(|u| self.watched.add(u.clone()))
                    .collect();
                self.send_watch(now, added);
            }
            Input::Unwatch(users) => {
                let removed: Vec<String> = users
                    .into_iter()
                    .filter(|u| self.watched.remove(u).is_some())
                    .collect();
                for chunk in removed.chunks(USERS_PER_FRAME) {
                    let users = chunk.to_vec();
                    self.send(now, ClientFrame::Unwatch { users, r#ref: None });
                }
                for user in removed {
                    if self.cache.remove_user(&user) {
                        self.emit(Event::Presence(user));
                    }
                }
            }
            Input::Typing(room) => {
                self.user_input(now);
                if self.rooms.contains(&room)
                    && self.is_open()
                    && self.typing.input(now, &room, self.typing_ttl_ms)
                {
                    self.send_typing(now, room, true);
                }
            }
            Input::StopTyping(room) => {
                if self.typing.stop(&room) {
                    self.send_typing(now, room, false);
                }
            }
            Input::UserActivity => self.user_input(now),
            Input::Visibility { hidden: true } => self.idle.hidden(now),
            Input::Visibility { hidden: false } | Input::PageShow => {
                if self.idle.shown(now) {
                    self.activity_changed(now);
                }
                if self.phase == Phase::Suspended {
                    self.start_attempt(now);
                }
            }
            Input::Blur => {
                for room in self.typing.take_all() {
                    self.send_typing(now, room, false);
                }
            }
            Input::Online => {
                self.online = true;
                match self.phase {
                    Phase::Waiting { .. } => self.start_attempt(now),
                    // The network changed under an open socket, which may be dead now:
                    // a ping finds out within the pong timeout instead of the server's
                    // 20 s.
                    Phase::Open { .. } if self.live_due.is_none() => {
                        self.live_due = Some(now + self.config.pong_timeout_ms);
                        self.send(now, ClientFrame::Ping { r#ref: None });
                    }
                    _ => {}
                }
            }
            Input::Offline => self.online = false,
            Input::PageHide => {
                if self.phase != Phase::Idle {
                    if self.has_socket() {
                        self.effects.push(Effect::CloseSocket(CLOSE_NORMAL));
                    }
                    self.end_connection();
                    self.retrying = true;
                    self.phase = Phase::Suspended;
                }
            }
            Input::SocketOpened => {
                if self.phase == Phase::Opening {
                    self.phase = Phase::Hello;
                    let hello = ClientFrame::Hello {
                        token: Secret(self.token.clone().unwrap_or_default()),
                        device: self.config.device.clone(),
                        client: Some(CLIENT_NAME.to_owned()),
                    };
                    // `hello` comes before the server's rate limiter: no pacing.
                    self.effects.push(Effect::Send(hello));
                }
            }
            Input::SocketMessage(frame) => self.on_frame(now, frame),
            Input::SocketClosed { code } => {
                if self.has_socket() {
                    self.connection_lost(now, code);
                }
            }
            Input::TokenFetched(Ok(token)) => {
                self.token = Some(token);
                self.token_fresh = true;
                if self.phase == Phase::Fetching {
                    self.start_attempt(now);
                }
            }
            Input::TokenFetched(Err(message)) => {
                if self.phase == Phase::Fetching {
                    self.emit(Event::Error(ClientError::new("token_failed", message)));
                    self.schedule_retry(now);
                }
            }
            Input::Timer => self.on_timer(now),
        }
        Ok(())
    }

    /// When the chosen custom status expires, if it does.
    fn custom_expires_at(&self) -> Option<u64> {
        self.custom.as_ref()?.as_ref()?.expires_at
    }

    fn on_timer(&mut self, now: u64) {
        if self.custom_expires_at().is_some_and(|at| at <= now) {
            // The server drops it at `expires_at` and tells the others; `me` follows.
            self.custom = None;
            self.me_changed();
        }
        if let Phase::Waiting { at } = self.phase {
            if at <= now {
                self.start_attempt(now);
            }
        }
        if self.live_due.is_some_and(|due| due <= now) {
            self.effects.push(Effect::CloseSocket(CLOSE_GAVE_UP));
            self.connection_lost(now, CLOSE_GAVE_UP);
        }
        if let (Phase::Open { .. }, Some(at)) = (self.phase, self.ping_at) {
            if at <= now {
                self.ping_at = Some(now + self.heartbeat_ms);
                if self.live_due.is_none() {
                    self.live_due = Some(now + self.config.pong_timeout_ms);
                }
                self.send(now, ClientFrame::Ping { r#ref: None });
            }
        }
        if self.idle.tick(now) {
            self.activity_changed(now);
        }
        for room in self.typing.expire(now) {
            self.send_typing(now, room, false);
        }
        while let Some(frame) = self.pacer.pop_ready(now) {
            self.effects.push(Effect::Send(frame));
        }
    }

    fn on_frame(&mut self, now: u64, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome {
                user,
                heartbeat_ms,
                typing_ttl_ms,
                server_time,
                ..
            } => {
                if self.phase != Phase::Hello {
                    return;
                }
                self.phase = Phase::Open { since: now };
                self.token_fresh = false;
                self.live_due = None;
                self.heartbeat_ms = heartbeat_ms.max(1_000);
                self.typing_ttl_ms = typing_ttl_ms;
                self.ping_at = Some(now + self.heartbeat_ms);
                self.pacer.reset();
                if self.user.as_ref() != Some(&user) {
                    self.user = Some(user);
                    self.me_changed();
                }
                self.resync(now, server_time);
            }
            ServerFrame::Error {
                code,
                message,
                r#ref,
            } => self.on_error(code, message, r#ref),
            // Anything else belongs to an open session.
            _ if !self.is_open() => {}
            ServerFrame::RoomState {
                room,
                count,
                members,
                typing,
                r#ref,
            } => {
                if let Some(r) = r#ref {
                    self.take_pending(r);
                }
                // A state for a room left meanwhile is stale.
                if self.rooms.contains(&room) {
                    self.cache
                        .replace_room(room.clone(), count, members, typing);
                    self.emit(Event::Room(room));
                }
            }
            ServerFrame::RoomCount { room, count } => {
                if self.cache.set_count(&room, count) {
                    self.emit(Event::Room(room));
                }
            }
            ServerFrame::RoomDiff {
                room,
                joins,
                leaves,
                updates,
            } => {
                if self.cache.apply_diff(&room, joins, leaves, updates) {
                    self.emit(Event::Room(room));
                }
            }
            ServerFrame::PresenceState { users, r#ref } => {
                if let Some(r) = r#ref {
                    self.take_pending(r);
                }
                for presence in users {
                    self.set_user(presence);
                }
            }
            ServerFrame::Presence { presence } => self.set_user(presence),
            ServerFrame::Typing { room, user, typing } => {
                if self.cache.set_typing(&room, &user, typing) {
                    self.emit(Event::Typing {
                        room: room.clone(),
                        user,
                        typing,
                    });
                    self.emit(Event::Room(room));
                }
            }
            ServerFrame::Pong { .. } => self.live_due = None,
            ServerFrame::Ack { .. } => {}
        }
    }

    fn on_error(&mut self, code: ErrorCode, message: String, r#ref: Option<u64>) {
        let mut error = ClientError::new(code.as_str(), message);
        // A refusal is final; a server that could not do it now may manage on the next
        // resync, so the request stays wanted.
        let final_refusal = !matches!(code, ErrorCode::Internal | ErrorCode::RateLimited);
        match r#ref.and_then(|r| self.take_pending(r)) {
            Some(Pending::Join(room)) => {
                if final_refusal {
                    self.rooms.remove(&room);
                    if self.cache.remove_room(&room) {
                        self.emit(Event::Room(room.clone()));
                    }
                }
                error.room = Some(room);
            }
            Some(Pending::Watch(users)) => {
                if final_refusal {
                    for user in &users {
                        self.watched.remove(user);
                        if self.cache.remove_user(user) {
                            self.emit(Event::Presence(user.clone()));
                        }
                    }
                }
                error.users = users;
            }
            // A refused `hello`: the close (4401) follows and decides what happens.
            None if code == ErrorCode::Unauthorized => return,
            None => {}
        }
        self.emit(Event::Error(error));
    }

    /// A new connection: re-send what the app chose, in an order where nothing depends
    /// on a later frame. The `room_state` and `presence_state` answers then replace the
    /// cache entries one by one.
    fn resync(&mut self, now: u64, server_time: u64) {
        if self.idle.state() == ActivityState::Idle {
            self.send(
                now,
                ClientFrame::Activity {
                    state: ActivityState::Idle,
                    r#ref: None,
                },
            );
        }
        if let Some(status) = self.status {
            self.send(
                now,
                ClientFrame::SetStatus {
                    status,
                    r#ref: None,
                },
            );
        }
        if let Some(custom) = self.custom.clone() {
            let expired = custom
                .as_ref()
                .and_then(|c| c.expires_at)
                .is_some_and(|at| at <= server_time);
            if expired {
                // The server cleared it by itself while the client was away.
                self.custom = None;
                self.me_changed();
            } else {
                self.send(
                    now,
                    ClientFrame::SetCustom {
                        custom,
                        r#ref: None,
                    },
                );
            }
        }
        if let Some(last_seen) = self.privacy {
            self.send(
                now,
                ClientFrame::SetPrivacy {
                    last_seen,
                    r#ref: None,
                },
            );
        }
        let rooms: Vec<String> = self.rooms.keys().map(str::to_owned).collect();
        for room in rooms {
            self.send_join(now, room);
        }
        let watched: Vec<String> = self.watched.keys().map(str::to_owned).collect();
        self.send_watch(now, watched);
    }

    fn leave(&mut self, now: u64, room: &str) {
        if self.rooms.remove(room).is_none() {
            return;
        }
        self.pending
            .retain(|(_, p)| !matches!(p, Pending::Join(r) if r == room));
        if self.typing.stop(room) {
            self.send_typing(now, room.to_owned(), false);
        }
        self.send(
            now,
            ClientFrame::Leave {
                room: room.to_owned(),
                r#ref: None,
            },
        );
        if self.cache.remove_room(room) {
            self.emit(Event::Room(room.to_owned()));
        }
    }

    fn destroy(&mut self) {
        if self.is_open() {
            // What was queued goes first, then the goodbyes: typing stops and every
            // room is left, so others see the leave at once instead of after the grace
            // period. The socket closes right after, so pacing no longer matters.
            let queued: Vec<ClientFrame> = self.pacer.drain_all().collect();
            self.effects.extend(queued.into_iter().map(Effect::Send));
            for room in self.typing.take_all() {
                self.effects.push(Effect::Send(ClientFrame::Typing {
                    room,
                    typing: false,
                    r#ref: None,
                }));
            }
            for room in self.rooms.keys() {
                self.effects.push(Effect::Send(ClientFrame::Leave {
                    room: room.to_owned(),
                    r#ref: None,
                }));
            }
        }
        if self.has_socket() {
            self.effects.push(Effect::CloseSocket(CLOSE_NORMAL));
        }
        self.end_connection();
        self.phase = Phase::Idle;
        self.destroyed = true;
    }

    fn start_attempt(&mut self, now: u64) {
        if self.token.is_none() && self.config.can_fetch_token {
            self.phase = Phase::Fetching;
            self.effects.push(Effect::FetchToken);
            return;
        }
        self.phase = Phase::Opening;
        self.live_due = Some(now + self.config.pong_timeout_ms);
        self.effects.push(Effect::OpenSocket);
    }

    /// The socket is gone (closed by the server, the network, or the client giving
    /// up): decide from the close code whether and when to try again.
    fn connection_lost(&mut self, now: u64, code: u16) {
        let stable = matches!(self.phase, Phase::Open { since }
            if now.saturating_sub(since) >= self.config.stable_after_ms);
        if stable {
            self.backoff.reset();
        }
        self.end_connection();
        self.retrying = true;
        match CloseCode::from_code(code) {
            Some(CloseCode::Unauthorized) if self.config.can_fetch_token => {
                self.token = None;
                if std::mem::take(&mut self.token_fresh) {
                    // Even a fresh token was refused: do not hammer `getToken`.
                    self.schedule_retry(now);
                } else {
                    self.start_attempt(now);
                }
            }
            Some(CloseCode::Unauthorized) => self.stop(ClientError::new(
                "unauthorized",
                "the server refused the token (close 4401)",
            )),
            Some(CloseCode::ProtocolAbuse) => self.stop(ClientError::new(
                "bad_request",
                "the server closed the connection after too many bad frames (close 4400)",
            )),
            // The node is shutting down: another one (behind the load balancer) can
            // take the client right away.
            Some(CloseCode::Restarting) => self.start_attempt(now),
            _ => self.schedule_retry(now),
        }
    }

    fn schedule_retry(&mut self, now: u64) {
        self.retrying = true;
        let mut delay = self.backoff.next_delay_ms(&mut self.rng);
        if !self.online {
            // Attempts fail anyway while offline; `online` cuts this wait short.
            delay = delay.max(self.backoff.max_ms());
        }
        self.phase = Phase::Waiting { at: now + delay };
    }

    fn stop(&mut self, error: ClientError) {
        self.phase = Phase::Idle;
        self.emit(Event::Error(error));
    }

    /// Forgets everything that lived with one connection.
    fn end_connection(&mut self) {
        self.ping_at = None;
        self.live_due = None;
        self.pacer.reset();
        self.pending.clear();
        // The server ends typing with the session.
        self.typing.take_all();
    }

    fn user_input(&mut self, now: u64) {
        if self.idle.input(now) {
            self.activity_changed(now);
        }
    }

    fn activity_changed(&mut self, now: u64) {
        self.me_changed();
        let state = self.idle.state();
        self.send(now, ClientFrame::Activity { state, r#ref: None });
    }

    fn set_user(&mut self, presence: presence_protocol::Presence) {
        if !self.watched.contains(&presence.user) {
            return;
        }
        let user = presence.user.clone();
        if self.cache.set_user(presence) {
            self.emit(Event::Presence(user));
        }
    }

    fn send_join(&mut self, now: u64, room: String) {
        if !self.is_open() {
            return;
        }
        let r = self.new_ref(Pending::Join(room.clone()));
        self.send(
            now,
            ClientFrame::Join {
                room,
                r#ref: Some(r),
            },
        );
    }

    fn send_watch(&mut self, now: u64, users: Vec<String>) {
        if !self.is_open() {
            return;
        }
        for chunk in users.chunks(USERS_PER_FRAME) {
            let users = chunk.to_vec();
            let r = self.new_ref(Pending::Watch(users.clone()));
            self.send(
                now,
                ClientFrame::Watch {
                    users,
                    r#ref: Some(r),
                },
            );
        }
    }

    fn send_typing(&mut self, now: u64, room: String, typing: bool) {
        self.send(
            now,
            ClientFrame::Typing {
                room,
                typing,
                r#ref: None,
            },
        );
    }

    /// Sends through the pacer on an open connection; otherwise the frame is dropped,
    /// as the resync on the next connection re-sends what still matters.
    fn send(&mut self, now: u64, frame: ClientFrame) {
        if !self.is_open() {
            return;
        }
        if let Some(frame) = self.pacer.offer(now, frame) {
            self.effects.push(Effect::Send(frame));
        }
    }

    fn new_ref(&mut self, pending: Pending) -> u64 {
        self.next_ref += 1;
        self.pending.push((self.next_ref, pending));
        self.next_ref
    }

    fn take_pending(&mut self, r: u64) -> Option<Pending> {
        let i = self.pending.iter().position(|(p, _)| *p == r)?;
        Some(self.pending.swap_remove(i).1)
    }

    fn me_changed(&mut self) {
        self.me_version = self.cache.bump();
        self.emit(Event::Me);
    }

    fn emit(&mut self, event: Event) {
        self.effects.push(Effect::Emit(event));
    }

    const fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open { .. })
    }

    const fn has_socket(&self) -> bool {
        matches!(
            self.phase,
            Phase::Opening | Phase::Hello | Phase::Open { .. }
        )
    }
}

fn check_id(id: &str) -> Result<(), ClientError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(ClientError::new(
            "invalid_argument",
            "ids are 1 to 128 characters of A-Z a-z 0-9 . _ : @ -",
        ))
    }
}
