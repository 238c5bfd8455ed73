//! The JSON codec of the wire frames, over `presence-protocol`'s own types.
//!
//! Why not serde here, when the protocol types derive it: in the wasm, serde's derived
//! `Deserialize` for the internally tagged [`ServerFrame`] alone came to ~31 KB (it
//! buffers every frame into serde's `Content` tree, and every struct also gets a
//! sequence visitor no JSON object ever uses), and serde's error messages link in float
//! formatting (~20 KB). With serde-wasm-bindgen the SDK measured 84 KB gzipped against a
//! budget of 40 (goal 14). This codec is a few kilobytes.
//!
//! It cannot drift from the protocol unnoticed: the native tests run every fixture of
//! `presence-protocol/tests/fixtures` through it and compare with the protocol crate's
//! serde encoding, and the enum name tables below are exhaustive matches, so a new
//! variant in the protocol fails to compile here.
//!
//! Decoding reads a parsed JSON value through [`JsonValue`]: in the browser that is
//! the result of the browser's own `JSON.parse`, in the native tests a
//! `serde_json::Value`. Encoding writes JSON text directly; the browser turns snapshot
//! text into objects with `JSON.parse`.

use presence_protocol::{
    ActivityState, ChosenStatus, ClientFrame, CustomStatus, EffectiveStatus, ErrorCode,
    LastSeenApprox, LastSeenPrivacy, Presence, ServerFrame, UserInfo,
};

/// Read access to a parsed JSON value.
pub trait JsonValue: Sized {
    /// An object's field; `None` when missing, `null`, or not an object.
    fn field(&self, key: &str) -> Option<Self>;
    /// A string.
    fn string(&self) -> Option<String>;
    /// A non-negative integer (JSON numbers are doubles in the browser: integers up to
    /// 2^53 are exact, which covers epoch milliseconds for the next 285,000 years).
    fn uint(&self) -> Option<u64>;
    /// `true` or `false`.
    fn boolean(&self) -> Option<bool>;
    /// An array's items.
    fn items(&self) -> Option<Vec<Self>>;
}

// --- enums ------------------------------------------------------------------------

/// The wire names of the protocol's enums. Exhaustive matches: a variant added to the
/// protocol does not compile here until it has its name.
pub trait WireName: Sized + Copy + 'static {
    /// Every variant.
    const ALL: &'static [Self];
    /// The name on the wire.
    fn wire_name(self) -> &'static str;

    /// The variant of a wire name; `None` for a name this version does not know.
    fn from_wire_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.wire_name() == name)
    }
}

impl WireName for ActivityState {
    const ALL: &'static [Self] = &[Self::Active, Self::Idle];
    fn wire_name(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Idle => "idle",
        }
    }
}

impl WireName for ChosenStatus {
    const ALL: &'static [Self] = &[Self::Online, Self::Away, Self::Busy, Self::Invisible];
    fn wire_name(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Away => "away",
            Self::Busy => "busy",
            Self::Invisible => "invisible",
        }
    }
}

impl WireName for EffectiveStatus {
    const ALL: &'static [Self] = &[Self::Online, Self::Away, Self::Busy, Self::Offline];
    fn wire_name(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Away => "away",
            Self::Busy => "busy",
            Self::Offline => "offline",
        }
    }
}

impl WireName for LastSeenPrivacy {
    const ALL: &'static [Self] = &[Self::Exact, Self::Approximate, Self::Hidden];
    fn wire_name(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Approximate => "approximate",
            Self::Hidden => "hidden",
        }
    }
}

impl WireName for LastSeenApprox {
    const ALL: &'static [Self] = &[Self::Recently, Self::Week, Self::Month, Self::LongAgo];
    fn wire_name(self) -> &'static str {
        match self {
            Self::Recently => "recently",
            Self::Week => "week",
            Self::Month => "month",
            Self::LongAgo => "long_ago",
        }
    }
}

