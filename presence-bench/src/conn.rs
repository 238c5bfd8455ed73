//! One task per connection: connect (from its source address), say hello, join its
//! room, then read every frame, match what the scenario measures, and carry out the
//! orchestrator's commands (send a frame, drop and reconnect, close).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::layout::{EventKind, Layout, Probes, Stage};
use crate::stats::{bump, lock, StageCounters, Stats};
use crate::sys::now_us;
use crate::wire::{self, out, Dialect, In};

type Ws = WebSocketStream<TcpStream>;

/// Everything the connection tasks share.
#[derive(Debug)]
pub struct Ctx {
    pub dialect: Dialect,
    pub layout: Layout,
    /// Per node: the WebSocket URL and its socket address.
    pub nodes: Vec<(String, SocketAddr)>,
    pub source_ips: Vec<Ipv4Addr>,
    pub secret: String,
    pub handshake_timeout: Duration,
    pub stats: Stats,
    /// The stage being measured, and its counters.
    pub stage: RwLock<Option<(Arc<Stage>, Arc<StageCounters>)>>,
    /// Join probes being measured (cross-node).
    pub probes: RwLock<Option<(Probes, Arc<StageCounters>)>>,
    pub probe_count: usize,
    /// A reconnect storm is on: room diffs count as flaps.
    pub storm: AtomicBool,
}

/// What the orchestrator asks of a connection.
#[derive(Debug)]
pub enum Cmd {
    Send(String),
    /// Drop the socket without a close frame and connect again.
    Reconnect,
    Close,
}

impl Ctx {
    fn token(&self, g: usize) -> String {
        #[derive(serde::Serialize)]
        struct Claims {
            sub: String,
            exp: u64,
        }
        let claims = Claims {
            sub: wire::user_id(g),
            exp: now_us() / 1_000_000 + 24 * 3600,
        };
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(self.secret.as_bytes()),
        )
        .unwrap_or_default()
    }

    fn ws_config() -> WebSocketConfig {
        // Small buffers: the generator holds up to ~20k sockets per process, and the
        // default 128 KiB read buffer would cost 2.5 GiB.
        WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0)
            .max_message_size(Some(1 << 22))
    }
}

/// Errors a connect can end with, as report keys.
fn err_key(e: &dyn std::fmt::Display) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_owned();
    s.chars().take(60).collect()
}

/// The first local port handed out with `--source-ip`.
const PORT_BASE: usize = 1024;

/// The local port of connection `g`'s `attempt`-th connect from its source address, or
/// 0 (the kernel picks). Binding port 0 makes the kernel search every port bound to
/// that address for a conflict, which grows quadratic past ~10k sockets (measured: the
/// generator spent its time in `inet_bhash2_conflict`); a port of our own is one
/// lookup. Attempts alternate between two port sets, so a reconnect never needs the
/// port its previous socket left in TIME_WAIT.
fn source_port(layout: &Layout, g: usize, attempt: usize) -> u16 {
    let ips = layout.source_ips.max(1);
    let local_count = (layout.n - layout.shard).div_ceil(layout.shards);
    let per_ip = local_count.div_ceil(ips);
    let sets = ((65_535 - PORT_BASE) / per_ip.max(1)).min(2);
    if sets == 0 {
        return 0;
    }
    let index = (g / layout.shards) / ips;
    u16::try_from(PORT_BASE + (attempt % sets) * per_ip + index).unwrap_or(0)
}

async fn open(ctx: &Ctx, g: usize, attempt: usize) -> Result<Ws, String> {
    let (url, addr) = &ctx.nodes[ctx.layout.node_of(g)];
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {}", err_key(&e)))?;
    if !ctx.source_ips.is_empty() {
        let ip = ctx.source_ips[ctx.layout.source_of(g)];
        socket.set_reuseaddr(true).map_err(|e| err_key(&e))?;
        let port = source_port(&ctx.layout, g, attempt);
        // A port someone else holds (a wildcard listener, say): let the kernel pick.
        if port == 0 || socket.bind(SocketAddr::from((ip, port))).is_err() {
            socket
                .bind(SocketAddr::from((ip, 0)))
                .map_err(|e| format!("bind: {}", err_key(&e)))?;
        }
    }
    let stream = socket
        .connect(*addr)
        .await
        .map_err(|e| format!("connect: {}", err_key(&e)))?;
    let _ = stream.set_nodelay(true);
    let url = wire::ws_url(ctx.dialect, url);
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(Ctx::ws_config()))
        .await
        .map_err(|e| format!("upgrade: {}", err_key(&e)))?;
    Ok(ws)
}

