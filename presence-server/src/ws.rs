//! WebSocket (RFC 6455), server side, over an upgraded HTTP/1.1 connection.
//!
//! The protocol's frames are small text messages, and an idle connection must cost as
//! little as possible, so this is a small codec of our own rather than a general
//! library: nothing is buffered between frames (a read goes through a buffer on the
//! stack, and only a partial frame is kept), and writing encodes a batch of frames
//! into one short-lived buffer, written at once. A general library keeps a read buffer
//! and a write buffer per connection for its whole life, the latter as large as the
//! largest message ever sent (a `room_state` of a big room): that was a third of a
//! session's memory.
//!
//! No extensions (compression) and no subprotocol are negotiated. Client frames must be
//! masked, control frames short and unfragmented; a violation is a protocol error.

use std::future::poll_fn;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use hyper::upgrade::OnUpgrade;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::frame::Utf8Bytes;

/// Close codes of RFC 6455 that the codec itself uses.
pub mod close {
    /// The peer broke the WebSocket protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text message that is not UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// The echo of a close frame that carried no code.
    pub const NORMAL: u16 = 1000;
}

/// A frame the server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Text(Utf8Bytes),
    /// A ping with no payload.
    Ping,
    /// The answer to a client's ping: its payload back.
    Pong(Bytes),
    Close(u16, &'static str),
}

impl Outgoing {
    pub fn is_close(&self) -> bool {
        matches!(self, Outgoing::Close(..))
    }

    /// Appends the frame, unmasked (server to client), to `buf`.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        match self {
            Outgoing::Text(text) => encode_frame(buf, 0x1, &[text.as_bytes()]),
            Outgoing::Ping => encode_frame(buf, 0x9, &[]),
            Outgoing::Pong(payload) => encode_frame(buf, 0xA, &[payload]),
            Outgoing::Close(code, reason) => {
                encode_frame(buf, 0x8, &[&code.to_be_bytes(), reason.as_bytes()]);
            }
        }
    }
}

fn encode_frame(buf: &mut Vec<u8>, opcode: u8, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    buf.reserve(len + 10);
    buf.push(0x80 | opcode);
    if len < 126 {
        buf.push(len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        buf.push(126);
        buf.extend_from_slice(&len.to_be_bytes());
    } else {
        buf.push(127);
        buf.extend_from_slice(&(len as u64).to_be_bytes());
    }
    for part in parts {
        buf.extend_from_slice(part);
    }
}

/// A message from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    Text(String),
    Binary,
    Ping(Bytes),
    Pong,
    /// The client's close frame, with its code if it gave one.
    Close(Option<u16>),
}

/// Why reading stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The connection ended or broke.
    Lost,
    /// The client broke the protocol: close with 1002.
    Protocol(&'static str),
    /// A message over the size limit.
    TooBig,
    /// A text message that is not UTF-8: close with 1007.
    NotUtf8,
}

/// One client's connection: reads its messages, and writes what the session queues.
///
/// Both sides are driven by polls from the session's one task, so a connection costs
/// no task of its own, and its state lives here, not in a future: [`Conn::poll_next`]
/// and [`Conn::poll_write`] can be polled from a `select!` or a `poll_fn` and dropped
/// at any time. Nothing is buffered between frames: an idle connection holds two empty
/// `Vec`s.
#[derive(Debug)]
pub struct Conn<S> {
    io: S,
    /// Bytes of a frame not complete yet (usually none).
    buf: Vec<u8>,
    /// The message being assembled from fragments (rare): whether it is text, and its
    /// data.
    fragments: Option<Box<(bool, Vec<u8>)>>,
    /// Encoded frames not written yet, and how much of them is written.
    out: Vec<u8>,
    written: usize,
    max_message: usize,
}

/// What one read from the socket may take at most.
const READ_CHUNK: usize = 4096;

impl<S> Conn<S> {
    pub fn new(io: S, max_message: usize) -> Self {
        Self {
            io,
            buf: Vec::new(),
            fragments: None,
            out: Vec::new(),
            written: 0,
            max_message,
        }
    }