impl WireName for ErrorCode {
    const ALL: &'static [Self] = &[
        Self::BadRequest,
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotJoined,
        Self::RateLimited,
        Self::TooMany,
        Self::Internal,
        Self::Busy,
        Self::Unknown,
    ];
    fn wire_name(self) -> &'static str {
        self.as_str()
    }
}

// --- decoding -----------------------------------------------------------------------

fn string<V: JsonValue>(v: &V, key: &str) -> Option<String> {
    v.field(key)?.string()
}

fn uint<V: JsonValue>(v: &V, key: &str) -> Option<u64> {
    v.field(key)?.uint()
}

fn name<V: JsonValue, T: WireName>(v: &V, key: &str) -> Option<T> {
    T::from_wire_name(&string(v, key)?)
}

fn list<V: JsonValue, T>(v: &V, key: &str, item: impl Fn(&V) -> Option<T>) -> Option<Vec<T>> {
    v.field(key)?.items()?.iter().map(item).collect()
}

/// A list field the protocol lets the server leave out (`#[serde(default)]`).
fn list_or_empty<V: JsonValue, T>(
    v: &V,
    key: &str,
    item: impl Fn(&V) -> Option<T>,
) -> Option<Vec<T>> {
    match v.field(key) {
        None => Some(Vec::new()),
        Some(items) => items.items()?.iter().map(item).collect(),
    }
}

