//! A WebSocket spoken by hand on a raw socket, to send what a WebSocket library would
//! refuse to: unmasked frames, bad close codes, any first byte.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The sample key of RFC 6455 section 1.3, and the accept value it must get.
pub const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Sends an upgrade request with this `Sec-WebSocket-Key`; returns the response head.
pub async fn request_upgrade(tcp: &mut TcpStream, key: &str) -> String {
    tcp.write_all(
        format!(
            "GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.unwrap());
    }
    String::from_utf8(head).unwrap()
}

/// Opens a WebSocket by hand on `tcp`: a valid upgrade, answered 101 with the right
/// accept value.
pub async fn upgrade_on(mut tcp: TcpStream) -> TcpStream {
    let head = request_upgrade(&mut tcp, SAMPLE_KEY).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains(SAMPLE_ACCEPT), "{head}");
    tcp
}

/// Connects to `addr` and opens a WebSocket by hand.
pub async fn upgrade(addr: SocketAddr) -> TcpStream {
    upgrade_on(TcpStream::connect(addr).await.unwrap()).await
}

/// A masked client frame of any length: `b0` (FIN, reserved bits, opcode), then the
/// payload.
pub fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [7u8, 1, 8, 2];
    let mut f = vec![b0];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n < 65536 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// Reads server frames until a close frame; returns its code (`None` for an empty
/// close frame). Fails after 5 s without one.
pub async fn close_code(tcp: &mut TcpStream) -> Option<u16> {
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
                return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("a close frame")
}
