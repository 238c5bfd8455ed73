//! The hostile-client suite: attacks on the built binary over real sockets.
//!
//! Every case starts the binary (`CARGO_BIN_EXE_presence-server`, see below) with default
//! settings plus a secret (and the few flags its table line names, if any), runs one
//! attack against it, and then checks the four
//! things a server under attack owes everyone else ([`run_case`]):
//!
//! 1. the process is still alive;
//! 2. the attacker got what `docs/protocol.md` promises: the attack returns what it
//!    saw as a [`Got`], and the case's table line says what that must be;
//! 3. a well-behaved pair of clients can still `hello`, `join` one room and see each
//!    other's `typing` within 1 s ([`Target::pair_works`]);
//! 4. the resident memory (VmRSS of `/proc/<pid>/status`) comes back to at most
//!    [`RSS_BOUND_KIB`] above what it was before the attack (polled for up to
//!    [`RSS_SETTLE`]). The bound is generous on purpose: allocator caches and the
//!    runtime's buffers move RSS by a few MiB, the attacks here by far more when
//!    something is held.
//!
//! The process is stopped by its PID when the case ends (`Child::kill` on drop).
//!
//! # Cases
//!
//! The [`cases!`] table below is the whole list: a line per case names the attack
//! (an `async fn(Target) -> Got` in a theme file), optionally the flags the binary
//! gets for it in brackets (`module::attack ["--flag", "value"] => …`), and what it
//! must get. Lines in
//! `heavy { … }` run only with `PRESENCE_HOSTILE_HEAVY=1`; the others, a representative
//! set, run by default and take a few seconds each (the longest is the 10 s hello
//! timeout). `PRESENCE_TEST_SERVER_BIN` runs the suite against another build of the
//! binary; the heavy set is meant for the release build:
//!
//! ```text
//! cargo build --release -p presence-server
//! PRESENCE_HOSTILE_HEAVY=1 PRESENCE_TEST_SERVER_BIN=$PWD/target/release/presence-server \
//!     cargo nextest run -p presence-server --test hostile
//! ```
//!
//! To add a case: write the attack in the fitting theme file ([`framing`] for the
//! WebSocket layer, [`tokens`] for tokens and patterns, [`floods`] for rates and
//! timeouts, [`admission`] for what comes before `hello`, [`budgets`] for what one
//! user can make the server send), using [`raw::Raw`] for bytes no WebSocket library would send or
//! `common::Client` for protocol frames, end it with [`raw::Raw::outcome`] (or build
//! the [`Got`] by hand), and add one line to the table.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;

mod admission;
mod budgets;
mod floods;
mod framing;
mod raw;
mod tokens;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use common::process::{self, Process};
use common::{token, Client, Incoming, SECRET};
use presence_protocol::{ServerFrame, WS_PATH};
use serde_json::json;
use tokio::time::Instant;

/// How far above its value before the attack RSS may stay (64 MiB): far above the
/// noise of allocator caches, far below what a held attack costs (an unfinished
/// request head held ~380 KiB each, a never-read `room_state` queue hundreds of MiB).
pub(crate) const RSS_BOUND_KIB: u64 = 64 * 1024;

/// How long RSS gets to come back within the bound.
pub(crate) const RSS_SETTLE: Duration = Duration::from_secs(10);

/// How long the well-behaved pair may take to see each other's typing.
const PAIR_TYPING_WITHIN: Duration = Duration::from_secs(1);

/// What an attacker saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Got {
    /// A close frame with this code, and no `error` frame before it.
    Close(u16),
    /// One or more `error` frames, all with this code, then a close with this code.
    ErrorThenClose(String, u16),
    /// `error` frames with these codes, in order, on a connection still open.
    Errors(Vec<String>),
    /// The connection ended without a close frame; the `error` codes seen before.
    NoClose(Vec<String>),
    /// An HTTP response with this status, and no upgrade.
    Status(u16),
    /// The connection was ended by the server before it answered anything.
    Dropped,
    /// Anything else, described.
    Other(String),
}

impl Got {
    pub(crate) fn error_then_close(code: &str, close: u16) -> Self {
        Self::ErrorThenClose(code.to_owned(), close)
    }

    pub(crate) fn errors(codes: &[&str]) -> Self {
        Self::Errors(codes.iter().map(|c| (*c).to_owned()).collect())
    }

