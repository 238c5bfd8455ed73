//! The codec against `tungstenite`'s, on the same bytes: generated client frame
//! sequences (valid, fragmented, with control frames between fragments, and every kind
//! of violation), cut at random byte boundaries across reads, go to our [`Decoder`]
//! and to a server-side `tungstenite::WebSocket` with the same size limits. Both must
//! reach the same verdict: the same messages in the same order, then the same end (the
//! input ran out, or a protocol error of the same kind).
//!
//! The normal suite runs 256 cases (`PROPTEST_CASES` changes that). The long run is
//! ignored by default: `CODEC_DIFF_SECS=600 cargo nextest run -p presence-server
//! --lib --run-ignored only differential_long_run --no-capture` runs for that long (or
//! `CODEC_DIFF_CASES` cases) and prints how many cases ran. Measured on a 2-core
//! machine busy with a CI run: release build (`--release`), 10,000,000 cases in 485 s
//! (20,625 cases/s), all agreeing; debug build, 1,751,286 cases in 1,500 s (1,168
//! cases/s).
//!
//! One known difference is kept out of the inputs: close code 1014 (Bad Gateway, in
//! the IANA registry) is allowed here and refused by `tungstenite`.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tokio_tungstenite::tungstenite::{
    self,
    protocol::{frame::coding::CloseCode, Role, WebSocketConfig},
    Message,
};

use super::codec::{Decoder, Incoming, ReadError};

/// What a decoder made of the input, one entry per message, then how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Text(String),
    Binary,
    Ping(Vec<u8>),
    Pong,
    Close(Option<u16>),
    /// The input ran out (a partial frame may be left).
    End,
    TooBig,
    NotUtf8,
    Protocol,
}

/// One client frame, as bytes on the wire.
#[derive(Debug, Clone)]
struct Frame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload: Vec<u8>,
    /// Only the header, claiming this length (a frame far over the limit).
    header_only: Option<u64>,
}

impl Frame {
    fn new(fin: bool, opcode: u8, payload: Vec<u8>) -> Self {
        Self {
            fin,
            rsv: 0,
            opcode,
            mask: Some([0x37, 0xfa, 0x21, 0x3d]),
            payload,
            header_only: None,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.fin) << 7 | self.rsv << 4 | self.opcode);
        let len = self.header_only.unwrap_or(self.payload.len() as u64);
        let m = if self.mask.is_some() { 0x80 } else { 0 };
        if len < 126 {
            out.push(m | len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            out.push(m | 126);
            out.extend_from_slice(&len.to_be_bytes());
        } else {
            out.push(m | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
        if let Some(mask) = self.mask {
            out.extend_from_slice(&mask);
        }
        if self.header_only.is_some() {
            return;
        }
        match self.mask {
            Some(mask) => out.extend(
                self.payload
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ mask[i & 3]),
            ),
            None => out.extend_from_slice(&self.payload),
        }
    }
}

const MAX_MESSAGE: usize = 1024;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z {}\":,]{0,40}",
        "[a-zäöü€😀\u{7ff}\u{800}\u{ffff}\u{10000}]{0,30}",
        // Around the size limit.
        (1000usize..1100).prop_map(|n| "x".repeat(n)),
    ]
}

/// Text well within the limit: a frame with two faults (say reserved bits and a size
/// over the limit) may be refused for either, so a violation has only its own.
fn small_text() -> impl Strategy<Value = String> {
    "[a-zé€😀]{0,40}"
}

fn bad_utf8() -> impl Strategy<Value = Vec<u8>> {
    (
        "[a-zé]{0,10}",
        prop::sample::select(vec![
            vec![0xff],
            vec![0xc3, 0x28],
            vec![0xe0, 0x80, 0x80],
            vec![0xed, 0xa0, 0x80],
            vec![0xf4, 0x90, 0x80, 0x80],
            vec![0xf0, 0x9f, 0x98], // cut at the end of the message
            vec![0x80],
        ]),
        "[a-z]{0,10}",
    )
        .prop_map(|(a, bad, b)| [a.as_bytes(), &bad, b.as_bytes()].concat())
}

fn control_payload() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=125)
}

/// Close codes: valid, reserved, never on the wire, unassigned (not 1014, see above).
fn close_code() -> impl Strategy<Value = u16> {
    prop_oneof![
        prop::sample::select(vec![
            0u16, 1, 999, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011,
            1012, 1013, 1015, 1016, 1100, 2000, 2999, 3000, 3999, 4000, 4999, 5000, 65535,
        ]),
        any::<u16>().prop_filter("not 1014", |c| *c != 1014),
    ]
}

fn close_payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        any::<u8>().prop_map(|b| vec![b]),
        (
            close_code(),
            prop_oneof![
                Just(Vec::new()),
                "[a-zü ]{1,20}".prop_map(String::into_bytes),
                bad_utf8()
            ]
        )
            .prop_map(|(code, reason)| [&code.to_be_bytes()[..], &reason].concat()),
    ]
}

