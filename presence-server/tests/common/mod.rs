//! Test harness: the real server on 127.0.0.1:0 in this process, and real WebSocket
//! clients (tokio-tungstenite) that speak the protocol.
#![allow(dead_code, clippy::unwrap_used)]

pub mod nodes;
pub mod process;
pub mod raw;
pub mod redis;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use presence_protocol::{ServerFrame, WS_PATH};
use presence_server::auth::{Auth, Claims};
use presence_server::{Clock, Config};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const SECRET: &str = "test-secret-test-secret-test-secret!";

/// How long `recv` waits for a frame that should come.
pub const WAIT: Duration = Duration::from_secs(5);

/// A server running in this process, on [`Clock::tokio`]: in a test under paused
/// tokio time (`#[tokio::test(start_paused = true)]`) grace periods, typing and custom
/// status expiry pass as tokio's clock advances, not in real time.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The server's clock: epoch ms as the server sees them (custom status expiries,
    /// last seen).
    pub clock: Clock,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Settings for tests: the defaults with short timings, and a known secret.
pub fn test_config() -> Config {
    Config {
        jwt_secret: Some(SECRET.to_owned()),
        grace_ms: 400,
        typing_ttl_ms: 400,
        coalesce_ms: 20,
        hello_timeout_ms: 2_000,
        shutdown_timeout_ms: 2_000,
        ..Config::default()
    }
}

impl TestServer {
    /// Starts the server with [`test_config`].
    pub async fn start() -> Self {
        Self::with(|_| {}).await
    }

