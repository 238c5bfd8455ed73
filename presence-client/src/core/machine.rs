//! The [`Core`] state machine: its state, the one entry point [`Core::handle`], the
//! next deadline, the views the browser skin reads, and the app's calls.
//!
//! The state's own types (`Phase`, `Pending`) live here too: `connection.rs`,
//! `inbound.rs` and `outbound.rs` add methods to [`Core`] and depend on this module,
//! never the other way round.

use presence_protocol::{
    limits, ChosenStatus, ClientFrame, CustomStatus, LastSeenPrivacy, UserInfo,
};

use super::backoff::{Backoff, Rng};
use super::cache::{Cache, RoomView, UserView};
use super::idle::IdleTracker;
use super::pacer::Pacer;
use super::typing::TypingDebounce;
use super::vecmap::VecSet;
use super::vocab::{
    check_id, ClientError, Config, Effect, Event, Input, Me, CLOSE_NORMAL, USERS_PER_FRAME,
};

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
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
pub(super) enum Pending {
    Join(String),
    Watch(Vec<String>),
}

/// The client state machine. See the module docs.
#[derive(Debug)]
pub struct Core {
    pub(super) config: Config,
    pub(super) phase: Phase,
    pub(super) destroyed: bool,
    /// A connection was lost since `connect()`: attempts show as `reconnecting`.
    pub(super) retrying: bool,
    pub(super) online: bool,
    pub(super) token: Option<String>,
    /// The token came from `getToken` and has not yet been accepted: a 4401 now means
    /// even a fresh token fails, so the next fetch waits out a backoff.
    pub(super) token_fresh: bool,
    pub(super) backoff: Backoff,
    pub(super) rng: Rng,
    pub(super) heartbeat_ms: u64,
    pub(super) typing_ttl_ms: u64,
    pub(super) ping_at: Option<u64>,
    /// `welcome` (after opening) or `pong` (after a ping) must come by then.
    pub(super) live_due: Option<u64>,
    pub(super) pacer: Pacer,
    pub(super) next_ref: u64,
    pub(super) pending: Vec<(u64, Pending)>,
    // What the app asked for; re-sent on every new connection.
    pub(super) rooms: VecSet,
    pub(super) watched: VecSet,
    pub(super) status: Option<ChosenStatus>,
    pub(super) custom: Option<Option<CustomStatus>>,
    pub(super) privacy: Option<LastSeenPrivacy>,
    pub(super) user: Option<UserInfo>,
    pub(super) me_version: u64,
    pub(super) idle: IdleTracker,
    pub(super) typing: TypingDebounce,
    pub(super) cache: Cache,
    pub(super) effects: Vec<Effect>,
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

    /// A joined room as the client knows it, or `None` before its state arrived.
    pub fn room(&self, room: &str) -> Option<&RoomView> {
        self.cache.room(room)
    }

    /// A watched user as the client knows them, or `None` before their presence arrived.
    pub fn user(&self, user: &str) -> Option<&UserView> {
        self.cache.user(user)
    }

    /// The client's own presence as it chose it.
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

    /// One input, with the connection's own inputs handed to `connection.rs` and the
    /// server's frames to `inbound.rs`.
    fn dispatch(&mut self, now: u64, input: Input) -> Result<(), ClientError> {
        match input {
            Input::Connect => self.connect(now),
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
                self.resume(now);
            }
            Input::Blur => {
                for room in self.typing.take_all() {
                    self.send_typing(now, room, false);
                }
            }
            Input::Online => self.went_online(now),
            Input::Offline => self.online = false,
            Input::PageHide => self.suspend(),
            Input::SocketOpened => self.socket_opened(),
            Input::SocketMessage(frame) => self.on_frame(now, frame),
            Input::SocketClosed { code } => self.socket_closed(now, code),
            Input::TokenFetched(token) => self.token_fetched(now, token),
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
        self.connection_timer(now);
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

    pub(super) fn user_input(&mut self, now: u64) {
        if self.idle.input(now) {
            self.activity_changed(now);
        }
    }

    pub(super) fn activity_changed(&mut self, now: u64) {
        self.me_changed();
        let state = self.idle.state();
        self.send(now, ClientFrame::Activity { state, r#ref: None });
    }

    pub(super) fn me_changed(&mut self) {
        self.me_version = self.cache.bump();
        self.emit(Event::Me);
    }

    pub(super) fn emit(&mut self, event: Event) {
        self.effects.push(Effect::Emit(event));
    }
}
