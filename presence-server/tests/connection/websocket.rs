//! The WebSocket layer below the protocol, spoken by hand on a raw socket.

use super::*;

use common::raw::{self, masked};

/// A WebSocket opened by hand on a raw socket.
async fn raw_websocket(server: &TestServer) -> tokio::net::TcpStream {
    raw::upgrade(server.addr).await
}

/// Reads server frames until a close frame; returns its code.
async fn raw_close_code(tcp: &mut tokio::net::TcpStream) -> u16 {
    raw::close_code(tcp)
        .await
        .expect("a close frame with a code")
}

#[tokio::test]
async fn websocket_protocol_violations_close_with_1002_and_bad_utf8_with_1007() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    // An unmasked client frame.
    let mut tcp = raw_websocket(&server).await;
    tcp.write_all(b"\x81\x02hi").await.unwrap();
    assert_eq!(raw_close_code(&mut tcp).await, 1002);
    // Text that is not UTF-8.
    let mut tcp = raw_websocket(&server).await;
    tcp.write_all(&masked(0x81, &[0xC3, 0x28])).await.unwrap();
    assert_eq!(raw_close_code(&mut tcp).await, 1007);
    // A ping before hello is answered with a pong carrying its payload.
    let mut tcp = raw_websocket(&server).await;
    tcp.write_all(&masked(0x89, b"are you there"))
        .await
        .unwrap();
    let mut pong = [0u8; 15];
    tokio::io::AsyncReadExt::read_exact(&mut tcp, &mut pong)
        .await
        .unwrap();
    assert_eq!(&pong[..2], b"\x8a\x0d");
    assert_eq!(&pong[2..], b"are you there");
}

#[tokio::test]
async fn a_clients_close_is_answered_with_its_code() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let mut tcp = raw_websocket(&server).await;
    tcp.write_all(&masked(0x88, &4000u16.to_be_bytes()))
        .await
        .unwrap();
    assert_eq!(raw_close_code(&mut tcp).await, 4000);
}

#[tokio::test]
async fn a_request_that_is_not_a_websocket_upgrade_gets_a_clear_error() {
    let server = TestServer::start().await;
    let (status, body) = http_get(server.addr, "/v1/ws").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("upgrade"), "{body}");
}