    /// Starts the server with [`test_config`] changed by `f`.
    pub async fn with(f: impl FnOnce(&mut Config)) -> Self {
        let mut config = test_config();
        f(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let clock = Clock::tokio();
        let task = tokio::spawn(presence_server::run_with_clock(
            listener,
            config,
            clock,
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            clock,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}{}", self.addr, WS_PATH)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A connected client that said hello as `user` (name = user with a capital).
    pub async fn client(&self, user: &str) -> Client {
        self.client_with(&token(user)).await
    }

    /// A connected client that said hello with this token.
    pub async fn client_with(&self, token: &str) -> Client {
        let mut c = Client::connect(self).await;
        c.hello(token).await;
        c
    }

    /// A connected client that said hello with this token and its own `device` label,
    /// so that several sessions of one user can be alive at once (every other client
    /// says "test", and a same-device hello takes over a lingering session).
    pub async fn client_device(&self, token: &str, device: &str) -> Client {
        let mut c = Client::connect(self).await;
        c.hello_device(token, device).await;
        c
    }

    /// A client for each of `users`, in order, each joined to `room` before the next
    /// says hello. Their `room_state`s are read; the diffs the joins cause are left
    /// for the test to read.
    pub async fn joined<const N: usize>(&self, room: &str, users: [&str; N]) -> [Client; N] {
        let mut clients = Vec::with_capacity(N);
        for user in users {
            let mut c = self.client(user).await;
            c.join(room).await;
            clients.push(c);
        }
        match clients.try_into() {
            Ok(clients) => clients,
            Err(_) => unreachable!("one client a user"),
        }
    }

    /// Graceful shutdown; waits for `run` to return.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => tokio::time::timeout(Duration::from_secs(10), task).await??,
            None => Ok(()),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A token for `user`, valid for an hour, no patterns.
pub fn token(user: &str) -> String {
    token_with(user, None, None, 3600)
}

/// A token with patterns and a lifetime in seconds (negative: already expired).
pub fn token_with(
    user: &str,
    rooms: Option<&[&str]>,
    watch: Option<&[&str]>,
    ttl_s: i64,
) -> String {
    let now = presence_server::clock::now_ms() as i64 / 1000;
    let mut name = user.to_owned();
    if let Some(first) = name.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    let claims = Claims {
        sub: user.to_owned(),
        name: Some(name),
        exp: (now + ttl_s) as u64,
        rooms: rooms.map(|r| r.iter().map(|s| (*s).to_owned()).collect()),
        watch: watch.map(|r| r.iter().map(|s| (*s).to_owned()).collect()),
    };
    Auth::hs256(SECRET.as_bytes()).sign(&claims).unwrap()
}

/// What `recv_raw` saw.
#[derive(Debug)]
pub enum Incoming {
    Frame(ServerFrame),
    Close(Option<u16>),
}

/// A real WebSocket client.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The `welcome`, once hello succeeded.
    pub welcome: Option<ServerFrame>,
}

impl Client {
    /// Connects without saying hello.
    pub async fn connect(server: &TestServer) -> Self {
        Self::connect_url(&server.ws_url()).await
    }

    /// Says hello (device "test") and expects `welcome`.
    pub async fn hello(&mut self, token: &str) {
        self.hello_device(token, "test").await;
    }

    /// The session id from `welcome`.
    pub fn session(&self) -> String {
        match &self.welcome {
            Some(ServerFrame::Welcome { session, .. }) => session.clone(),
            _ => panic!("no welcome yet"),
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.ws.send(Message::text(text.into())).await.unwrap();
    }

    /// The next protocol frame or close, within `within`; `None` on timeout.
    pub async fn recv_raw(&mut self, within: Duration) -> Option<Incoming> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let frame = ServerFrame::decode(&t)
                        .unwrap_or_else(|e| panic!("server sent an undecodable frame {t}: {e}"));
                    return Some(Incoming::Frame(frame));
                }
                Some(Ok(Message::Close(c))) => {
                    return Some(Incoming::Close(c.map(|c| u16::from(c.code))))
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Some(Incoming::Close(None)),
            }
        }
    }

    /// The next protocol frame; panics on close or after [`WAIT`].
    pub async fn recv(&mut self) -> ServerFrame {
        match self.recv_raw(WAIT).await {
            Some(Incoming::Frame(f)) => f,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// Skips frames until one matches; panics after [`WAIT`].
    pub async fn recv_until(&mut self, mut pred: impl FnMut(&ServerFrame) -> bool) -> ServerFrame {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv_raw(left).await {
                Some(Incoming::Frame(f)) if pred(&f) => return f,
                Some(Incoming::Frame(_)) => continue,
                other => panic!("expected a matching frame, got {other:?}"),
            }
        }
    }

    /// Asserts no protocol frame arrives for `d`.
    pub async fn expect_silence(&mut self, d: Duration) {
        if let Some(x) = self.recv_raw(d).await {
            panic!("expected silence, got {x:?}");
        }
    }

    /// Reads until the server closes; returns the close code (`None` if the socket
    /// just ended). Frames before the close are returned too.
    pub async fn expect_close(&mut self) -> (Vec<ServerFrame>, Option<u16>) {
        let mut frames = Vec::new();
        loop {
            match self.recv_raw(WAIT).await {
                Some(Incoming::Frame(f)) => frames.push(f),
                Some(Incoming::Close(code)) => return (frames, code),
                None => panic!("expected a close, got nothing; frames so far: {frames:?}"),
            }
        }
    }

    /// `join` with a ref, and returns the `room_state`.
    pub async fn join(&mut self, room: &str) -> ServerFrame {
        self.send(json!({"type": "join", "room": room, "ref": 1}))
            .await;
        self.recv_until(|f| matches!(f, ServerFrame::RoomState { room: r, .. } if r == room))
            .await
    }

    /// Closes the socket cleanly from the client side.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }

    /// Drops the TCP connection without a close frame.
    pub fn drop_connection(self) {
        drop(self);
    }
}

/// Raw HTTP/1.1 over a TCP socket (no HTTP client library): `GET path`; returns the
/// status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, "GET", path, None).await
}

/// [`http_get`] that waits up to `within` for the response instead of [`WAIT`]: for a
/// server that is busy on purpose (an attack in progress, a debug build).
pub async fn http_get_within(addr: SocketAddr, path: &str, within: Duration) -> (u16, String) {
    http_exchange(addr, "GET", path, None, within).await
}

/// Raw HTTP/1.1 `POST path` with a JSON body; returns the status code and the body.
pub async fn http_post_json(addr: SocketAddr, path: &str, body: &Value) -> (u16, String) {
    http_request(addr, "POST", path, Some(body.to_string())).await
}

/// One HTTP/1.1 request with `Connection: close`, read to the end of the response.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json_body: Option<String>,
) -> (u16, String) {
    http_exchange(addr, method, path, json_body, WAIT).await
}