/// A control frame that is fine where it stands.
fn control() -> impl Strategy<Value = Frame> {
    prop_oneof![
        control_payload().prop_map(|p| Frame::new(true, 0x9, p)),
        control_payload().prop_map(|p| Frame::new(true, 0xA, p)),
    ]
}

/// Cuts `data` into `n` fragments at the given points (UTF-8 characters may be cut).
fn fragment(opcode: u8, data: &[u8], cuts: &[usize], controls: &[Frame]) -> Vec<Frame> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut frames = Vec::new();
    let mut from = 0;
    for (i, &to) in points
        .iter()
        .chain(std::iter::once(&data.len()))
        .enumerate()
    {
        let op = if i == 0 { opcode } else { 0x0 };
        frames.push(Frame::new(false, op, data[from..to.max(from)].to_vec()));
        if let Some(c) = controls.get(i) {
            frames.push(c.clone());
        }
        from = to.max(from);
    }
    // The last data frame ends the message (the controls after it stay).
    if let Some(last) = frames.iter_mut().rev().find(|f| f.opcode < 0x8) {
        last.fin = true;
    }
    frames
}

/// A message, in one frame or in fragments with control frames between them.
fn message() -> impl Strategy<Value = Vec<Frame>> {
    let data = prop_oneof![
        3 => text().prop_map(|t| (0x1u8, t.into_bytes())),
        1 => bad_utf8().prop_map(|b| (0x1u8, b)),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(|b| (0x2u8, b)),
        1 => (600usize..700).prop_map(|n| (0x2u8, vec![7; n])),
    ];
    (
        data,
        prop::collection::vec(any::<usize>(), 0..4),
        prop::collection::vec(control(), 0..3),
    )
        .prop_map(|((opcode, data), cuts, controls)| fragment(opcode, &data, &cuts, &controls))
}

/// A frame that breaks the protocol (or is refused for its size).
fn violation() -> impl Strategy<Value = Vec<Frame>> {
    prop_oneof![
        // Reserved bits.
        (1u8..8, small_text()).prop_map(|(rsv, t)| {
            let mut f = Frame::new(true, 0x1, t.into_bytes());
            f.rsv = rsv;
            vec![f]
        }),
        // Reserved opcodes, data and control.
        (
            prop::sample::select(vec![3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF]),
            control_payload()
        )
            .prop_map(|(op, p)| vec![Frame::new(true, op, p)]),
        // Not masked.
        small_text().prop_map(|t| {
            let mut f = Frame::new(true, 0x1, t.into_bytes());
            f.mask = None;
            vec![f]
        }),
        // A fragmented control frame.
        (
            prop::sample::select(vec![0x8u8, 0x9, 0xA]),
            control_payload()
        )
            .prop_map(|(op, p)| vec![Frame::new(false, op, p)]),
        // A control frame over 125 bytes.
        (prop::sample::select(vec![0x8u8, 0x9, 0xA]), 126usize..300)
            .prop_map(|(op, n)| vec![Frame::new(true, op, vec![0x20; n])]),
        // A continuation without a message.
        (any::<bool>(), small_text()).prop_map(|(fin, t)| vec![Frame::new(
            fin,
            0x0,
            t.into_bytes()
        )]),
        // A new message inside a fragmented one.
        (small_text(), small_text(), any::<bool>()).prop_map(|(a, b, fin)| vec![
            Frame::new(false, 0x1, a.into_bytes()),
            Frame::new(fin, 0x1, b.into_bytes()),
        ]),
        // Far over the limit: only the header comes.
        (
            prop::sample::select(vec![0x1u8, 0x2]),
            (MAX_MESSAGE as u64 + 1)..=u64::MAX
        )
            .prop_map(|(op, len)| {
                let mut f = Frame::new(true, op, Vec::new());
                f.header_only = Some(len);
                vec![f]
            }),
        // Fragments that add up to more than the limit.
        (2usize..6).prop_map(|n| {
            let mut frames: Vec<Frame> = (0..n)
                .map(|i| Frame::new(false, if i == 0 { 0x1 } else { 0x0 }, vec![b'a'; 400]))
                .collect();
            if let Some(f) = frames.last_mut() {
                f.fin = true;
            }
            frames
        }),
    ]
}

/// Frames, then the cut points of the bytes into reads.
fn input() -> impl Strategy<Value = (Vec<Frame>, Vec<usize>)> {
    let item = prop_oneof![
        6 => message(),
        2 => control().prop_map(|f| vec![f]),
        1 => close_payload().prop_map(|p| vec![Frame::new(true, 0x8, p)]),
        1 => violation(),
    ];
    (
        prop::collection::vec(item, 0..8).prop_map(|items| items.concat()),
        prop::collection::vec(1usize..64, 0..40),
    )
}

fn bytes_of(frames: &[Frame]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for f in frames {
        f.encode(&mut bytes);
    }
    bytes
}

