//! Before `hello`: request heads sent slowly (`docs/protocol.md`, "Limits and
//! settings": closed after `--header-read-timeout-ms`), too many connections from one
//! address that have not said `hello` (`503`, `reason="max_pre_hello_per_ip"`), pings
//! before `hello` (the 9th closes with 4400, and no session opens), a bad
//! `Sec-WebSocket-Key` ("Transport": `400`), and `POST /dev/token` through a reverse
//! proxy ("HTTP routes": `403`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use presence_protocol::ServerFrame;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::common::{http_get, token, Client, Incoming};
use super::{Got, Target};

/// How long a slow head may stay open: far past the 1 s its case passes as
/// `--header-read-timeout-ms`.
const SLOW_HEAD_CLOSED_WITHIN: Duration = Duration::from_secs(10);

/// How long an HTTP answer may take.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

const UPGRADE: &str = "GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
                       Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                       Sec-WebSocket-Version: 13\r\n\r\n";

/// A TCP connection to `t` from the loopback address `from` (any of 127/8).
async fn tcp_from(from: &str, t: &Target) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    let tcp = socket.connect(t.addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp
}

/// Sends `request` and reads the answer's status line; `None` if the connection ends
/// first. The connection is returned, past the response head.
async fn status_of(mut tcp: TcpStream, request: &[u8]) -> (Option<u16>, TcpStream) {
    tcp.write_all(request).await.unwrap();
    let mut head = Vec::new();
    let read = async {
        while !head.ends_with(b"\r\n\r\n") {
            match tcp.read_u8().await {
                Ok(b) => head.push(b),
                Err(_) => return None,
            }
        }
        String::from_utf8_lossy(&head)
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
    };
    let status = tokio::time::timeout(ANSWER_WITHIN, read)
        .await
        .unwrap_or(None);
    (status, tcp)
}

