//! The connection: its phases, the attempts and their backoff, the token, and
//! liveness (`welcome` after opening and `pong` after a ping must come in time, a ping
//! every heartbeat). The close code of a lost connection decides whether and when the
//! next attempt starts.

use presence_protocol::{ClientFrame, CloseCode, Secret, UserInfo};

use super::machine::{Core, Phase};
use super::vocab::{
    ClientError, ConnectionState, Effect, Event, CLIENT_NAME, CLOSE_GAVE_UP, CLOSE_NORMAL,
};

impl Core {
    /// The connection as the app sees it.
    pub fn state(&self) -> ConnectionState {
        match self.phase {
            Phase::Idle => ConnectionState::Closed,
            Phase::Open { .. } => ConnectionState::Open,
            _ if self.retrying => ConnectionState::Reconnecting,
            _ => ConnectionState::Connecting,
        }
    }

    /// `connect()`: the first attempt, unless the client is already connected or
    /// trying.
    pub(super) fn connect(&mut self, now: u64) {
        if self.phase == Phase::Idle {
            self.retrying = false;
            self.backoff.reset();
            self.start_attempt(now);
        }
    }

    /// The page is shown again: a connection that `pagehide` suspended starts over.
    pub(super) fn resume(&mut self, now: u64) {
        if self.phase == Phase::Suspended {
            self.start_attempt(now);
        }
    }

    /// The browser is online again.
    pub(super) fn went_online(&mut self, now: u64) {
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

    /// `pagehide`: the socket closes, and the connection waits for the page to be
    /// shown again.
    pub(super) fn suspend(&mut self) {
        if self.phase != Phase::Idle {
            if self.has_socket() {
                self.effects.push(Effect::CloseSocket(CLOSE_NORMAL));
            }
            self.end_connection();
            self.retrying = true;
            self.phase = Phase::Suspended;
        }
    }

    /// The socket opened: `hello` goes out.
    pub(super) fn socket_opened(&mut self) {
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

    /// The socket closed (a close the client asked for delivers nothing).
    pub(super) fn socket_closed(&mut self, now: u64, code: u16) {
        if self.has_socket() {
            self.connection_lost(now, code);
        }
    }

    /// The answer of `getToken`.
    pub(super) fn token_fetched(&mut self, now: u64, token: Result<String, String>) {
        match token {
            Ok(token) => {
                self.token = Some(token);
                self.token_fresh = true;
                if self.phase == Phase::Fetching {
                    self.start_attempt(now);
                }
            }
            Err(message) => {
                if self.phase == Phase::Fetching {
                    self.emit(Event::Error(ClientError::new("token_failed", message)));
                    self.schedule_retry(now);
                }
            }
        }
    }

    /// The connection's share of [`Input::Timer`](super::Input::Timer): a backoff
    /// that ran out, a `welcome` or `pong` that did not come, a ping that is due.
    pub(super) fn connection_timer(&mut self, now: u64) {
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
    }

    /// `welcome`: the connection is open; what the app chose is sent again.
    pub(super) fn on_welcome(
        &mut self,
        now: u64,
        user: UserInfo,
        heartbeat_ms: u64,
        typing_ttl_ms: u64,
        server_time: u64,
    ) {
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

    /// A new attempt: fetch a token first when there is none to offer, else open a
    /// socket, which must bring a `welcome` within the pong timeout.
    pub(super) fn start_attempt(&mut self, now: u64) {
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
    pub(super) fn connection_lost(&mut self, now: u64, code: u16) {
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

    /// The next attempt after a backoff delay.
    fn schedule_retry(&mut self, now: u64) {
        self.retrying = true;
        let mut delay = self.backoff.next_delay_ms(&mut self.rng);
        if !self.online {
            // Attempts fail anyway while offline; `online` cuts this wait short.
            delay = delay.max(self.backoff.max_ms());
        }
        self.phase = Phase::Waiting { at: now + delay };
    }

    /// No more attempts: the server refused the client for good.
    fn stop(&mut self, error: ClientError) {
        self.phase = Phase::Idle;
        self.emit(Event::Error(error));
    }

    /// Forgets everything that lived with one connection.
    pub(super) fn end_connection(&mut self) {
        self.ping_at = None;
        self.live_due = None;
        self.pacer.reset();
        self.pending.clear();
        // The server ends typing with the session.
        self.typing.take_all();
    }

    /// `welcome` came and the connection is not lost yet: requests go out.
    pub(super) const fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open { .. })
    }

    /// A socket is opening or open.
    pub(super) const fn has_socket(&self) -> bool {
        matches!(
            self.phase,
            Phase::Opening | Phase::Hello | Phase::Open { .. }
        )
    }
}