/// Reads until a frame `want` accepts; answers Engine.IO pings meanwhile.
async fn expect(
    ctx: &Ctx,
    ws: &mut Ws,
    what: &str,
    want: fn(&In<'_>) -> bool,
) -> Result<(), String> {
    loop {
        let message = ws
            .next()
            .await
            .ok_or_else(|| format!("closed before {what}"))?
            .map_err(|e| format!("{what}: {}", err_key(&e)))?;
        let text = match message {
            Message::Text(t) => t,
            Message::Close(c) => {
                return Err(format!(
                    "closed before {what}: {}",
                    c.map(|c| u16::from(c.code)).unwrap_or(0)
                ))
            }
            _ => continue,
        };
        let parsed = wire::parse(ctx.dialect, &text);
        if want(&parsed) {
            return Ok(());
        }
        match parsed {
            In::SioPing => ws
                .send(Message::text(out::SIO_PONG))
                .await
                .map_err(|e| err_key(&e))?,
            In::Error(code) => return Err(format!("error before {what}: {code}")),
            _ => {}
        }
    }
}

/// Connect, authenticate and join: returns the socket and (upgrade, ready) times.
async fn establish(
    ctx: &Ctx,
    g: usize,
    attempt: usize,
) -> Result<(Ws, Duration, Duration), String> {
    let start = Instant::now();
    let mut ws = open(ctx, g, attempt).await?;
    let upgraded = start.elapsed();
    let token = ctx.token(g);
    let send = |text: String| Message::text(text);
    match ctx.dialect {
        Dialect::Presence => {
            ws.send(send(out::hello(&token)))
                .await
                .map_err(|e| err_key(&e))?;
            expect(ctx, &mut ws, "welcome", |f| matches!(f, In::Welcome)).await?;
        }
        Dialect::Socketio => {
            expect(ctx, &mut ws, "open", |f| matches!(f, In::Open)).await?;
            ws.send(send(out::sio_connect(&token)))
                .await
                .map_err(|e| err_key(&e))?;
            expect(ctx, &mut ws, "connect", |f| matches!(f, In::Welcome)).await?;
        }
    }
    if let Some(room) = ctx.layout.room_of(g) {
        let join = out::join(ctx.dialect, &wire::room_id(room), 1);
        ws.send(send(join)).await.map_err(|e| err_key(&e))?;
        expect(ctx, &mut ws, "join", |f| matches!(f, In::Joined)).await?;
    }
    let ready = start.elapsed();
    if ctx.probe_count > 0 {
        if let Some(p) = Probes::watched_by(g, ctx.layout.n, ctx.probe_count) {
            let join = out::join(ctx.dialect, &Probes::room(p), 2);
            ws.send(send(join)).await.map_err(|e| err_key(&e))?;
            expect(ctx, &mut ws, "probe join", |f| matches!(f, In::Joined)).await?;
        }
    }
    Ok((ws, upgraded, ready))
}

/// What one connection remembers for matching.
#[derive(Debug, Default)]
struct Matcher {
    stage: Option<usize>,
    /// Per sender position: typing `false` and `true` frames received this stage. A
    /// connection hears from the members of its room only (at most `--senders` in the
    /// large room), so a short list scanned in order beats a hash map here.
    counts: Vec<(u64, [u64; 2])>,
    probe_seen: bool,
}

impl Matcher {
    fn on_text(&mut self, ctx: &Ctx, g: usize, text: &str) -> Option<&'static str> {
        match wire::parse(ctx.dialect, text) {
            In::Typing { user, typing } => {
                let now = now_us();
                let stage = lock_read(&ctx.stage);
                let Some((stage, counters)) = stage.as_ref() else {
                    bump(&ctx.stats.other, "typing outside a stage");
                    return None;
                };
                if self.stage != Some(stage.index) {
                    self.stage = Some(stage.index);
                    self.counts.clear();
                }
                let matched = wire::parse_user(&user).and_then(|sender| {
                    let m = ctx.layout.sender_pos(sender) as u64;
                    let i = match self.counts.iter().position(|(s, _)| *s == m) {
                        Some(i) => i,
                        None => {
                            self.counts.push((m, [0, 0]));
                            self.counts.len() - 1
                        }
                    };
                    let c = &mut self.counts[i].1;
                    let n = c[usize::from(typing)];
                    c[usize::from(typing)] += 1;
                    stage.event_of(m, 2 * n + u64::from(!typing))
                });
                match matched {
                    Some(k) if stage.kind == EventKind::Typing => {
                        counters.record(now.saturating_sub(stage.at_us(k)), now);
                    }
                    _ => {
                        counters.unexpected.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            In::Diff(diff) => {
                let now = now_us();
                if ctx.storm.load(Ordering::Relaxed) {
                    ctx.stats
                        .flap_leaves
                        .fetch_add(diff.leaves.len() as u64, Ordering::Relaxed);
                    ctx.stats
                        .diff_joins
                        .fetch_add(diff.joins.len() as u64, Ordering::Relaxed);
                }
                if diff.room.starts_with("jp.") && !self.probe_seen {
                    let probes = lock_read(&ctx.probes);
                    if let Some((probes, counters)) = probes.as_ref() {
                        let joiner = wire::user_id(g + 1);
                        if let Some(p) = Probes::watched_by(g, ctx.layout.n, probes.count) {
                            if diff.joins.iter().any(|e| e.user == joiner.as_str()) {
                                self.probe_seen = true;
                                counters.record(now.saturating_sub(probes.at_us(p)), now);
                            }
                        }
                    }
                }
                let stage = lock_read(&ctx.stage);
                if let Some((stage, counters)) = stage.as_ref() {
                    if stage.kind == EventKind::Custom {
                        for entry in diff.updates.iter().chain(&diff.joins) {
                            let Some(text) = entry.custom.as_ref().and_then(|c| c.text.as_deref())
                            else {
                                continue;
                            };
                            match parse_seq(text) {
                                Some((s, k)) if s == stage.index && k < stage.k_total => {
                                    counters.record(now.saturating_sub(stage.at_us(k)), now);
                                }
                                Some((s, _)) if s < stage.index => {}
                                Some(_) => {
                                    counters.unexpected.fetch_add(1, Ordering::Relaxed);
                                }
                                None => {}
                            }
                        }
                    }
                }
            }
            In::SioPing => return Some(out::SIO_PONG),
            In::Error(code) => bump(&ctx.stats.errors, &code),
            In::Other(kind) => bump(&ctx.stats.other, &kind),
            In::Welcome | In::Open | In::Joined => bump(&ctx.stats.other, "answer to a later join"),
        }
        None
    }
}

fn lock_read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `c{stage}.{k}` → (stage, k).
fn parse_seq(text: &str) -> Option<(usize, u64)> {
    let (s, k) = text.strip_prefix('c')?.split_once('.')?;
    Some((s.parse().ok()?, k.parse().ok()?))
}

/// Runs connection `g` until told to close (or its command channel ends). Reports
/// through `ready` whether the first connect worked.
pub async fn run(
    ctx: Arc<Ctx>,
    g: usize,
    mut commands: mpsc::UnboundedReceiver<Cmd>,
    ready: tokio::sync::oneshot::Sender<bool>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let first = tokio::time::timeout(ctx.handshake_timeout, establish(&ctx, g, 0)).await;
    let mut attempt = 0;
    drop(permit);
    let mut ws = match first {
        Ok(Ok((ws, upgraded, ready_after))) => {
            lock(&ctx.stats.upgrade).saturating_record(upgraded.as_micros() as u64);
            lock(&ctx.stats.handshake).saturating_record(ready_after.as_micros() as u64);
            ctx.stats.established.fetch_add(1, Ordering::Relaxed);
            Some(ws)
        }
        Ok(Err(e)) => {
            bump(&ctx.stats.failures, &e);
            None
        }
        Err(_) => {
            bump(&ctx.stats.failures, "handshake timeout");
            None
        }
    };
    let _ = ready.send(ws.is_some());
    let mut matcher = Matcher::default();
    loop {
        let Some(socket) = ws.as_mut() else {
            // Not connected: only commands matter now.
            match commands.recv().await {
                None | Some(Cmd::Close) => return,
                Some(Cmd::Send(_)) => continue,
                Some(Cmd::Reconnect) => {
                    attempt += 1;
                    ws = reconnect(&ctx, g, attempt).await;
                    continue;
                }
            }
        };
        let action = tokio::select! {
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    match matcher.on_text(&ctx, g, &text) {
                        Some(reply) => match socket.send(Message::text(reply)).await {
                            Ok(()) => Action::Continue,
                            Err(e) => Action::Lost(format!("send: {}", err_key(&e))),
                        },
                        None => Action::Continue,
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    Action::Lost(format!("close {}", frame.map(|f| u16::from(f.code)).unwrap_or(1005)))
                }
                Some(Ok(_)) => Action::Continue,
                Some(Err(e)) => Action::Lost(err_key(&e)),
                None => Action::Lost("eof".to_owned()),
            },
            command = commands.recv() => match command {
                Some(Cmd::Send(text)) => match socket.send(Message::text(text)).await {
                    Ok(()) => Action::Continue,
                    Err(e) => Action::Lost(format!("send: {}", err_key(&e))),
                },
                Some(Cmd::Reconnect) => Action::Reconnect,
                None | Some(Cmd::Close) => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                    return;
                }
            },
        };
        match action {
            Action::Continue => {}
            Action::Lost(why) => {
                bump(&ctx.stats.disconnects, &why);
                ws = None;
            }
            Action::Reconnect => {
                // Dropping the socket closes it without a close frame: a network blip
                // or a killed tab, as the server sees it.
                drop(ws.take());
                attempt += 1;
                ws = reconnect(&ctx, g, attempt).await;
            }
        }
    }
}

enum Action {
    Continue,
    Lost(String),
    Reconnect,
}

async fn reconnect(ctx: &Ctx, g: usize, attempt: usize) -> Option<Ws> {
    match tokio::time::timeout(ctx.handshake_timeout, establish(ctx, g, attempt)).await {
        Ok(Ok((ws, _, ready))) => {
            lock(&ctx.stats.reconnect).saturating_record(ready.as_micros() as u64);
            ctx.stats.reconnected.fetch_add(1, Ordering::Relaxed);
            ctx.stats
                .last_reconnect_us
                .fetch_max(now_us(), Ordering::Relaxed);
            Some(ws)
        }
        Ok(Err(e)) => {
            ctx.stats.reconnect_failed.fetch_add(1, Ordering::Relaxed);
            bump(&ctx.stats.failures, &format!("reconnect: {e}"));
            None
        }
        Err(_) => {
            ctx.stats.reconnect_failed.fetch_add(1, Ordering::Relaxed);
            bump(&ctx.stats.failures, "reconnect: handshake timeout");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Layout;

    #[test]
    fn source_ports_are_distinct_per_address_and_attempt() {
        let layout = Layout {
            n: 100_000,
            room_size: 20,
            nodes: 6,
            shard: 2,
            shards: 6,
            source_ips: 1,
        };
        let mut seen = std::collections::HashSet::new();
        for g in layout.local() {
            for attempt in 0..2 {
                let port = super::source_port(&layout, g, attempt);
                assert!(port >= 1024);
                assert!(seen.insert(port), "port {port} twice");
            }
        }
    }

    #[test]
    fn sequence_texts_parse() {
        assert_eq!(super::parse_seq("c2.1234"), Some((2, 1234)));
        assert_eq!(super::parse_seq("lunch"), None);
    }
}