    /// Encodes a frame behind those not written yet.
    pub fn queue(&mut self, frame: &Outgoing) {
        frame.encode(&mut self.out);
    }

    /// Whether frames are waiting to be written.
    pub fn has_unwritten(&self) -> bool {
        self.written < self.out.len()
    }
}

impl<S: AsyncWrite + Unpin> Conn<S> {
    /// Writes what is queued. Ready once all of it is written; then the buffer is
    /// dropped, so an idle connection keeps none.
    pub fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.written < self.out.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.out[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        if !self.out.is_empty() {
            self.out = Vec::new();
            self.written = 0;
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Shuts the sending side down (after the close frame).
    pub fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + Unpin> Conn<S> {
    /// The next message. After an error the connection must not be read again.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Incoming, ReadError>> {
        loop {
            if let Some(message) = self.parse()? {
                return Poll::Ready(Ok(message));
            }
            ready!(self.poll_fill(cx))?;
        }
    }

    /// [`Conn::poll_next`] as a future.
    pub async fn next(&mut self) -> Result<Incoming, ReadError> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Reads what the socket has into `buf`, through a buffer on the stack.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ReadError>> {
        let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut read = ReadBuf::uninit(&mut chunk);
        if ready!(Pin::new(&mut self.io).poll_read(cx, &mut read)).is_err()
            || read.filled().is_empty()
        {
            return Poll::Ready(Err(ReadError::Lost));
        }
        self.buf.extend_from_slice(read.filled());
        Poll::Ready(Ok(()))
    }

    /// Takes one complete frame out of `buf`; `None` until one is there.
    fn parse(&mut self) -> Result<Option<Incoming>, ReadError> {
        loop {
            let Some((opcode, fin, payload)) = self.take_frame()? else {
                return Ok(None);
            };
            match opcode {
                0x0 => {
                    let Some(fragments) = self.fragments.as_mut() else {
                        return Err(ReadError::Protocol("continuation without a message"));
                    };
                    fragments.1.extend_from_slice(&payload);
                    if fin {
                        let (text, data) = *self.fragments.take().unwrap_or_default();
                        return message(text, data).map(Some);
                    }
                }
                0x1 | 0x2 => {
                    if self.fragments.is_some() {
                        return Err(ReadError::Protocol("new message inside a fragmented one"));
                    }
                    let text = opcode == 0x1;
                    if fin {
                        return message(text, payload).map(Some);
                    }
                    self.fragments = Some(Box::new((text, payload)));
                }
                0x8 => {
                    return match payload.len() {
                        0 => Ok(Some(Incoming::Close(None))),
                        1 => Err(ReadError::Protocol("close frame with a one-byte payload")),
                        _ => Ok(Some(Incoming::Close(Some(u16::from_be_bytes([
                            payload[0], payload[1],
                        ]))))),
                    };
                }
                0x9 => return Ok(Some(Incoming::Ping(Bytes::from(payload)))),
                0xA => return Ok(Some(Incoming::Pong)),
                _ => return Err(ReadError::Protocol("unknown opcode")),
            }
        }
    }

    /// One frame's opcode, FIN bit and unmasked payload, if `buf` holds all of it.
    fn take_frame(&mut self) -> Result<Option<(u8, bool, Vec<u8>)>, ReadError> {
        let buf = &self.buf;
        if buf.len() < 2 {
            return Ok(None);
        }
        let (b0, b1) = (buf[0], buf[1]);
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0F;
        if b0 & 0x70 != 0 {
            return Err(ReadError::Protocol("reserved bits set"));
        }
        if b1 & 0x80 == 0 {
            return Err(ReadError::Protocol("client frames must be masked"));
        }
        let (len, at) = match b1 & 0x7F {
            126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
            127 if buf.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&buf[2..10]);
                (u64::from_be_bytes(n), 10)
            }
            126 | 127 => return Ok(None),
            n => (u64::from(n), 2),
        };
        if opcode >= 0x8 {
            if !fin {
                return Err(ReadError::Protocol("fragmented control frame"));
            }
            if len > 125 {
                return Err(ReadError::Protocol("control frame over 125 bytes"));
            }
        } else {
            // Refused from its header, before any of it is buffered.
            let so_far = self.fragments.as_ref().map_or(0, |f| f.1.len() as u64);
            if so_far.saturating_add(len) > self.max_message as u64 {
                return Err(ReadError::TooBig);
            }
        }
        let len = len as usize; // at most max_message, or 125
        let start = at + 4;
        if buf.len() < start + len {
            return Ok(None);
        }
        let mask = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
        let mut payload = buf[start..start + len].to_vec();
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i & 3];
        }
        if self.buf.len() == start + len {
            // Nothing left: an idle connection keeps no buffer.
            self.buf = Vec::new();
        } else {
            self.buf.drain(..start + len);
        }
        Ok(Some((opcode, fin, payload)))
    }
}