    /// What many attackers saw, as one: theirs if they all saw the same.
    pub(crate) fn all_same(gots: Vec<Self>) -> Self {
        match gots.first() {
            Some(first) if gots.iter().all(|g| g == first) => first.clone(),
            _ => Self::Other(format!("attackers saw different things: {gots:?}")),
        }
    }
}

/// The server under attack, as an attack sees it.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
}

impl Target {
    pub(crate) fn ws_url(&self) -> String {
        format!("ws://{}{}", self.addr, WS_PATH)
    }

    /// A connected client that said hello as `user`.
    pub(crate) async fn client(&self, user: &str) -> Client {
        let mut c = Client::connect_url(&self.ws_url()).await;
        c.hello(&token(user)).await;
        c
    }

    /// Check 3: two fresh users say hello, join one room, and the second sees the
    /// first start typing within [`PAIR_TYPING_WITHIN`].
    pub(crate) async fn pair_works(&self, n: usize) {
        let room = format!("check-{n}");
        let (a, b) = (format!("good-a{n}"), format!("good-b{n}"));
        let mut alice = self.client(&a).await;
        let mut bob = self.client(&b).await;
        alice.join(&room).await;
        bob.join(&room).await;
        alice
            .send(json!({"type": "typing", "room": room, "typing": true}))
            .await;
        let deadline = Instant::now() + PAIR_TYPING_WITHIN;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match bob.recv_raw(left).await {
                Some(Incoming::Frame(ServerFrame::Typing {
                    user, typing: true, ..
                })) if user == a => break,
                Some(Incoming::Frame(_)) => {}
                other => panic!(
                    "the well-behaved pair is broken: {b} never saw {a} typing within \
                     {PAIR_TYPING_WITHIN:?} ({other:?})"
                ),
            }
        }
        alice.close().await;
        bob.close().await;
    }
}

/// The binary, started with default settings, [`SECRET`] and a case's extra flags;
/// killed by its PID when dropped.
struct Server {
    process: Process,
    target: Target,
}

impl Server {
    fn start(extra: &[&str]) -> Self {
        let mut cmd = process::command();
        cmd.args(["--jwt-secret", SECRET]).args(extra);
        let process = Process::start(cmd);
        let target = Target { addr: process.addr };
        Self { process, target }
    }

    /// Check 1.
    fn alive(&mut self) -> bool {
        self.process.alive()
    }

    /// VmRSS in KiB.
    fn rss_kib(&self) -> u64 {
        self.process.rss_kib()
    }

