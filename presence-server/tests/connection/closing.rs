//! The edges of RFC 6455 a hostile client pushes on: the opening handshake's key, the
//! close codes a client may send (section 7.4), and the 1009 close reaching a client
//! that is still sending its oversized frame.

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use super::*;
use common::raw::{self, close_code, masked};
use common::WAIT;

/// Sends an upgrade request with this `Sec-WebSocket-Key`; returns the response's
/// status line and the socket.
async fn upgrade_with_key(server: &TestServer, key: &str) -> (String, TcpStream) {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let head = raw::request_upgrade(&mut tcp, key).await;
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, tcp)
}

const GOOD_KEY: &str = raw::SAMPLE_KEY;

#[tokio::test]
async fn a_sec_websocket_key_that_is_not_the_base64_of_16_bytes_gets_400() {
    let server = TestServer::start().await;
    let (status, _) = upgrade_with_key(&server, GOOD_KEY).await;
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    for key in [
        "x",
        "dGhlIHNhbXBsZSBub25jZQ",   // no padding
        "dGhlIHNhbXBsZSBub25j",     // 15 bytes
        "dGhlIHNhbXBsZSBub25jZSE=", // 17 bytes
        "dGhlIHNhbXBsZSBub25jZQ?=", // not base64
        "!!!!!!!!!!!!!!!!!!!!!!!!",
    ] {
        let (status, _) = upgrade_with_key(&server, key).await;
        assert!(status.starts_with("HTTP/1.1 400"), "key {key:?}: {status}");
    }
}

/// Sends a close frame with `payload`; returns the code of the server's answer.
async fn answer_to_close(server: &TestServer, payload: &[u8]) -> Option<u16> {
    let (status, mut tcp) = upgrade_with_key(server, GOOD_KEY).await;
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    tcp.write_all(&masked(0x88, payload)).await.unwrap();
    close_code(&mut tcp).await
}

#[tokio::test]
async fn close_codes_a_client_may_send_are_echoed_and_the_others_get_1002() {
    let server = TestServer::start().await;
    // RFC 6455 section 7.4.1 and the IANA registry: defined codes, and 3000–4999.
    let allowed: [u16; 16] = [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000,
        4999,
    ];
    // Reserved (1004), never on the wire (1005, 1006, 1015), unassigned or undefined.
    let refused: [u16; 14] = [
        0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 10000, 65535,
    ];
    for code in allowed {
        let got = answer_to_close(&server, &code.to_be_bytes()).await;
        assert_eq!(got, Some(code), "close {code} must be echoed");
    }
    for code in refused {
        let got = answer_to_close(&server, &code.to_be_bytes()).await;
        assert_eq!(got, Some(1002), "close {code} must be answered with 1002");
    }
    // No code at all is answered with 1000.
    assert_eq!(answer_to_close(&server, b"").await, Some(1000));
}

#[tokio::test]
async fn a_close_reason_that_is_not_utf8_gets_1007() {
    let server = TestServer::start().await;
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye \xC3\x28");
    assert_eq!(answer_to_close(&server, &payload).await, Some(1007));
    let mut payload = 4000u16.to_be_bytes().to_vec();
    payload.extend_from_slice("tschüss".as_bytes());
    assert_eq!(answer_to_close(&server, &payload).await, Some(4000));
}

/// What a client that sends a frame far over the limit, with a WebSocket library,
/// saw: the close code, or what went wrong.
async fn send_oversized(url: String, bytes: usize) -> Result<u16, String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    ws.send(Message::text("x".repeat(bytes)))
        .await
        .map_err(|e| format!("send: {e}"))?;
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Err(_) => return Err("no close frame in time".into()),
            Ok(Some(Ok(Message::Close(Some(frame))))) => return Ok(u16::from(frame.code)),
            Ok(Some(Ok(Message::Close(None)))) => return Err("an empty close frame".into()),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => return Err(format!("read: {e}")),
            Ok(None) => return Err("the socket ended without a close frame".into()),
        }
    }
}

#[tokio::test]
async fn clients_that_send_an_oversized_frame_all_receive_the_1009_close() {
    let server = TestServer::start().await;
    // Far over the limit (refused from its header), larger than what the sockets
    // buffer (before the server drained, all 50 sends failed with a broken pipe), and
    // within what the server drains by default (8 MiB).
    let bytes = 4096 * 1024;
    let clients: Vec<_> = (0..50)
        .map(|_| tokio::spawn(send_oversized(server.ws_url(), bytes)))
        .collect();
    let mut failed = Vec::new();
    for client in clients {
        match client.await.unwrap() {
            Ok(1009) => {}
            other => failed.push(other),
        }
    }
    assert!(
        failed.is_empty(),
        "{} of 50 did not get 1009: {failed:?}",
        failed.len()
    );
}