fn message(text: bool, data: Vec<u8>) -> Result<Incoming, ReadError> {
    if !text {
        return Ok(Incoming::Binary);
    }
    String::from_utf8(data)
        .map(Incoming::Text)
        .map_err(|_| ReadError::NotUtf8)
}

/// Checks a WebSocket upgrade request (HTTP/1.1) and answers it: the `101` response,
/// and the future that yields the connection once the response is sent.
#[allow(clippy::result_large_err)] // the error is the response to send
pub fn accept(request: &mut Request<Body>) -> Result<(Response, OnUpgrade), Response> {
    let refuse = |status: StatusCode, message: &'static str| (status, message).into_response();
    if request.version() != Version::HTTP_11 {
        return Err(refuse(
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "WebSocket upgrades need HTTP/1.1\n",
        ));
    }
    if request.method() != Method::GET {
        return Err(refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "a WebSocket upgrade is a GET request\n",
        ));
    }
    let headers = request.headers();
    if !header_has_token(headers, &header::CONNECTION, "upgrade") {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "`Connection` header did not include `upgrade`\n",
        ));
    }
    if !header_has_token(headers, &header::UPGRADE, "websocket") {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "`Upgrade` header did not include `websocket`\n",
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Version` header is not `13`\n",
        ));
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Key` header missing\n",
        ));
    };
    let accept = accept_key(key.as_bytes());
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        return Err(refuse(
            StatusCode::UPGRADE_REQUIRED,
            "this connection cannot be upgraded\n",
        ));
    };
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    Ok((response, on_upgrade))
}

