//! The built binary, as a newcomer runs it: development mode with `--dev`, the refusal
//! to start without a secret or `--dev`, the refusal of a public bind without a secret,
//! and SIGTERM closing sockets with 1012.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

mod common;

use common::process::{self, Process};

/// Starts the binary with `--dev` and no secret; development mode must warn loudly
/// before it listens.
fn start_dev_server() -> Process {
    let mut cmd = process::command();
    cmd.arg("--dev");
    let server = Process::start(cmd);
    assert!(
        !server.lines_with("DEVELOPMENT MODE").is_empty(),
        "development mode must warn loudly: {:?}",
        server.log()
    );
    server
}

async fn http(addr: SocketAddr, request: String) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

#[tokio::test]
async fn dev_mode_binary_serves_tokens_and_closes_sockets_with_1012_on_sigterm() {
    let mut server = start_dev_server();
    let (status, body) = http(
        server.addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_owned(),
    )
    .await;
    assert_eq!((status, body.trim()), (200, "ok"));

    let payload = r#"{"user":"alice","name":"Alice"}"#;
    let (status, body) = http(
        server.addr,
        format!(
            "POST /dev/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            payload.len()
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = serde_json::from_str::<Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let url = format!("ws://{}/v1/ws", server.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::text(
        json!({"type":"hello","token":token}).to_string(),
    ))
    .await
    .unwrap();
    let welcome = ws.next().await.unwrap().unwrap();
    assert!(welcome.to_text().unwrap().contains(r#""type":"welcome""#));

    // SIGTERM by PID: the socket is closed with 1012 and the process exits cleanly.
    server.terminate();
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(close, Some(1012));
    let status = tokio::task::spawn_blocking(move || {
        let status = server.wait();
        (status, server)
    })
    .await
    .unwrap()
    .0;
    assert!(status.success(), "exit status {status:?}");
}

#[test]
fn public_bind_without_secret_is_refused_with_a_clear_message() {
    let out = process::bare_command_under(&[])
        .args(["--bind", "0.0.0.0:0", "--dev"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without a JWT secret"), "{stderr}");
    assert!(stderr.contains("PRESENCE_JWT_SECRET"), "{stderr}");
}

#[test]
fn without_a_secret_or_dev_the_binary_refuses_to_start_with_a_clear_message() {
    let mut child = process::command()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A server that starts anyway must not hang the test: it gets 10 s to exit.
    let mut status = None;
    for _ in 0..100 {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let status = status.unwrap_or_else(|| panic!("it started and kept running: {stderr}"));
    assert!(!status.success(), "it started: {stderr}");
    assert!(stderr.contains("no JWT secret"), "{stderr}");
    assert!(stderr.contains("PRESENCE_JWT_SECRET"), "{stderr}");
    assert!(stderr.contains("--dev"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");
}

/// Starts the binary under `prlimit --nofile=SOFT:HARD` in development mode, with
/// `args`. Returns once it listens.
fn start_limited(nofile: &str, args: &[&str]) -> Process {
    let limit = format!("--nofile={nofile}");
    let mut cmd = process::command_under(&["prlimit", &limit, "--"]);
    cmd.arg("--dev").args(args);
    Process::start(cmd)
}

#[tokio::test]
async fn out_of_files_the_accept_loop_backs_off_quietly_and_recovers() {
    // Soft 32, hard 64: the server raises its limit to 64 and says so.
    let server = start_limited("32:64", &["--header-read-timeout-ms", "60000"]);
    let limit = server.lines_with("open-files limit");
    assert!(
        limit.iter().any(|l| l.contains("limit=64")),
        "the raised limit is logged: {:?}",
        server.log()
    );
    // 100 idle connections: the server runs out of files long before.
    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    // While no file is free, accepting fails again and again: one line says so, not
    // one per attempt.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let complaints = server.lines_with("open files");
    assert_eq!(
        complaints.len(),
        1,
        "one log line per backoff: {:?}",
        server.log()
    );
    // The idle connections go; a new client gets in.
    drop(idle);
    let status = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let attempt = async {
                let mut s = tokio::net::TcpStream::connect(server.addr).await.ok()?;
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .await
                    .ok()?;
                let mut out = String::new();
                s.read_to_string(&mut out).await.ok()?;
                out.split_whitespace().nth(1)?.parse::<u16>().ok()
            };
            if let Ok(Some(status)) = tokio::time::timeout(Duration::from_secs(2), attempt).await {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("a new client gets in once the idle connections are gone");
    assert_eq!(status, 200);
    assert_eq!(
        server.lines_with("open files").len(),
        1,
        "{:?}",
        server.log()
    );
}