/// A server frame, or `None` for anything this version does not understand (an
/// unknown `type`, a missing field); the client skips those.
pub fn decode_server<V: JsonValue>(v: &V) -> Option<ServerFrame> {
    let r#ref = uint(v, "ref");
    Some(match string(v, "type")?.as_str() {
        "welcome" => {
            let user = v.field("user")?;
            ServerFrame::Welcome {
                session: string(v, "session")?,
                user: UserInfo {
                    id: string(&user, "id")?,
                    name: string(&user, "name").unwrap_or_default(),
                },
                heartbeat_ms: uint(v, "heartbeat_ms")?,
                typing_ttl_ms: uint(v, "typing_ttl_ms")?,
                server_time: uint(v, "server_time")?,
            }
        }
        "room_state" => ServerFrame::RoomState {
            room: string(v, "room")?,
            count: uint(v, "count")?,
            members: list(v, "members", decode_presence)?,
            typing: list(v, "typing", V::string)?,
            r#ref,
        },
        "room_count" => ServerFrame::RoomCount {
            room: string(v, "room")?,
            count: uint(v, "count")?,
        },
        "room_diff" => ServerFrame::RoomDiff {
            room: string(v, "room")?,
            joins: list_or_empty(v, "joins", decode_presence)?,
            leaves: list_or_empty(v, "leaves", V::string)?,
            updates: list_or_empty(v, "updates", decode_presence)?,
        },
        "presence_state" => ServerFrame::PresenceState {
            users: list(v, "users", decode_presence)?,
            r#ref,
        },
        "presence" => ServerFrame::Presence {
            presence: decode_presence(&v.field("presence")?)?,
        },
        "typing" => ServerFrame::Typing {
            room: string(v, "room")?,
            user: string(v, "user")?,
            typing: v.field("typing")?.boolean()?,
        },
        "ack" => ServerFrame::Ack { r#ref: r#ref? },
        "error" => ServerFrame::Error {
            // An unknown code from a newer server is `Unknown`, as in the protocol.
            code: name(v, "code").unwrap_or(ErrorCode::Unknown),
            message: string(v, "message")?,
            r#ref,
        },
        "pong" => ServerFrame::Pong {
            server_time: uint(v, "server_time")?,
            r#ref,
        },
        _ => return None,
    })
}

/// A presence object.
pub fn decode_presence<V: JsonValue>(v: &V) -> Option<Presence> {
    Some(Presence {
        user: string(v, "user")?,
        name: string(v, "name").unwrap_or_default(),
        status: name(v, "status")?,
        since: uint(v, "since").unwrap_or(0),
        custom: match v.field("custom") {
            Some(c) => Some(decode_custom(&c)?),
            None => None,
        },
        last_seen: uint(v, "last_seen"),
        last_seen_approx: match v.field("last_seen_approx") {
            Some(a) => Some(LastSeenApprox::from_wire_name(&a.string()?)?),
            None => None,
        },
        devices: uint(v, "devices").map_or(0, |d| u32::try_from(d).unwrap_or(u32::MAX)),
    })
}

/// `{text?, emoji?, expires_at?}`; also reads what the app passes to
/// `setCustomStatus`.
pub fn decode_custom<V: JsonValue>(v: &V) -> Option<CustomStatus> {
    let text = match v.field("text") {
        Some(t) => Some(t.string()?),
        None => None,
    };
    let emoji = match v.field("emoji") {
        Some(e) => Some(e.string()?),
        None => None,
    };
    let expires_at = match v.field("expires_at") {
        Some(at) => Some(at.uint()?),
        None => None,
    };
    Some(CustomStatus {
        text,
        emoji,
        expires_at,
    })
}

// --- encoding -----------------------------------------------------------------------

/// A minimal JSON writer: objects, arrays, strings, unsigned integers, booleans, null.
#[derive(Debug, Default)]
pub struct Json {
    out: String,
    /// Whether the next item in the current object or array needs a comma first.
    comma: bool,
}

impl Json {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The JSON text written.
    pub fn finish(self) -> String {
        self.out
    }

    fn sep(&mut self) {
        if self.comma {
            self.out.push(',');
        }
        self.comma = true;
    }

    /// Starts an object.
    pub fn open(&mut self) -> &mut Self {
        self.sep();
        self.out.push('{');
        self.comma = false;
        self
    }

    /// Ends an object.
    pub fn close(&mut self) -> &mut Self {
        self.out.push('}');
        self.comma = true;
        self
    }

    /// Starts an array.
    pub fn open_list(&mut self) -> &mut Self {
        self.sep();
        self.out.push('[');
        self.comma = false;
        self
    }

    /// Ends an array.
    pub fn close_list(&mut self) -> &mut Self {
        self.out.push(']');
        self.comma = true;
        self
    }

    /// A key inside an object; the value follows.
    pub fn key(&mut self, key: &str) -> &mut Self {
        self.str(key);
        self.out.push(':');
        self.comma = false;
        self
    }

    /// A string, escaped.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.sep();
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let b = c as usize;
                    self.out.push_str("\\u00");
                    self.out.push(char::from(HEX[b >> 4]));
                    self.out.push(char::from(HEX[b & 15]));
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
        self
    }

    /// An unsigned integer.
    pub fn uint(&mut self, mut n: u64) -> &mut Self {
        self.sep();
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &d in &digits[i..] {
            self.out.push(char::from(d));
        }
        self
    }

    /// `true` or `false`.
    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.sep();
        self.out.push_str(if b { "true" } else { "false" });
        self
    }

    /// `null`.
    pub fn null(&mut self) -> &mut Self {
        self.sep();
        self.out.push_str("null");
        self
    }

    /// `"key":"value"` when there is a value; nothing otherwise (the protocol's
    /// `skip_serializing_if = "Option::is_none"`).
    fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.key(key).str(v);
        }
        self
    }

    fn opt_uint(&mut self, key: &str, value: Option<u64>) -> &mut Self {
        if let Some(v) = value {
            self.key(key).uint(v);
        }
        self
    }

    fn strs<'a>(&mut self, items: impl IntoIterator<Item = &'a str>) -> &mut Self {
        self.open_list();
        for item in items {
            self.str(item);
        }
        self.close_list()
    }

    /// A custom status object, without the fields it does not have.
    pub fn custom(&mut self, c: &CustomStatus) -> &mut Self {
        self.open()
            .opt_str("text", c.text.as_deref())
            .opt_str("emoji", c.emoji.as_deref())
            .opt_uint("expires_at", c.expires_at)
            .close()
    }

    /// `null` or the custom status.
    pub fn opt_custom(&mut self, c: Option<&CustomStatus>) -> &mut Self {
        match c {
            Some(c) => self.custom(c),
            None => self.null(),
        }
    }

    /// A presence object with all eight fields.
    pub fn presence(&mut self, p: &Presence) -> &mut Self {
        self.open()
            .key("user")
            .str(&p.user)
            .key("name")
            .str(&p.name);
        self.key("status").str(p.status.wire_name());
        self.key("since").uint(p.since);
        self.key("custom").opt_custom(p.custom.as_ref());
        self.key("last_seen");
        match p.last_seen {
            Some(at) => self.uint(at),
            None => self.null(),
        };
        self.key("last_seen_approx");
        match p.last_seen_approx {
            Some(a) => self.str(a.wire_name()),
            None => self.null(),
        };
        self.key("devices").uint(u64::from(p.devices)).close()
    }

    /// The `{id, name}` of a user.
    pub fn user_info(&mut self, u: &UserInfo) -> &mut Self {
        self.open()
            .key("id")
            .str(&u.id)
            .key("name")
            .str(&u.name)
            .close()
    }
}

