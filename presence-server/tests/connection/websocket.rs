//! The WebSocket layer below the protocol, spoken by hand on a raw socket.

use super::*;

/// A WebSocket opened by hand on a raw socket, to send what a WebSocket library would
/// refuse to.
async fn raw_websocket(server: &TestServer) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(
        b"GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.unwrap());
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    tcp
}

/// Reads server frames until a close frame; returns its code.
async fn raw_close_code(tcp: &mut tokio::net::TcpStream) -> u16 {
    use tokio::io::AsyncReadExt;
    let read = async {
        loop {
            let b0 = tcp.read_u8().await.unwrap();
            let len = match tcp.read_u8().await.unwrap() {
                126 => usize::from(tcp.read_u16().await.unwrap()),
                127 => usize::try_from(tcp.read_u64().await.unwrap()).unwrap(),
                n => usize::from(n),
            };
            let mut payload = vec![0; len];
            tcp.read_exact(&mut payload).await.unwrap();
            if b0 & 0x0F == 0x8 {
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("a close frame")
}

/// A masked client frame.
fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [7u8, 1, 8, 2];
    let mut f = vec![b0, 0x80 | u8::try_from(payload.len()).unwrap()];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
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