    /// Check 4: waits up to [`RSS_SETTLE`] for RSS to be within the bound.
    async fn rss_settles(&self, before: u64) {
        let deadline = Instant::now() + RSS_SETTLE;
        loop {
            let now = self.rss_kib();
            if now <= before + RSS_BOUND_KIB {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "RSS stayed at {now} KiB, more than {RSS_BOUND_KIB} KiB above the \
                 {before} KiB before the attack, for {RSS_SETTLE:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Whether heavy cases run (`PRESENCE_HOSTILE_HEAVY=1`).
fn heavy_enabled() -> bool {
    std::env::var("PRESENCE_HOSTILE_HEAVY").is_ok_and(|v| v == "1")
}

/// Runs one case: starts the server, checks the pair works and notes RSS, attacks,
/// and makes the four checks of the module docs.
async fn run_case<F, Fut>(name: &str, heavy: bool, extra: &[&str], expected: Got, attack: F)
where
    F: FnOnce(Target) -> Fut,
    Fut: Future<Output = Got>,
{
    if heavy && !heavy_enabled() {
        eprintln!("{name}: heavy, skipped (PRESENCE_HOSTILE_HEAVY=1 runs it)");
        return;
    }
    let mut server = Server::start(extra);
    let target = server.target.clone();
    target.pair_works(0).await;
    let before = server.rss_kib();
    let got = attack(target.clone()).await;
    assert!(server.alive(), "{name}: the server died");
    assert_eq!(got, expected, "{name}: the attacker got something else");
    target.pair_works(1).await;
    server.rss_settles(before).await;
    assert!(server.alive(), "{name}: the server died");
}

/// The table of cases: `module::attack => expected,` per line, or
/// `module::attack ["--flag", "value"] => expected,` for a case that needs flags, in
/// `light { … }` (run by default) or `heavy { … }` (with `PRESENCE_HOSTILE_HEAVY=1`).
/// Each becomes a `#[tokio::test]` of its name.
macro_rules! cases {
    (
        light { $($module:ident::$light:ident $([$($larg:expr),*])? => $lexp:expr,)* }
        heavy { $($hmodule:ident::$heavy:ident $([$($harg:expr),*])? => $hexp:expr,)* }
    ) => {
        $(
            #[tokio::test]
            async fn $light() {
                let extra: &[&str] = &[$($($larg),*)?];
                run_case(stringify!($light), false, extra, $lexp, $module::$light).await;
            }
        )*
        $(
            #[tokio::test]
            async fn $heavy() {
                let extra: &[&str] = &[$($($harg),*)?];
                run_case(stringify!($heavy), true, extra, $hexp, $hmodule::$heavy).await;
            }
        )*
    };
}

cases! {
    light {
    // The WebSocket layer (docs/protocol.md, "Close codes": 1002, 1007, 1009).
    framing::oversized_frame => Got::Close(1009),
    framing::fragmented_message_over_the_limit => Got::Close(1009),
    framing::fragment_announcing_too_much => Got::Close(1009),
    framing::reserved_bits => Got::Close(1002),
    framing::reserved_data_opcode => Got::Close(1002),
    framing::reserved_control_opcode => Got::Close(1002),
    framing::unmasked_frame => Got::Close(1002),
    framing::fragmented_control_frame => Got::Close(1002),
    framing::long_control_frame => Got::Close(1002),
    framing::continuation_without_a_start => Got::Close(1002),
    framing::bad_utf8 => Got::Close(1007),
    framing::bad_utf8_split_across_fragments => Got::Close(1007),
    // Tokens ("Security (tokens)", "Error codes": unauthorized, close 4401).
    tokens::alg_none => Got::error_then_close("unauthorized", 4401),
    tokens::wrong_key => Got::error_then_close("unauthorized", 4401),
    tokens::expired => Got::error_then_close("unauthorized", 4401),
    tokens::bad_sub => Got::error_then_close("unauthorized", 4401),
    tokens::not_a_jwt => Got::error_then_close("unauthorized", 4401),
    // Patterns: what the token does not allow is forbidden, what is no id is a bad
    // request, and the connection stays open.
    tokens::room_pattern_escapes => Got::errors(&[
        "forbidden", "forbidden", "forbidden", "bad_request", "bad_request", "bad_request",
    ]),
    tokens::watch_pattern_escapes => Got::errors(&[
        "forbidden", "forbidden", "bad_request", "bad_request",
    ]),
    // Display names: controls and bidirectional formatting are stripped (defect 10).
    tokens::hostile_display_name => Got::errors(&[]),
    // Floods and timeouts ("Rate limit", "Bad frames", close 4429, 4400, 4408).
    floods::frame_flood => Got::error_then_close("rate_limited", 4429),
    floods::bad_frame_flood => Got::error_then_close("bad_request", 4400),
    floods::hello_timeout => Got::error_then_close("unauthorized", 4408),
    // Before the upgrade and before `hello` (defects 1, 3, 6, 7; "Limits and
    // settings", "Session start", "Transport", "HTTP routes").
    admission::slow_request_heads ["--header-read-timeout-ms", "1000"] => Got::Dropped,
    admission::pre_hello_connections_per_address
        ["--max-pre-hello-connections-per-ip", "20"] => Got::Status(503),
    admission::pings_before_hello => Got::Close(4400),
    admission::bad_websocket_key => Got::Status(400),
    admission::dev_token_through_a_proxy ["--dev"] => Got::Status(403),
    // The closing handshake and close frames (defects 4, 5; "Transport").
    framing::frame_over_the_limit_sent_in_full => Got::Close(1009),
    framing::forbidden_close_codes => Got::Close(1002),
    framing::close_reason_not_utf8 => Got::Close(1007),
    // What one user can make the server send (defects 2, 8; "Limits and settings").
    budgets::never_reading_rejoiners_of_a_room ["--outbound-queue-bytes", "262144"]
        => Got::Close(1013),
    budgets::typing_toggled_from_twenty_sessions ["--typing-window-ms", "30000"]
        => Got::errors(&[]),
    }
    heavy {
    floods::many_frame_floods_at_once => Got::error_then_close("rate_limited", 4429),
    floods::many_bad_frame_floods_at_once => Got::error_then_close("bad_request", 4400),
    tokens::token_spray => Got::error_then_close("unauthorized", 4401),
    framing::many_oversized_frames_at_once => Got::Close(1009),
    budgets::never_reading_rejoiners_of_a_big_room => Got::Close(1013),
    }
}