/// A client frame as the text of one WebSocket message.
pub fn encode_client(frame: &ClientFrame) -> String {
    let mut j = Json::new();
    j.open().key("type").str(frame.type_name());
    match frame {
        ClientFrame::Hello {
            token,
            device,
            client,
        } => {
            j.key("token")
                .str(&token.0)
                .opt_str("device", device.as_deref())
                .opt_str("client", client.as_deref());
        }
        ClientFrame::Ping { .. } => {}
        ClientFrame::Activity { state, .. } => {
            j.key("state").str(state.wire_name());
        }
        ClientFrame::SetStatus { status, .. } => {
            j.key("status").str(status.wire_name());
        }
        ClientFrame::SetCustom { custom, .. } => {
            j.key("custom").opt_custom(custom.as_ref());
        }
        ClientFrame::Join { room, .. } | ClientFrame::Leave { room, .. } => {
            j.key("room").str(room);
        }
        ClientFrame::Watch { users, .. }
        | ClientFrame::Unwatch { users, .. }
        | ClientFrame::Query { users, .. } => {
            j.key("users").strs(users.iter().map(String::as_str));
        }
        ClientFrame::Typing { room, typing, .. } => {
            j.key("room").str(room).key("typing").bool(*typing);
        }
        ClientFrame::SetPrivacy { last_seen, .. } => {
            j.key("last_seen").str(last_seen.wire_name());
        }
    }
    j.opt_uint("ref", frame.reference()).close();
    j.finish()
}

/// The JSON of a room snapshot: `{"members":[…],"count":n,"typing":[…]}`.
pub fn encode_room(view: &super::RoomView) -> String {
    let mut j = Json::new();
    j.open().key("members").open_list();
    for p in view.members.values() {
        j.presence(p);
    }
    j.close_list().key("count").uint(view.count);
    j.key("typing").strs(view.typing.keys()).close();
    j.finish()
}

/// A JSON array of strings.
pub fn encode_strings(items: &[String]) -> String {
    let mut j = Json::new();
    j.strs(items.iter().map(String::as_str));
    j.finish()
}

/// The JSON of a presence snapshot.
pub fn encode_presence(p: &Presence) -> String {
    let mut j = Json::new();
    j.presence(p);
    j.finish()
}

/// The JSON of the `me` snapshot:
/// `{"user":{"id","name"}|null,"status","custom","privacy","activity"}`.
pub fn encode_me(me: &super::Me<'_>) -> String {
    let mut j = Json::new();
    j.open().key("user");
    match me.user {
        Some(u) => j.user_info(u),
        None => j.null(),
    };
    j.key("status").str(me.status.wire_name());
    j.key("custom").opt_custom(me.custom);
    j.key("privacy").str(me.privacy.wire_name());
    j.key("activity").str(me.activity.wire_name()).close();
    j.finish()
}