async fn http_exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json_body: Option<String>,
    within: Duration,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(body) = &json_body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    if let Some(body) = &json_body {
        request.push_str(body);
    }
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut raw))
        .await
        .unwrap_or_else(|_| panic!("no HTTP response to {method} {path} within {within:?}"))
        .unwrap();
    let raw = String::from_utf8(raw).expect("UTF-8 HTTP response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("HTTP head and body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return (status, body.to_owned());
    }
    // Chunked: "<hex size>\r\n<data>\r\n" … "0\r\n\r\n".
    let mut rest = body;
    let mut decoded = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size in {body:?}"));
        if size == 0 {
            break;
        }
        decoded.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    (status, decoded)
}

impl Client {
    /// Sends several text frames in one write (fed, then flushed once), as a flooding
    /// client does.
    pub async fn send_batch(&mut self, frames: impl IntoIterator<Item = String>) {
        for frame in frames {
            self.ws.feed(Message::text(frame)).await.unwrap();
        }
        self.ws.flush().await.unwrap();
    }

    /// Sends a binary WebSocket frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws.send(Message::binary(bytes)).await.unwrap();
    }

    /// Reads for `d` and counts the WebSocket pings the server sent (tungstenite
    /// answers each with a pong by itself while it is polled). Protocol frames are
    /// skipped; panics if the connection ends.
    pub async fn count_pings(&mut self, d: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + d;
        let mut pings = 0;
        while let Ok(msg) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            match msg {
                Some(Ok(Message::Ping(_))) => pings += 1,
                Some(Ok(Message::Close(c))) => panic!("closed while counting pings: {c:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("connection failed while counting pings: {e}"),
                None => panic!("connection ended while counting pings"),
            }
        }
        pings
    }
}

impl Client {
    /// Connects to the WebSocket at `url` (a server node run as a process, say)
    /// without saying hello.
    pub async fn connect_url(url: &str) -> Self {
        // TCP_NODELAY, as the server sets it: with Nagle, a small frame sent while the
        // previous one is not yet ACKed (the server delays its ACK when it has nothing
        // to answer, up to 40 ms) waits for that ACK, and under paused tokio time the
        // clock races ahead meanwhile, since every task is idle.
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
        Self { ws, welcome: None }
    }

    /// Says hello with this `device` label and expects `welcome`.
    pub async fn hello_device(&mut self, token: &str, device: &str) {
        self.send(json!({"type": "hello", "token": token, "device": device}))
            .await;
        let frame = self.recv().await;
        assert!(
            matches!(frame, ServerFrame::Welcome { .. }),
            "expected welcome for device {device}, got {frame:?}"
        );
        self.welcome = Some(frame);
    }
}

impl Client {
    /// Sends `n` WebSocket pings with this payload in one write, as a flooding client
    /// does.
    pub async fn send_pings(&mut self, n: usize, payload: &'static [u8]) {
        for _ in 0..n {
            self.ws.feed(Message::Ping(payload.into())).await.unwrap();
        }
        self.ws.flush().await.unwrap();
    }

    /// The next WebSocket pong within `within` (protocol frames before it are
    /// returned with it); `None` on timeout or if the connection ends first.
    pub async fn recv_pong(&mut self, within: Duration) -> Option<(Vec<u8>, Vec<ServerFrame>)> {
        let deadline = tokio::time::Instant::now() + within;
        let mut frames = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?
            {
                Some(Ok(Message::Pong(payload))) => return Some((payload.to_vec(), frames)),
                Some(Ok(Message::Text(t))) => frames.push(ServerFrame::decode(&t).unwrap()),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }
}
