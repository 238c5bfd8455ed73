//! The core's vocabulary: its settings ([`Config`]), what comes in ([`Input`]), what
//! goes out ([`Effect`], [`Event`]), the errors it reports and the defaults and codes
//! it shares with the browser skin.

use presence_protocol::{
    limits, ActivityState, ChosenStatus, ClientFrame, CustomStatus, LastSeenPrivacy, ServerFrame,
    UserInfo,
};

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
pub(super) const USERS_PER_FRAME: usize = limits::MAX_USERS_PER_FRAME;

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
    /// The name the app sees (`connectionState`, `connection` events).
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
    /// `connect()`.
    Connect,
    /// `destroy()`.
    Destroy,
    /// `setStatus()`.
    SetStatus(ChosenStatus),
    /// `setCustomStatus()`; `None` clears.
    SetCustom(Option<CustomStatus>),
    /// `setPrivacy()`.
    SetPrivacy(LastSeenPrivacy),
    /// `join(room)`.
    Join(String),
    /// `leave(room)`.
    Leave(String),
    /// `watch(users)`.
    Watch(Vec<String>),
    /// `unwatch(users)`.
    Unwatch(Vec<String>),
    /// One input event in a room's message box.
    Typing(String),
    /// `stopTyping(room)`, called when the message is sent.
    StopTyping(String),
    // The page.
    /// Mouse, keyboard, scroll, touch or window focus.
    UserActivity,
    /// The page was hidden or shown (`visibilitychange`).
    Visibility {
        /// `document.visibilityState` is `hidden`.
        hidden: bool,
    },
    /// The window lost focus: typing stops everywhere.
    Blur,
    /// The browser went online.
    Online,
    /// The browser went offline.
    Offline,
    /// The page is being unloaded or put in the back-forward cache.
    PageHide,
    /// The page came back from the back-forward cache.
    PageShow,
    // The socket.
    /// The socket is open.
    SocketOpened,
    /// A frame the codec understood.
    SocketMessage(ServerFrame),
    /// The socket closed (or could not be opened: 1006).
    SocketClosed {
        /// The close code.
        code: u16,
    },
    /// The answer of `getToken`: a token, or the reason it failed.
    TokenFetched(Result<String, String>),
    /// The timer set for [`Core::next_deadline`](super::Core::next_deadline) fired.
    Timer,
}

impl Input {
    /// Calls from the app, which a destroyed client refuses.
    pub(super) const fn is_call(&self) -> bool {
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
    /// Send this frame on the current socket.
    Send(ClientFrame),
    /// Call `getToken` and feed its answer back as [`Input::TokenFetched`].
    FetchToken,
    /// Tell the app's listeners.
    Emit(Event),
}

/// Events for the app's listeners.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The connection state changed.
    Connection(ConnectionState),
    /// This room's snapshot changed, or the room is gone (left or refused).
    Room(String),
    /// This watched user's presence changed, or the user is no longer watched.
    Presence(String),
    /// Another member started or stopped typing.
    Typing {
        /// The room.
        room: String,
        /// The member.
        user: String,
        /// Started (`true`) or stopped.
        typing: bool,
    },
    /// The client's own presence ([`Core::me`](super::Core::me)) changed.
    Me,
    /// A call or request failed, or the connection was refused.
    Error(ClientError),
}

/// An error for the app: a refused call, a failed request, a refused connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    /// A protocol error code (`forbidden`, `too_many`…) or one of the client's own:
    /// `invalid_argument`, `destroyed`, `token_failed`, `unauthorized`.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// The room of a refused `join`.
    pub room: Option<String>,
    /// The users of a refused `watch`.
    pub users: Vec<String>,
}

impl ClientError {
    /// An error with this code and message, for no room or user.
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
    /// The chosen status; `online` until the app sets one.
    pub status: ChosenStatus,
    /// The custom status, if one is set.
    pub custom: Option<&'a CustomStatus>,
    /// The last-seen privacy; `exact` until the app sets one.
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

pub(super) fn check_id(id: &str) -> Result<(), ClientError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(ClientError::new(
            "invalid_argument",
            "ids are 1 to 128 characters of A-Z a-z 0-9 . _ : @ -",
        ))
    }
}
