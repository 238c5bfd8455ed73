//! No panics: a sweep over truncated and mutated fixtures.

use super::*;

/// xorshift64*: deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        // `n` is small (a frame's length), so the modulo bias does not matter here.
        (self.next() % n as u64) as usize
    }
}

const INTERESTING: &[u8] = b"{}[]\":,\\/0123456789-+.eE tfnaul\x00\x7f\xc3\xa9\xf0\x9f\xff";

const REPLACEMENTS: &[&str] = &[
    "null",
    "true",
    "[]",
    "{}",
    "\"\"",
    "-1",
    "1e400",
    "18446744073709551616",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "\"type\":\"ping\",",
    "\"ref\":7,",
    "\"custom\":null,",
];

/// One mutation: bit flip, byte replace, delete, insert, duplicate or splice.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, donors: &[Fixture]) {
    if bytes.is_empty() {
        bytes.push(INTERESTING[rng.below(INTERESTING.len())]);
        return;
    }
    let at = rng.below(bytes.len());
    match rng.below(7) {
        0 => bytes[at] ^= 1 << rng.below(8),
        1 => bytes[at] = INTERESTING[rng.below(INTERESTING.len())],
        2 => {
            let end = (at + 1 + rng.below(8)).min(bytes.len());
            bytes.drain(at..end);
        }
        3 => bytes.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
        4 => {
            let end = (at + 1 + rng.below(32)).min(bytes.len());
            let chunk = bytes[at..end].to_vec();
            let to = rng.below(bytes.len() + 1);
            bytes.splice(to..to, chunk);
        }
        5 => {
            let end = (at + 1 + rng.below(12)).min(bytes.len());
            let with = REPLACEMENTS[rng.below(REPLACEMENTS.len())].as_bytes();
            bytes.splice(at..end, with.iter().copied());
        }
        _ => {
            let donor = donors[rng.below(donors.len())].text.as_bytes();
            let from = rng.below(donor.len());
            let end = (from + 1 + rng.below(40)).min(donor.len());
            bytes.splice(at..at, donor[from..end].iter().copied());
        }
    }
}

/// Decodes `text` both ways; a panic fails the test with the input that caused it. A
/// frame that does decode must also survive its own round trip.
fn decode_without_panic(text: &str) {
    let outcome =
        std::panic::catch_unwind(|| (ClientFrame::decode(text), ServerFrame::decode(text)));
    let (client, server) = outcome.unwrap_or_else(|_| panic!("decode panicked on {text:?}"));
    if let Ok(frame) = client {
        assert_eq!(frame.validate(), Ok(()), "{text:?}");
        assert_eq!(ClientFrame::decode(&frame.to_json()), Ok(frame), "{text:?}");
    }
    if let Ok(frame) = server {
        assert_eq!(ServerFrame::decode(&frame.to_json()), Ok(frame), "{text:?}");
    }
}

fn all_fixtures() -> Vec<Fixture> {
    let mut all = load("client");
    all.extend(load("server"));
    all
}

#[test]
fn truncated_fixtures_are_json_errors() {
    for fixture in all_fixtures() {
        let text = fixture.text.trim_end();
        let bytes = text.as_bytes();
        for len in 0..bytes.len() {
            let prefix = String::from_utf8_lossy(&bytes[..len]);
            decode_without_panic(&prefix);
            // No proper prefix of one JSON object is a whole JSON object.
            let e = client_err(&prefix);
            assert_eq!(
                e.kind,
                DecodeErrorKind::Json,
                "{}: {prefix:?}",
                fixture.stem
            );
            assert_eq!(e.reference, None);
            assert_eq!(server_err(&prefix).kind, DecodeErrorKind::Json);
        }
        decode_without_panic(text);
    }
}

#[test]
fn mutated_fixtures_never_panic() {
    let fixtures = all_fixtures();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut decoded = 0usize;
    let mut rejected = 0usize;
    for fixture in &fixtures {
        for _ in 0..400 {
            let mut bytes = fixture.text.as_bytes().to_vec();
            for _ in 0..=rng.below(3) {
                mutate(&mut rng, &mut bytes, &fixtures);
            }
            let text = String::from_utf8_lossy(&bytes);
            decode_without_panic(&text);
            if ClientFrame::decode(&text).is_ok() || ServerFrame::decode(&text).is_ok() {
                decoded += 1;
            } else {
                rejected += 1;
            }
        }
    }
    // The sweep must exercise both paths, or it tests nothing.
    assert!(decoded > 100, "only {decoded} mutants decoded");
    assert!(rejected > 100, "only {rejected} mutants rejected");
}
