//! A WebSocket spoken by hand on a raw socket, to send what a library would refuse
//! to: any first byte, unmasked frames, a length with no payload behind it.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Got, Target};

/// How long [`Raw::outcome`] waits for the server to close: past the 10 s hello
/// timeout.
const OUTCOME_WITHIN: Duration = Duration::from_secs(15);

/// First bytes: FIN plus an opcode.
pub(crate) const TEXT: u8 = 0x81;
pub(crate) const TEXT_START: u8 = 0x01;
pub(crate) const CONTINUATION: u8 = 0x00;
pub(crate) const CONTINUATION_END: u8 = 0x80;
pub(crate) const PING: u8 = 0x89;
pub(crate) const CLOSE: u8 = 0x88;

pub(crate) struct Raw {
    tcp: TcpStream,
}

impl Raw {
    /// Opens a WebSocket by hand (a valid upgrade), without saying hello.
    pub(crate) async fn upgrade(target: &Target) -> Self {
        Self::upgrade_on(TcpStream::connect(target.addr).await.unwrap()).await
    }

    /// A WebSocket after a good `hello` as `user`, on a socket whose receive buffer
    /// is 16 KiB: the kernel holds little of what the server sends it (loopback
    /// buffers otherwise grow to 32 MiB), so what it does not read stays queued in
    /// the server.
    pub(crate) async fn hello_small_window(target: &Target, user: &str) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(16 * 1024).unwrap();
        let mut raw = Self::upgrade_on(socket.connect(target.addr).await.unwrap()).await;
        raw.say_hello(user).await;
        raw
    }

    async fn upgrade_on(tcp: TcpStream) -> Self {
        tcp.set_nodelay(true).unwrap();
        Self {
            tcp: super::common::raw::upgrade_on(tcp).await,
        }
    }

    /// A WebSocket after a good `hello` as `user` (its `welcome` read).
    pub(crate) async fn hello(target: &Target, user: &str) -> Self {
        let mut raw = Self::upgrade(target).await;
        raw.say_hello(user).await;
        raw
    }

    async fn say_hello(&mut self, user: &str) {
        let hello = serde_json::json!({"type": "hello", "token": super::token(user)});
        self.frame(TEXT, true, hello.to_string().as_bytes()).await;
        let welcome = self.next_text().await.expect("welcome");
        assert_eq!(welcome["type"], "welcome", "{welcome}");
    }

    /// Sends one frame: `b0` (FIN, reserved bits, opcode) and the payload, masked or
    /// not.
    pub(crate) async fn frame(&mut self, b0: u8, masked: bool, payload: &[u8]) {
        let mut f = header(b0, masked, payload.len() as u64);
        let mask = [7u8, 1, 8, 2];
        if masked {
            f.extend_from_slice(&mask);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        } else {
            f.extend_from_slice(payload);
        }
        self.tcp.write_all(&f).await.unwrap();
    }

    /// Sends one masked frame, reporting a failed write (a reset) instead of
    /// panicking.
    pub(crate) async fn try_frame(&mut self, b0: u8, payload: &[u8]) -> std::io::Result<()> {
        let mut f = header(b0, true, payload.len() as u64);
        let mask = [7u8, 1, 8, 2];
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.tcp.write_all(&f).await
    }

    /// Sends only the head of a masked frame that announces `len` payload bytes, so
    /// that a server refusing it by its length has nothing unread when it closes.
    pub(crate) async fn head_only(&mut self, b0: u8, len: u64) {
        let mut f = header(b0, true, len);
        f.extend_from_slice(&[7, 1, 8, 2]);
        self.tcp.write_all(&f).await.unwrap();
    }

    /// The next text frame from the server, as JSON; `None` on a close or the end.
    async fn next_text(&mut self) -> Option<Value> {
        match self.next_frame().await? {
            (0x1, payload) => serde_json::from_slice(&payload).ok(),
            _ => None,
        }
    }

    /// The next frame from the server: opcode and payload; `None` at the end.
    async fn next_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        let b0 = self.tcp.read_u8().await.ok()?;
        let len = match self.tcp.read_u8().await.ok()? & 0x7F {
            126 => u64::from(self.tcp.read_u16().await.ok()?),
            127 => self.tcp.read_u64().await.ok()?,
            n => u64::from(n),
        };
        let mut payload = vec![0; usize::try_from(len).ok()?];
        self.tcp.read_exact(&mut payload).await.ok()?;
        Some((b0 & 0x0F, payload))
    }

    /// Reads until the server closes, or [`OUTCOME_WITHIN`] passes: what the
    /// attacker got.
    pub(crate) async fn outcome(mut self) -> Got {
        let read = async {
            let mut errors = Vec::new();
            loop {
                match self.next_frame().await {
                    Some((0x8, payload)) if payload.len() >= 2 => {
                        let code = u16::from_be_bytes([payload[0], payload[1]]);
                        return closed(errors, code);
                    }
                    Some((0x8, _)) => return Got::Other("a close without a code".into()),
                    Some((0x1, payload)) => {
                        let frame: Value = serde_json::from_slice(&payload).unwrap();
                        if frame["type"] == "error" {
                            errors.push(frame["code"].as_str().unwrap_or_default().to_owned());
                        }
                    }
                    Some(_) => {}
                    None => return Got::NoClose(errors),
                }
            }
        };
        tokio::time::timeout(OUTCOME_WITHIN, read)
            .await
            .unwrap_or_else(|_| Got::Other(format!("still open after {OUTCOME_WITHIN:?}")))
    }
}

/// What a close after these `error` codes amounts to.
pub(crate) fn closed(errors: Vec<String>, code: u16) -> Got {
    match errors.first() {
        None => Got::Close(code),
        Some(first) if errors.iter().all(|e| e == first) => {
            Got::ErrorThenClose(first.clone(), code)
        }
        Some(_) => Got::Other(format!("errors {errors:?} then close {code}")),
    }
}

/// The head of a client frame up to its mask.
fn header(b0: u8, masked: bool, len: u64) -> Vec<u8> {
    let bit = if masked { 0x80 } else { 0 };
    let mut f = vec![b0];
    match len {
        0..=125 => f.push(bit | len as u8),
        126..=0xFFFF => {
            f.push(bit | 126);
            f.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            f.push(bit | 127);
            f.extend_from_slice(&len.to_be_bytes());
        }
    }
    f
}

impl Raw {
    /// Sends these texts as masked text frames in one write, as a flooding client
    /// does.
    pub(crate) async fn texts(&mut self, texts: impl IntoIterator<Item = String>) {
        self.try_texts(texts).await.unwrap();
    }

    /// [`Raw::texts`], reporting a failed write instead of panicking.
    pub(crate) async fn try_texts(
        &mut self,
        texts: impl IntoIterator<Item = String>,
    ) -> std::io::Result<()> {
        let mask = [7u8, 1, 8, 2];
        let mut out = Vec::new();
        for text in texts {
            out.extend(header(TEXT, true, text.len() as u64));
            out.extend_from_slice(&mask);
            out.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        }
        self.tcp.write_all(&out).await
    }
}
