//! Default limits of protocol v1. The server makes most of them configurable; these are
//! the values a client may assume when it was told nothing else.

/// Largest inbound text frame in bytes; a larger one closes the connection with 1009.
pub const MAX_FRAME_BYTES: usize = 8 * 1024;
/// Bad frames (malformed, unknown type, invalid field) tolerated on one connection; the
/// next one closes it with 4400.
pub const MAX_BAD_FRAMES: u32 = 10;
/// Time from the WebSocket upgrade to the `hello` frame, else close 4408.
pub const HELLO_TIMEOUT_MS: u64 = 10_000;

/// Room and user ids: 1 to this many characters of `[A-Za-z0-9._:@-]`.
pub const MAX_ID_LEN: usize = 128;
/// The `device` label of `hello`, in characters.
pub const MAX_DEVICE_LEN: usize = 32;
/// The `client` label of `hello`, in characters.
pub const MAX_CLIENT_LEN: usize = 64;
/// A display name from the token, in characters (longer names are cut, not refused).
pub const MAX_NAME_LEN: usize = 64;
/// Custom status text, in characters.
pub const MAX_CUSTOM_TEXT_LEN: usize = 128;
/// Custom status emoji, in characters.
pub const MAX_CUSTOM_EMOJI_LEN: usize = 16;
/// Users named in one `watch`, `unwatch` or `query` frame.
pub const MAX_USERS_PER_FRAME: usize = 100;

/// Sustained inbound frames per second on one connection.
pub const RATE_PER_SEC: u32 = 20;
/// Inbound burst on one connection.
pub const RATE_BURST: u32 = 40;

/// Rooms one session may be in.
pub const MAX_ROOMS_PER_SESSION: usize = 100;
/// Users one session may watch.
pub const MAX_WATCHED_PER_SESSION: usize = 1_000;
/// Live sessions one user may have.
pub const MAX_SESSIONS_PER_USER: usize = 20;

/// A room with more members than this is large: `room_state` lists only
/// [`LARGE_ROOM_MEMBERS_SHOWN`] members and changes go out as `room_count`.
pub const LARGE_ROOM_THRESHOLD: u64 = 1_000;
/// Members listed in a large room's `room_state`.
pub const LARGE_ROOM_MEMBERS_SHOWN: usize = 100;
/// Shortest interval between two `room_count` frames of one room.
pub const ROOM_COUNT_INTERVAL_MS: u64 = 1_000;

/// Default interval of the client's `ping` frames (sent in `welcome`).
pub const HEARTBEAT_MS: u64 = 25_000;
/// Time the client waits for `pong` before it reconnects.
pub const PONG_TIMEOUT_MS: u64 = 10_000;
/// Default lifetime of `typing:true` (sent in `welcome`).
pub const TYPING_TTL_MS: u64 = 5_000;
/// Default grace period after a session ends without `leave`.
pub const GRACE_MS: u64 = 5_000;

/// `last_seen_approx` is `recently` under this age.
pub const RECENTLY_MS: u64 = 3 * 24 * 3600 * 1000;
/// `last_seen_approx` is `week` under this age.
pub const WEEK_MS: u64 = 7 * 24 * 3600 * 1000;
/// `last_seen_approx` is `month` under this age, `long_ago` beyond it.
pub const MONTH_MS: u64 = 30 * 24 * 3600 * 1000;