fn header_has_token(headers: &HeaderMap, name: &header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455, section 4.2.2).
fn accept_key(key: &[u8]) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha1.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: masked with a fixed key.
    fn client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x12, 0x34, 0x56, 0x78];
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
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        f
    }

    async fn read_all(bytes: Vec<u8>, max: usize) -> Vec<Result<Incoming, ReadError>> {
        let mut reader = Conn::new(&bytes[..], max);
        let mut out = Vec::new();
        loop {
            let next = reader.next().await;
            let end = next.is_err();
            out.push(next);
            if end {
                return out;
            }
        }
    }

    #[test]
    fn accept_key_matches_the_rfc_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn frames_are_encoded_with_the_right_length_forms() {
        let mut buf = Vec::new();
        Outgoing::Text(Utf8Bytes::from("hi".to_owned())).encode(&mut buf);
        assert_eq!(buf, b"\x81\x02hi");
        for (len, header) in [(125usize, 2usize), (126, 4), (65535, 4), (65536, 10)] {
            let mut buf = Vec::new();
            Outgoing::Text(Utf8Bytes::from("x".repeat(len))).encode(&mut buf);
            assert_eq!(buf.len(), header + len, "payload of {len}");
        }
        let mut buf = Vec::new();
        Outgoing::Close(4401, "no").encode(&mut buf);
        assert_eq!(buf, [0x88, 4, 0x11, 0x31, b'n', b'o']);
        let mut buf = Vec::new();
        Outgoing::Ping.encode(&mut buf);
        assert_eq!(buf, [0x89, 0]);
    }

    #[tokio::test]
    async fn reads_text_binary_ping_pong_and_close() {
        let mut bytes = client_frame(0x81, b"{\"type\":\"ping\"}");
        bytes.extend(client_frame(0x82, &[1, 2, 3]));
        bytes.extend(client_frame(0x89, b"p"));
        bytes.extend(client_frame(0x8A, b""));
        bytes.extend(client_frame(0x88, &1000u16.to_be_bytes()));
        bytes.extend(client_frame(0x88, b""));
        let got = read_all(bytes, 1024).await;
        assert_eq!(
            got,
            vec![
                Ok(Incoming::Text("{\"type\":\"ping\"}".into())),
                Ok(Incoming::Binary),
                Ok(Incoming::Ping(Bytes::from_static(b"p"))),
                Ok(Incoming::Pong),
                Ok(Incoming::Close(Some(1000))),
                Ok(Incoming::Close(None)),
                Err(ReadError::Lost),
            ]
        );
    }

    #[tokio::test]
    async fn fragments_are_joined_around_control_frames() {
        let mut bytes = client_frame(0x01, b"hel");
        bytes.extend(client_frame(0x89, b""));
        bytes.extend(client_frame(0x00, b"lo "));
        bytes.extend(client_frame(0x80, "wörld".as_bytes()));
        let got = read_all(bytes, 1024).await;
        assert_eq!(got[0], Ok(Incoming::Ping(Bytes::new())));
        assert_eq!(got[1], Ok(Incoming::Text("hello wörld".into())));
    }

    #[tokio::test]
    async fn long_frames_use_extended_lengths() {
        let text = "a".repeat(70_000);
        let bytes = client_frame(0x81, text.as_bytes());
        let got = read_all(bytes, 100_000).await;
        assert_eq!(got[0], Ok(Incoming::Text(text)));
    }

    #[tokio::test]
    async fn protocol_violations_are_errors() {
        let unmasked = vec![0x81, 0x02, b'h', b'i'];
        let mut rsv = client_frame(0x81, b"x");
        rsv[0] |= 0x40;
        let long_ping = client_frame(0x89, &[0; 126]);
        let fragmented_ping = client_frame(0x09, b"");
        let lone_continuation = client_frame(0x80, b"x");
        let mut nested = client_frame(0x01, b"a");
        nested.extend(client_frame(0x81, b"b"));
        let unknown = client_frame(0x83, b"");
        let short_close = client_frame(0x88, b"x");
        for bytes in [
            unmasked,
            rsv,
            long_ping,
            fragmented_ping,
            lone_continuation,
            nested,
            unknown,
            short_close,
        ] {
            let got = read_all(bytes.clone(), 1024).await;
            assert!(
                matches!(got.last(), Some(Err(ReadError::Protocol(_)))),
                "{bytes:?} gave {got:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_message_over_the_limit_is_refused_from_its_header() {
        // Only the header arrives: the refusal does not wait for the payload.
        let mut header = client_frame(0x81, &[b'a'; 2000]);
        header.truncate(8);
        assert_eq!(read_all(header, 1000).await, vec![Err(ReadError::TooBig)]);
        // Fragments count together.
        let mut bytes = client_frame(0x01, &[b'a'; 600]);
        bytes.extend(client_frame(0x80, &[b'a'; 600]));
        assert_eq!(read_all(bytes, 1000).await, vec![Err(ReadError::TooBig)]);
    }

    #[tokio::test]
    async fn text_must_be_utf8() {
        let bytes = client_frame(0x81, &[0xff, 0xfe]);
        assert_eq!(read_all(bytes, 1000).await, vec![Err(ReadError::NotUtf8)]);
    }

    #[tokio::test]
    async fn a_frame_split_across_reads_is_reassembled() {
        let frame = client_frame(0x81, b"split me");
        let (a, b) = frame.split_at(5);
        let (client, server) = tokio::io::duplex(64);
        let mut reader = Conn::new(server, 1000);
        let (a, b) = (a.to_vec(), b.to_vec());
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut client = client;
            client.write_all(&a).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            client.write_all(&b).await.unwrap();
            client
        });
        assert_eq!(reader.next().await, Ok(Incoming::Text("split me".into())));
        drop(writer.await.unwrap());
        assert_eq!(reader.next().await, Err(ReadError::Lost));
        assert!(reader.buf.is_empty() && reader.buf.capacity() == 0);
    }
}