/// 50 connections, each sending a request head one byte a second. Each must be
/// closed after the header-read timeout; it used to stay open (200 of them held
/// 75 MB for as long as they liked).
pub(crate) async fn slow_request_heads(t: Target) -> Got {
    let attacks: Vec<_> = (0..50)
        .map(|_| {
            let t = t.clone();
            tokio::spawn(async move {
                let tcp = TcpStream::connect(t.addr).await.unwrap();
                let (mut rx, mut tx) = tcp.into_split();
                let trickle = async move {
                    for b in UPGRADE.bytes() {
                        if tx.write_all(&[b]).await.is_err() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    std::future::pending::<()>().await;
                };
                // Whatever the server says (if anything) before it ends the connection.
                let ended = async move {
                    let mut sink = Vec::new();
                    let _ = rx.read_to_end(&mut sink).await;
                    sink
                };
                let closed = tokio::time::timeout(SLOW_HEAD_CLOSED_WITHIN, async {
                    tokio::select! {
                        () = trickle => unreachable!(),
                        said = ended => said,
                    }
                })
                .await;
                match closed {
                    Ok(said) if !said.starts_with(b"HTTP/1.1 101") => Got::Dropped,
                    Ok(said) => Got::Other(format!("upgraded: {}", String::from_utf8_lossy(&said))),
                    Err(_) => Got::Other(format!("still open after {SLOW_HEAD_CLOSED_WITHIN:?}")),
                }
            })
        })
        .collect();
    let mut gots = Vec::new();
    for a in attacks {
        gots.push(a.await.unwrap());
    }
    Got::all_same(gots)
}

/// The counter `presence_connections_refused_total{reason}` (0 when absent).
async fn refused(t: &Target, reason: &str) -> f64 {
    let (status, body) = http_get(t.addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    let prefix = format!("presence_connections_refused_total{{reason=\"{reason}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// From 127.0.0.2, 20 upgraded connections that never say `hello` (the case's
/// `--max-pre-hello-connections-per-ip`), then one more: refused with `503` before the
/// upgrade, counted under its reason on `/metrics`. The well-behaved pair comes from
/// 127.0.0.1, so it is not held up by the attacker's address.
pub(crate) async fn pre_hello_connections_per_address(t: Target) -> Got {
    let before = refused(&t, "max_pre_hello_per_ip").await;
    let mut held = Vec::new();
    for i in 0..20 {
        let (status, tcp) = status_of(tcp_from("127.0.0.2", &t).await, UPGRADE.as_bytes()).await;
        if status != Some(101) {
            return Got::Other(format!("upgrade {i} under the cap got {status:?}"));
        }
        held.push(tcp);
    }
    let (status, _) = status_of(tcp_from("127.0.0.2", &t).await, UPGRADE.as_bytes()).await;
    let after = refused(&t, "max_pre_hello_per_ip").await;
    match status {
        Some(code) if after == before + 1.0 => Got::Status(code),
        other => Got::Other(format!(
            "the upgrade over the cap got {other:?}; refusals counted went {before} → {after}"
        )),
    }
}

/// 300 WebSocket pings, then a valid `hello`, in one write: closed with 4400 (the 9th
/// ping), no `welcome`, and a watcher never sees the user online. This used to end
/// in close 1013 with the user seen online.
pub(crate) async fn pings_before_hello(t: Target) -> Got {
    let mut watcher = t.client("watcher").await;
    watcher
        .send(json!({"type": "watch", "users": ["mallory"], "ref": 1}))
        .await;
    watcher
        .recv_until(|f| matches!(f, ServerFrame::PresenceState { .. }))
        .await;

    let mut attacker = Client::connect_url(&t.ws_url()).await;
    attacker.send_pings(300, b"flood").await;
    attacker
        .send(json!({"type": "hello", "token": token("mallory"), "device": "x"}))
        .await;
    let (frames, code) = attacker.expect_close().await;
    if frames
        .iter()
        .any(|f| matches!(f, ServerFrame::Welcome { .. }))
    {
        return Got::Other(format!("a session opened: {frames:?}"));
    }
    // Everything the watcher got up to its own pong: no `presence` of mallory.
    watcher.send(json!({"type": "ping", "ref": 2})).await;
    loop {
        match watcher.recv_raw(ANSWER_WITHIN).await {
            Some(Incoming::Frame(ServerFrame::Pong { .. })) => break,
            Some(Incoming::Frame(ServerFrame::Presence { presence }))
                if presence.user == "mallory" =>
            {
                return Got::Other("the watcher saw mallory's presence".into());
            }
            Some(Incoming::Frame(_)) => {}
            other => return Got::Other(format!("the watcher got {other:?}")),
        }
    }
    watcher
        .send(json!({"type": "query", "users": ["mallory"], "ref": 3}))
        .await;
    match watcher
        .recv_until(|f| matches!(f, ServerFrame::PresenceState { .. }))
        .await
    {
        ServerFrame::PresenceState { users, .. } if users[0].since == 0 => {}
        other => return Got::Other(format!("mallory was seen online: {other:?}")),
    }
    match code {
        Some(code) => Got::Close(code),
        None => Got::NoClose(Vec::new()),
    }
}

/// An upgrade whose `Sec-WebSocket-Key` is `x`, not the base64 of 16 bytes: `400`.
/// It used to get a 101.
pub(crate) async fn bad_websocket_key(t: Target) -> Got {
    let request = UPGRADE.replace("dGhlIHNhbXBsZSBub25jZQ==", "x");
    let tcp = TcpStream::connect(t.addr).await.unwrap();
    match status_of(tcp, request.as_bytes()).await {
        (Some(code), _) => Got::Status(code),
        (None, _) => Got::Dropped,
    }
}

/// `POST /dev/token` on a `--dev` server, as a same-host reverse proxy forwards it:
/// with `X-Forwarded-For`, `X-Forwarded-Host` or `Forwarded`, each refused with `403`
/// and no token. Without those headers the same request gets its token, so the route
/// is there. It used to mint a token for anyone behind the proxy.
pub(crate) async fn dev_token_through_a_proxy(t: Target) -> Got {
    let body = json!({"user": "admin"}).to_string();
    let post = |header: &str| {
        format!(
            "POST /dev/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n{header}\r\n{body}",
            body.len()
        )
    };
    let mut gots = Vec::new();
    for header in [
        "X-Forwarded-For: 203.0.113.7\r\n",
        "X-Forwarded-Host: presence.example\r\n",
        "Forwarded: for=203.0.113.7\r\n",
    ] {
        let tcp = TcpStream::connect(t.addr).await.unwrap();
        let (status, mut tcp) = status_of(tcp, post(header).as_bytes()).await;
        let mut rest = String::new();
        let _ = tokio::time::timeout(ANSWER_WITHIN, tcp.read_to_string(&mut rest)).await;
        gots.push(match status {
            Some(_) if rest.contains("token\"") => Got::Other(format!("a token: {rest}")),
            Some(code) => Got::Status(code),
            None => Got::Dropped,
        });
    }
    let tcp = TcpStream::connect(t.addr).await.unwrap();
    let (direct, _) = status_of(tcp, post("").as_bytes()).await;
    if direct != Some(200) {
        return Got::Other(format!("without a forwarding header: {direct:?}"));
    }
    Got::all_same(gots)
}
