//! A harness for the core: a clock the test moves by hand, and the effects sorted into
//! what went out on the wire and what the app heard.

// Each test crate that includes this module uses only part of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use presence_client::core::{
    wire::JsonValue, ClientError, Config, ConnectionState, Core, Effect, Event, Input,
};
use presence_client::protocol::{ClientFrame, EffectiveStatus, Presence, ServerFrame, UserInfo};

pub const T0: u64 = 1_764_290_000_000;
pub const HEARTBEAT_MS: u64 = 25_000;
pub const TYPING_TTL_MS: u64 = 5_000;

/// A core, a hand-moved clock, and everything the core asked for since the last look.
pub struct Harness {
    pub core: Core,
    pub now: u64,
    /// Answer every `ping` with a `pong`, as a live server does (on by default).
    pub auto_pong: bool,
    effects: Vec<Effect>,
}

impl Harness {
    /// A client with a token, not connected yet, at `T0`.
    pub fn new() -> Self {
        Self::with(Config::default(), Some("tok-1"))
    }

    pub fn with(config: Config, token: Option<&str>) -> Self {
        Self {
            core: Core::new(config, token.map(str::to_owned), T0),
            now: T0,
            auto_pong: true,
            effects: Vec::new(),
        }
    }

    /// Applies an input now.
    pub fn input(&mut self, input: Input) -> Result<(), ClientError> {
        let result = self.core.handle(self.now, input);
        self.effects.extend(self.core.take_effects());
        result
    }

    /// Applies an input that must be accepted.
    pub fn ok(&mut self, input: Input) {
        self.input(input).expect("input refused");
    }

    pub fn frame(&mut self, frame: ServerFrame) {
        self.ok(Input::SocketMessage(frame));
    }

    /// Moves the clock by `ms`, firing the timer at every deadline on the way, as the
    /// browser's one timer would.
    pub fn advance(&mut self, ms: u64) {
        let until = self.now + ms;
        for _ in 0..100_000 {
            match self.core.next_deadline() {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    let seen = self.effects.len();
                    self.ok(Input::Timer);
                    let pinged = self.effects[seen..]
                        .iter()
                        .any(|e| matches!(e, Effect::Send(ClientFrame::Ping { .. })));
                    if pinged && self.auto_pong {
                        self.frame(ServerFrame::Pong {
                            server_time: self.now,
                            r#ref: None,
                        });
                    }
                }
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
        panic!("the deadline never moves past {}", self.now);
    }

    /// Everything since the last look, and forget it.
    pub fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// The frames sent since the last look, heartbeat pings left out (other effects
    /// are dropped).
    pub fn sent(&mut self) -> Vec<ClientFrame> {
        self.take()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Send(ClientFrame::Ping { .. }) => None,
                Effect::Send(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    /// Like [`Harness::sent`], pings included.
    pub fn sent_all(&mut self) -> Vec<ClientFrame> {
        self.take()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Send(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    /// The events emitted since the last look (other effects are dropped).
    pub fn events(&mut self) -> Vec<Event> {
        self.take()
            .into_iter()
            .filter_map(|e| match e {
                Effect::Emit(ev) => Some(ev),
                _ => None,
            })
            .collect()
    }

    /// The socket opens and the server says welcome (the hello is checked elsewhere).
    pub fn socket_accepts(&mut self) {
        self.ok(Input::SocketOpened);
        self.frame(welcome());
    }

    /// `connect()` through to `welcome`; forgets the effects of the handshake.
    pub fn open(&mut self) {
        self.ok(Input::Connect);
        self.socket_accepts();
        assert_eq!(self.core.state(), ConnectionState::Open);
        self.take();
    }

    /// The socket closes with `code` (server or network).
    pub fn close(&mut self, code: u16) {
        self.ok(Input::SocketClosed { code });
    }

    /// Waits out whatever reconnect delay was chosen, until the core opens a socket.
    pub fn wait_for_open_socket(&mut self) {
        for _ in 0..1_000 {
            if self.take().contains(&Effect::OpenSocket) {
                return;
            }
            let at = self.core.next_deadline().expect("nothing scheduled");
            self.advance(at.saturating_sub(self.now));
        }
        panic!("no socket opened");
    }
}

pub fn welcome() -> ServerFrame {
    ServerFrame::Welcome {
        session: "s-1".into(),
        user: UserInfo {
            id: "alice".into(),
            name: "Alice".into(),
        },
        heartbeat_ms: HEARTBEAT_MS,
        typing_ttl_ms: TYPING_TTL_MS,
        server_time: T0,
    }
}

pub fn presence(user: &str, status: EffectiveStatus) -> Presence {
    Presence {
        user: user.into(),
        name: user.to_uppercase(),
        status,
        since: T0 - 1_000,
        custom: None,
        last_seen: None,
        last_seen_approx: None,
        devices: 1,
    }
}

pub fn online(user: &str) -> Presence {
    presence(user, EffectiveStatus::Online)
}

pub fn room_state(
    room: &str,
    members: &[&str],
    typing: &[&str],
    r#ref: Option<u64>,
) -> ServerFrame {
    ServerFrame::RoomState {
        room: room.into(),
        count: members.len() as u64,
        members: members.iter().map(|m| online(m)).collect(),
        typing: typing.iter().map(|t| (*t).to_owned()).collect(),
        r#ref,
    }
}

/// The `ref` of the last `join` of `room` among `frames`.
pub fn join_ref(frames: &[ClientFrame], room: &str) -> Option<u64> {
    frames.iter().rev().find_map(|f| match f {
        ClientFrame::Join { room: r, r#ref } if r == room => *r#ref,
        _ => None,
    })
}

pub fn typing(room: &str, typing: bool) -> ClientFrame {
    ClientFrame::Typing {
        room: room.into(),
        typing,
        r#ref: None,
    }
}

/// A `serde_json::Value` seen through the codec's reader (a newtype: neither the trait
/// nor the type belongs to this test crate).
pub struct J(pub serde_json::Value);

impl JsonValue for J {
    fn field(&self, key: &str) -> Option<Self> {
        self.0.get(key).filter(|v| !v.is_null()).cloned().map(J)
    }
    fn string(&self) -> Option<String> {
        self.0.as_str().map(str::to_owned)
    }
    fn uint(&self) -> Option<u64> {
        self.0.as_u64()
    }
    fn boolean(&self) -> Option<bool> {
        self.0.as_bool()
    }
    fn items(&self) -> Option<Vec<Self>> {
        self.0
            .as_array()
            .map(|a| a.iter().cloned().map(J).collect())
    }
}

/// The errors among `events`.
pub fn errors(events: &[Event]) -> Vec<ClientError> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Error(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}