/// The reads: the bytes cut after these lengths, the rest in one read.
fn reads(bytes: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut reads = Vec::new();
    let mut rest = bytes;
    for &n in sizes {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at(n.min(rest.len()));
        reads.push(a.to_vec());
        rest = b;
    }
    if !rest.is_empty() {
        reads.push(rest.to_vec());
    }
    reads
}

fn ours(reads: &[Vec<u8>]) -> Vec<Verdict> {
    let mut decoder = Decoder::new(MAX_MESSAGE);
    let mut out = Vec::new();
    for read in reads {
        decoder.extend(read);
        loop {
            let v = match decoder.parse() {
                Ok(None) => break,
                Ok(Some(Incoming::Text(t))) => Verdict::Text(t),
                Ok(Some(Incoming::Binary)) => Verdict::Binary,
                Ok(Some(Incoming::Ping(p))) => Verdict::Ping(p.to_vec()),
                Ok(Some(Incoming::Pong)) => Verdict::Pong,
                Ok(Some(Incoming::Close(code))) => {
                    out.push(Verdict::Close(code));
                    return out;
                }
                Err(ReadError::Lost) => Verdict::End,
                Err(ReadError::TooBig) => Verdict::TooBig,
                Err(ReadError::NotUtf8) => Verdict::NotUtf8,
                Err(ReadError::Protocol(_)) => Verdict::Protocol,
            };
            let end = !matches!(
                v,
                Verdict::Text(_) | Verdict::Binary | Verdict::Ping(_) | Verdict::Pong
            );
            out.push(v);
            if end {
                return out;
            }
        }
    }
    out.push(Verdict::End);
    out
}

/// A socket that gives these reads, one per `read`, then the end; writes go nowhere.
struct Reads {
    reads: std::collections::VecDeque<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
}

impl Read for Reads {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.current.len() {
            match self.reads.pop_front() {
                Some(next) => (self.current, self.at) = (next, 0),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for Reads {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn theirs(reads: &[Vec<u8>]) -> Vec<Verdict> {
    use tungstenite::error::{Error, ProtocolError};
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let socket = Reads {
        reads: reads.iter().cloned().collect(),
        current: Vec::new(),
        at: 0,
    };
    let mut ws = tungstenite::WebSocket::from_raw_socket(socket, Role::Server, Some(config));
    let mut out = Vec::new();
    loop {
        let v = match ws.read() {
            Ok(Message::Text(t)) => Verdict::Text(t.as_str().to_owned()),
            Ok(Message::Binary(_)) => Verdict::Binary,
            Ok(Message::Ping(p)) => Verdict::Ping(p.to_vec()),
            Ok(Message::Pong(_)) => Verdict::Pong,
            Ok(Message::Frame(_)) => unreachable!("raw frames are not read"),
            Ok(Message::Close(None)) => {
                out.push(Verdict::Close(None));
                return out;
            }
            Ok(Message::Close(Some(close))) => {
                // An invalid code is reported as this code and reason.
                out.push(
                    if close.code == CloseCode::Protocol && close.reason == "Protocol violation" {
                        Verdict::Protocol
                    } else {
                        Verdict::Close(Some(close.code.into()))
                    },
                );
                return out;
            }
            Err(Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => Verdict::End,
            Err(Error::Protocol(_)) => Verdict::Protocol,
            Err(Error::Capacity(_)) => Verdict::TooBig,
            Err(Error::Utf8(_)) => Verdict::NotUtf8,
            Err(e) => panic!("tungstenite: {e}"),
        };
        let end = !matches!(
            v,
            Verdict::Text(_) | Verdict::Binary | Verdict::Ping(_) | Verdict::Pong
        );
        out.push(v);
        if end {
            return out;
        }
    }
}

fn same_verdict((frames, sizes): (Vec<Frame>, Vec<usize>)) -> Result<(), TestCaseError> {
    let bytes = bytes_of(&frames);
    let reads = reads(&bytes, &sizes);
    let (ours, theirs) = (ours(&reads), theirs(&reads));
    prop_assert_eq!(&ours, &theirs, "bytes {:02x?}", bytes);
    Ok(())
}

proptest! {
    #[test]
    fn the_codec_agrees_with_tungstenite(case in input()) {
        same_verdict(case)?;
    }
}

/// The long run: `CODEC_DIFF_SECS` seconds (default 60) or `CODEC_DIFF_CASES` cases
/// (default 10 million), whichever ends first. Prints the count and the rate.
#[test]
#[ignore = "long: run on purpose"]
fn differential_long_run() {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let secs = env("CODEC_DIFF_SECS", 60);
    let cases = env("CODEC_DIFF_CASES", 10_000_000);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = input();
    let mut ran = 0u64;
    while ran < cases && Instant::now() < deadline {
        let case = strategy
            .new_tree(&mut runner)
            .unwrap_or_else(|e| panic!("{e}"))
            .current();
        if let Err(e) = same_verdict(case) {
            panic!("case {ran}: {e}");
        }
        ran += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "differential: {ran} cases in {elapsed:.0} s ({:.0} cases/s)",
        ran as f64 / elapsed
    );
}
