//! Framing (RFC 6455, section 5): encoding the server's frames (unmasked), and
//! decoding the client's (masked), with fragmented messages, control frames, close
//! frames and the size limit. Client frames must be masked, control frames short and
//! unfragmented; a violation is a protocol error.

use bytes::Bytes;

use crate::frame::Utf8Bytes;

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

/// What has been read of the client's frames and not taken yet: a partial frame and a
/// fragmented message, usually neither (then it holds one empty `Vec`).
#[derive(Debug)]
pub(super) struct Decoder {
    /// Bytes of a frame not complete yet (usually none).
    pub(super) buf: Vec<u8>,
    /// The message being assembled from fragments (rare).
    fragments: Option<Box<Fragments>>,
    max_message: usize,
}

/// A fragmented message so far.
#[derive(Debug, Default)]
struct Fragments {
    text: bool,
    data: Vec<u8>,
    /// How much of `data` is checked UTF-8 (text only): bad UTF-8 fails the message at
    /// the fragment that holds it, as RFC 6455 (section 8.1) asks, not at its end.
    valid: usize,
}

impl Fragments {
    /// Checks the UTF-8 of what came since the last check; a character cut at the end
    /// waits for the next fragment.
    fn check_utf8(&mut self) -> Result<(), ReadError> {
        match std::str::from_utf8(&self.data[self.valid..]) {
            Ok(_) => self.valid = self.data.len(),
            Err(e) if e.error_len().is_none() => self.valid += e.valid_up_to(),
            Err(_) => return Err(ReadError::NotUtf8),
        }
        Ok(())
    }
}

impl Decoder {
    pub(super) fn new(max_message: usize) -> Self {
        Self {
            buf: Vec::new(),
            fragments: None,
            max_message,
        }
    }

    /// Adds bytes read from the socket.
    pub(super) fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Takes one complete frame out of `buf`; `None` until one is there.
    pub(super) fn parse(&mut self) -> Result<Option<Incoming>, ReadError> {
        loop {
            let Some((opcode, fin, payload)) = self.take_frame()? else {
                return Ok(None);
            };
            match opcode {
                0x1 | 0x2 if fin => return message(opcode == 0x1, payload).map(Some),
                0x0..=0x2 => {
                    // `take_frame` checked that a continuation continues a message,
                    // and that a new message does not begin inside one.
                    let fragments = self.fragments.get_or_insert_with(|| {
                        Box::new(Fragments {
                            text: opcode == 0x1,
                            ..Fragments::default()
                        })
                    });
                    fragments.data.extend_from_slice(&payload);
                    if fragments.text {
                        fragments.check_utf8()?;
                    }
                    if fin {
                        let Fragments { text, data, .. } =
                            *self.fragments.take().unwrap_or_default();
                        return message(text, data).map(Some);
                    }
                }
                0x8 => return close_frame(&payload).map(Some),
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
        match (opcode, self.fragments.is_some()) {
            (0x0, false) => return Err(ReadError::Protocol("continuation without a message")),
            (0x1 | 0x2, true) => {
                return Err(ReadError::Protocol("new message inside a fragmented one"))
            }
            (0x0..=0x2 | 0x8..=0xA, _) => {}
            _ => return Err(ReadError::Protocol("unknown opcode")),
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
            let so_far = self.fragments.as_ref().map_or(0, |f| f.data.len() as u64);
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

/// A client's close frame (RFC 6455, sections 5.5.1 and 7.4): no payload, or a code
/// that may be sent on the wire and a UTF-8 reason.
fn close_frame(payload: &[u8]) -> Result<Incoming, ReadError> {
    let (code, reason) = match payload {
        [] => return Ok(Incoming::Close(None)),
        [_] => return Err(ReadError::Protocol("close frame with a one-byte payload")),
        [a, b, reason @ ..] => (u16::from_be_bytes([*a, *b]), reason),
    };
    if std::str::from_utf8(reason).is_err() {
        return Err(ReadError::NotUtf8);
    }
    if !close_code_allowed(code) {
        return Err(ReadError::Protocol("invalid close code"));
    }
    Ok(Incoming::Close(Some(code)))
}

/// Whether a peer may send this close code (RFC 6455, section 7.4, and the IANA
/// registry it set up): 1000–1003 and 1007–1014 are defined, 3000–4999 are for
/// libraries and applications. 1004 is reserved; 1005, 1006 and 1015 must never be
/// sent on the wire; the rest of 0–2999 is unassigned and 5000 and up is undefined.
pub(super) fn close_code_allowed(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

fn message(text: bool, data: Vec<u8>) -> Result<Incoming, ReadError> {
    if !text {
        return Ok(Incoming::Binary);
    }
    String::from_utf8(data)
        .map(Incoming::Text)
        .map_err(|_| ReadError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::Conn;
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
    async fn close_codes_follow_rfc_6455_section_7_4() {
        for code in (0..=5100).chain(65500..=u16::MAX) {
            let got = read_all(client_frame(0x88, &code.to_be_bytes()), 1024).await;
            if close_code_allowed(code) {
                assert_eq!(got[0], Ok(Incoming::Close(Some(code))), "{code}");
            } else {
                assert!(
                    matches!(got[0], Err(ReadError::Protocol(_))),
                    "{code}: {got:?}"
                );
            }
        }
        let mut bad_reason = 1000u16.to_be_bytes().to_vec();
        bad_reason.extend_from_slice(&[b'o', b'k', 0xC3, 0x28]);
        let got = read_all(client_frame(0x88, &bad_reason), 1024).await;
        assert_eq!(got, vec![Err(ReadError::NotUtf8)]);
        let mut good_reason = 1000u16.to_be_bytes().to_vec();
        good_reason.extend_from_slice("bye wörld".as_bytes());
        let got = read_all(client_frame(0x88, &good_reason), 1024).await;
        assert_eq!(got[0], Ok(Incoming::Close(Some(1000))));
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
    async fn fragmented_text_fails_at_the_fragment_with_bad_utf8() {
        // A character cut between two fragments is fine.
        let mut bytes = client_frame(0x01, &"wö".as_bytes()[..2]);
        bytes.extend(client_frame(0x80, &"wö".as_bytes()[2..]));
        assert_eq!(
            read_all(bytes, 1000).await[0],
            Ok(Incoming::Text("wö".into()))
        );
        // A bad byte fails the message at once: the rest never comes.
        let bytes = client_frame(0x01, b"ok\xff");
        assert_eq!(read_all(bytes, 1000).await, vec![Err(ReadError::NotUtf8)]);
        // A character still cut when the message ends is bad too.
        let mut bytes = client_frame(0x01, b"a");
        bytes.extend(client_frame(0x80, &[0xe2, 0x82]));
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
        assert!(reader.decoder.buf.is_empty() && reader.decoder.buf.capacity() == 0);
    }
}
