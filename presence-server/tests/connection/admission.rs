//! Before the upgrade: the header-read timeout, the caps on connections that have not
//! finished `hello` (in total and per source address), and the total connection cap,
//! each refusal a clean 503 with its own metric.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::*;

/// A TCP connection to `server` from the loopback address `from` (any of 127/8).
async fn tcp_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    socket.connect(server).await.unwrap()
}

/// Sends a WebSocket upgrade request from `from` and reads the response head. Returns
/// the status, the whole response read so far, and the connection (after a 101, an
/// upgraded socket that has not said `hello`).
async fn upgrade_from(from: &str, server: &TestServer) -> (u16, String, TcpStream) {
    let mut tcp = tcp_from(from, server.addr).await;
    let request = format!(
        "GET /v1/ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(common::WAIT, async {
        while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tcp.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before a response head: {raw:?}");
            raw.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("a response head within WAIT");
    let head = String::from_utf8_lossy(&raw).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, tcp)
}

/// Tries the upgrade from `from` until it gets a 101 (the cap has room again).
async fn upgrade_eventually(from: &str, server: &TestServer) -> TcpStream {
    tokio::time::timeout(common::WAIT, async {
        loop {
            let (status, _, tcp) = upgrade_from(from, server).await;
            if status == 101 {
                return tcp;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the upgrade succeeds once a slot is free")
}

/// The refusal is a clean 503 that names its cause, and the connection closes after it.
async fn expect_refused(from: &str, server: &TestServer, cause: &str) {
    let (status, head, mut tcp) = upgrade_from(from, server).await;
    assert_eq!(status, 503, "{head}");
    let mut rest = String::new();
    tokio::time::timeout(common::WAIT, tcp.read_to_string(&mut rest))
        .await
        .expect("the refused connection closes")
        .unwrap();
    let whole = head + &rest;
    assert!(whole.contains(cause), "{whole}");
}

/// The counter `presence_connections_refused_total{reason}` (0 when absent).
async fn refused(server: &TestServer, reason: &str) -> f64 {
    let (status, body) = http_get(server.addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    let prefix = format!("presence_connections_refused_total{{reason=\"{reason}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_request_head_sent_too_slowly_is_closed_after_the_header_read_timeout() {
    let server = TestServer::with(|c| c.header_read_timeout_ms = 300).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    // Half a request head, then a byte at a time: never a whole head.
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let closed = tokio::time::timeout(common::WAIT, async {
        let mut buf = [0u8; 256];
        loop {
            tokio::select! {
                read = slow.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    if slow.write_all(b"X").await.is_err() {
                        return;
                    }
                }
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the slow connection is still open");
    // One that sends nothing at all is closed the same way.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 256];
    let read = tokio::time::timeout(common::WAIT, silent.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "the silent connection is still open: {read:?}"
    );
    // A prompt client is still served.
    let (status, _) = http_get(server.addr, "/healthz").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn connections_that_have_not_said_hello_are_capped_per_address_and_in_total() {
    let server = TestServer::with(|c| {
        c.max_pre_hello_connections_per_ip = 2;
        c.max_pre_hello_connections = 3;
    })
    .await;
    let per_ip_before = refused(&server, "max_pre_hello_per_ip").await;
    let total_before = refused(&server, "max_pre_hello").await;

    // Two upgraded sockets from 127.0.0.1 that say nothing: that address is full.
    let mut first = Client::connect(&server).await;
    let second = Client::connect(&server).await;
    expect_refused("127.0.0.1", &server, "from your address").await;
    // Another address still gets in, up to the total of 3.
    let (status, head, third) = upgrade_from("127.0.0.2", &server).await;
    assert_eq!(status, 101, "{head}");
    expect_refused("127.0.0.3", &server, "waiting for hello").await;

    // A `hello` frees its slot: 127.0.0.1 gets in again.
    first.hello(&token("alice")).await;
    let fourth = upgrade_eventually("127.0.0.1", &server).await;

    drop((second, third, fourth));
    // Once those are gone, /metrics itself gets in; both refusals were counted.
    let per_ip = tokio::time::timeout(common::WAIT, async {
        loop {
            let (status, _, _) = upgrade_from("127.0.0.1", &server).await;
            if status == 101 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        refused(&server, "max_pre_hello_per_ip").await
    })
    .await
    .unwrap();
    assert!(per_ip > per_ip_before, "{per_ip} > {per_ip_before}");
    let total = refused(&server, "max_pre_hello").await;
    assert!(total > total_before, "{total} > {total_before}");
    expect_still_open(&mut first, 1).await;
}

#[tokio::test]
async fn beyond_the_connection_cap_an_upgrade_is_answered_503() {
    let server = TestServer::with(|c| c.max_connections = 2).await;
    let before = refused(&server, "max_connections").await;
    let mut alice = server.client("alice").await;
    let bob = server.client("bob").await;
    expect_refused("127.0.0.1", &server, "too many connections").await;
    // A plain HTTP request is refused the same way.
    let (status, _) = http_get(server.addr, "/healthz").await;
    assert_eq!(status, 503);
    // One leaves: there is room again.
    bob.close().await;
    let carol = upgrade_eventually("127.0.0.1", &server).await;
    expect_still_open(&mut alice, 1).await;
    drop(carol);
    alice.close().await;
    let after = tokio::time::timeout(common::WAIT, async {
        loop {
            let (status, body) = http_get(server.addr, "/metrics").await;
            if status == 200 {
                break body;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let count = after
        .lines()
        .find_map(|l| {
            l.strip_prefix("presence_connections_refused_total{reason=\"max_connections\"} ")
        })
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(count >= before + 2.0, "{count} >= {before} + 2");
}

#[tokio::test]
async fn a_request_head_over_the_limit_is_answered_431() {
    let server = TestServer::with(|c| c.max_request_head_bytes = 16_384).await;
    let before = refused(&server, "max_request_head_bytes").await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let big = "x".repeat(40_000);
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\nConnection: close\r\n\r\n");
    // The server may answer and close before it has read everything.
    let _ = tcp.write_all(request.as_bytes()).await;
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(common::WAIT, tcp.read_to_end(&mut raw)).await;
    let head = String::from_utf8_lossy(&raw);
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    // Under the limit is fine.
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let small = "x".repeat(8_000);
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {small}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    tokio::time::timeout(common::WAIT, tcp.read_to_string(&mut raw))
        .await
        .unwrap()
        .unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let after = refused(&server, "max_request_head_bytes").await;
    assert!(after > before, "{after} > {before}");
}
