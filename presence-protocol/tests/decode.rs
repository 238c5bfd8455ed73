//! Decoding: forward compatibility (unknown fields), the error kind of every kind of bad
//! frame (with its `ref` kept for the answer), a no-panic sweep over truncated and
//! mutated fixtures, and the small code tables (close codes, error codes, last seen).

mod common;

use common::{load, value, Fixture};
use presence_protocol::limits::{
    MAX_CLIENT_LEN, MAX_CUSTOM_EMOJI_LEN, MAX_CUSTOM_TEXT_LEN, MAX_DEVICE_LEN, MAX_ID_LEN,
    MAX_USERS_PER_FRAME, MONTH_MS, RECENTLY_MS, WEEK_MS,
};
use presence_protocol::{
    ClientFrame, CloseCode, CustomStatus, DecodeError, DecodeErrorKind, ErrorCode, LastSeenApprox,
    ServerFrame,
};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// Unknown fields
// ---------------------------------------------------------------------------------------

/// Adds unknown fields to every object of `v`, nested ones included (presence, custom
/// status, user info).
fn add_unknown_fields(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                add_unknown_fields(child);
            }
            map.insert(
                "x_future".into(),
                json!({"nested": [1, "two", null, {"type": "ping"}], "ref": "not-a-ref"}),
            );
            map.insert("zz_flag".into(), json!(true));
        }
        Value::Array(items) => items.iter_mut().for_each(add_unknown_fields),
        _ => {}
    }
}

fn with_unknown_fields(fixture: &Fixture) -> String {
    let mut v = value(fixture);
    add_unknown_fields(&mut v);
    let text = v.to_string();
    assert!(text.contains("x_future"));
    text
}

#[test]
fn unknown_fields_are_ignored_in_client_frames() {
    for fixture in load("client") {
        let plain = ClientFrame::decode(&fixture.text).expect("fixture decodes");
        let extended = ClientFrame::decode(&with_unknown_fields(&fixture));
        assert_eq!(extended, Ok(plain), "client fixture {}", fixture.stem);
    }
}

#[test]
fn unknown_fields_are_ignored_in_server_frames() {
    for fixture in load("server") {
        let plain = ServerFrame::decode(&fixture.text).expect("fixture decodes");
        let extended = ServerFrame::decode(&with_unknown_fields(&fixture));
        assert_eq!(extended, Ok(plain), "server fixture {}", fixture.stem);
    }
}

// ---------------------------------------------------------------------------------------
// Error kinds
// ---------------------------------------------------------------------------------------

fn client_err(text: &str) -> DecodeError {
    match ClientFrame::decode(text) {
        Ok(frame) => panic!("{text} decoded as {frame:?}, expected an error"),
        Err(e) => {
            assert!(!e.message.is_empty(), "{text}: empty message");
            assert_eq!(e.to_string(), e.message);
            e
        }
    }
}

fn server_err(text: &str) -> DecodeError {
    match ServerFrame::decode(text) {
        Ok(frame) => panic!("{text} decoded as {frame:?}, expected an error"),
        Err(e) => {
            assert!(!e.message.is_empty(), "{text}: empty message");
            e
        }
    }
}

/// Asserts an `Invalid` error on `field`, with the given `ref`.
fn assert_invalid(text: &str, field: &str, reference: Option<u64>) {
    let e = client_err(text);
    match &e.kind {
        DecodeErrorKind::Invalid(invalid) => {
            assert_eq!(invalid.field, field, "{text}: {e:?}");
            assert!(!invalid.reason.is_empty());
            assert!(e.message.contains(field), "{text}: message {:?}", e.message);
        }
        other => panic!("{text}: expected Invalid({field}), got {other:?}"),
    }
    assert_eq!(e.reference, reference, "{text}");
}

#[test]
fn text_that_is_not_json_is_a_json_error() {
    for text in [
        "",
        "   ",
        "ping",
        "{",
        r#"{"type":"ping""#,
        r#"{"type":"ping",}"#,
        r#"{'type':'ping'}"#,
        r#"{"type":"ping","ref":5} trailing"#,
        r#"{"type":"ping"}{"type":"ping"}"#,
        "\u{feff}{\"type\":\"ping\"}",
    ] {
        for e in [client_err(text), server_err(text)] {
            assert_eq!(e.kind, DecodeErrorKind::Json, "{text:?}: {e:?}");
            assert_eq!(e.reference, None, "{text:?}");
        }
    }
}

#[test]
fn json_that_is_not_an_object_is_a_json_error() {
    for text in [
        r#"["ping"]"#,
        r#"["ping",7]"#,
        r#"["join","team-1.general",3]"#,
        r#"  ["ack",5]"#,
        r#"["pong",1764290000000]"#,
        "[]",
        "null",
        "42",
        "true",
        r#""ping""#,
        r#"[{"type":"ping","ref":1}]"#,
    ] {
        for e in [client_err(text), server_err(text)] {
            assert_eq!(e.kind, DecodeErrorKind::Json, "{text}: {e:?}");
            assert_eq!(e.reference, None, "{text}");
        }
    }
}

#[test]
fn surrounding_json_whitespace_is_fine() {
    let text = " \r\n\t{\"type\":\"ping\",\"ref\":1}\n ";
    assert_eq!(
        ClientFrame::decode(text),
        Ok(ClientFrame::Ping { r#ref: Some(1) })
    );
    let text = "\n{\"type\":\"ack\",\"ref\":1}\t";
    assert_eq!(ServerFrame::decode(text), Ok(ServerFrame::Ack { r#ref: 1 }));
}

#[test]
fn a_missing_or_non_string_type_is_missing_type() {
    for (text, reference) in [
        (r#"{}"#, None),
        (r#"{"ref":3}"#, Some(3)),
        (r#"{"room":"team-1.general","ref":4}"#, Some(4)),
        (r#"{"type":null,"ref":5}"#, Some(5)),
        (r#"{"type":5,"ref":6}"#, Some(6)),
        (r#"{"type":["ping"],"ref":7}"#, Some(7)),
        (r#"{"type":{"name":"ping"}}"#, None),
        (r#"{"Type":"ping","ref":8}"#, Some(8)),
    ] {
        for e in [client_err(text), server_err(text)] {
            assert_eq!(e.kind, DecodeErrorKind::MissingType, "{text}: {e:?}");
            assert_eq!(e.reference, reference, "{text}");
        }
    }
}

#[test]
fn an_unknown_type_is_named_in_the_error() {
    let e = client_err(r#"{"type":"subscribe","room":"team-1.general","ref":11}"#);
    assert_eq!(e.kind, DecodeErrorKind::UnknownType("subscribe".into()));
    assert_eq!(e.reference, Some(11));
    assert!(e.message.contains("subscribe"), "{}", e.message);

    // Case matters: types are snake_case.
    let e = client_err(r#"{"type":"Ping"}"#);
    assert_eq!(e.kind, DecodeErrorKind::UnknownType("Ping".into()));
    assert_eq!(e.reference, None);
    let e = client_err(r#"{"type":"setStatus","status":"busy","ref":2}"#);
    assert_eq!(e.kind, DecodeErrorKind::UnknownType("setStatus".into()));
    assert_eq!(e.reference, Some(2));

    // The other direction's types are unknown too.
    let e = client_err(r#"{"type":"welcome","session":"s","ref":12}"#);
    assert_eq!(e.kind, DecodeErrorKind::UnknownType("welcome".into()));
    assert_eq!(e.reference, Some(12));
    let e = server_err(r#"{"type":"join","room":"team-1.general","ref":13}"#);
    assert_eq!(e.kind, DecodeErrorKind::UnknownType("join".into()));
    assert_eq!(e.reference, Some(13));
    let e = server_err(r#"{"type":"room_update","room":"r"}"#);
    assert_eq!(e.kind, DecodeErrorKind::UnknownType("room_update".into()));
}

#[test]
fn a_missing_field_is_a_shape_error_with_the_ref() {
    for (text, reference) in [
        (r#"{"type":"join","ref":12}"#, Some(12)),
        (r#"{"type":"leave"}"#, None),
        (r#"{"type":"hello","device":"web"}"#, None),
        (r#"{"type":"activity","ref":13}"#, Some(13)),
        (r#"{"type":"set_status","ref":14}"#, Some(14)),
        (r#"{"type":"watch","ref":15}"#, Some(15)),
        (
            r#"{"type":"typing","room":"team-1.general","ref":16}"#,
            Some(16),
        ),
        (r#"{"type":"set_privacy","ref":17}"#, Some(17)),
        // `null` clears the custom status; a missing (say misspelt) field must not.
        (r#"{"type":"set_custom","ref":18}"#, Some(18)),
        (
            r#"{"type":"set_custom","costum":{"text":"Lunch"},"ref":19}"#,
            Some(19),
        ),
    ] {
        let e = client_err(text);
        assert_eq!(e.kind, DecodeErrorKind::Shape, "{text}: {e:?}");
        assert_eq!(e.reference, reference, "{text}");
    }
    for (text, reference) in [
        (r#"{"type":"ack"}"#, None),
        (r#"{"type":"error","message":"m","ref":20}"#, Some(20)),
        (r#"{"type":"pong","ref":21}"#, Some(21)),
        (
            r#"{"type":"welcome","session":"s","heartbeat_ms":25000}"#,
            None,
        ),
        (
            r#"{"type":"room_state","room":"r","count":1,"typing":[],"ref":22}"#,
            Some(22),
        ),
        (r#"{"type":"presence","presence":{"user":"bob"}}"#, None),
    ] {
        let e = server_err(text);
        assert_eq!(e.kind, DecodeErrorKind::Shape, "{text}: {e:?}");
        assert_eq!(e.reference, reference, "{text}");
    }
}

#[test]
fn a_wrongly_typed_field_is_a_shape_error_with_the_ref() {
    for (text, reference) in [
        (r#"{"type":"join","room":5,"ref":14}"#, Some(14)),
        (r#"{"type":"join","room":null,"ref":15}"#, Some(15)),
        (
            r#"{"type":"typing","room":"r","typing":"yes","ref":16}"#,
            Some(16),
        ),
        (r#"{"type":"watch","users":"bob","ref":17}"#, Some(17)),
        (r#"{"type":"watch","users":[1,2],"ref":18}"#, Some(18)),
        (
            r#"{"type":"activity","state":"sleeping","ref":19}"#,
            Some(19),
        ),
        (
            r#"{"type":"set_status","status":"offline","ref":20}"#,
            Some(20),
        ),
        (
            r#"{"type":"set_privacy","last_seen":true,"ref":21}"#,
            Some(21),
        ),
        (
            r#"{"type":"set_custom","custom":"Lunch","ref":22}"#,
            Some(22),
        ),
        (
            r#"{"type":"set_custom","custom":{"expires_at":"soon","text":"x"},"ref":23}"#,
            Some(23),
        ),
        (r#"{"type":"hello","token":42}"#, None),
        // A `ref` that is not a u64 is itself the bad field, and cannot be carried back.
        (r#"{"type":"ping","ref":"1"}"#, None),
        (r#"{"type":"ping","ref":-1}"#, None),
        (r#"{"type":"ping","ref":1.5}"#, None),
        (r#"{"type":"ping","ref":18446744073709551616}"#, None),
        (
            r#"{"type":"join","room":7,"ref":18446744073709551615}"#,
            Some(u64::MAX),
        ),
    ] {
        let e = client_err(text);
        assert_eq!(e.kind, DecodeErrorKind::Shape, "{text}: {e:?}");
        assert_eq!(e.reference, reference, "{text}");
        assert!(e.message.contains('`'), "names the frame: {}", e.message);
    }
    for (text, reference) in [
        (r#"{"type":"ack","ref":"5"}"#, None),
        (r#"{"type":"pong","server_time":"now","ref":6}"#, Some(6)),
        (r#"{"type":"room_count","room":"r","count":-1}"#, None),
        (
            r#"{"type":"typing","room":"r","user":"bob","typing":1}"#,
            None,
        ),
        (
            r#"{"type":"presence","presence":{"user":"bob","status":"gone"}}"#,
            None,
        ),
    ] {
        let e = server_err(text);
        assert_eq!(e.kind, DecodeErrorKind::Shape, "{text}: {e:?}");
        assert_eq!(e.reference, reference, "{text}");
    }
}

#[test]
fn ids_with_foreign_characters_are_invalid() {
    for room in [
        "team 1",
        "général",
        "a/b",
        "a*",
        "room#1",
        "tab\there",
        "😀",
    ] {
        let text = json!({"type": "join", "room": room, "ref": 30}).to_string();
        assert_invalid(&text, "room", Some(30));
    }
    assert_invalid(
        r#"{"type":"leave","room":"x?y","ref":31}"#,
        "room",
        Some(31),
    );
    assert_invalid(
        r#"{"type":"typing","room":"x y","typing":true}"#,
        "room",
        None,
    );
    for kind in ["watch", "unwatch", "query"] {
        let text = json!({"type": kind, "users": ["bob", "eve!"], "ref": 32}).to_string();
        assert_invalid(&text, "users", Some(32));
    }
    // Every allowed character at once is fine.
    let ok = r#"{"type":"join","room":"AZaz09._:@-","ref":33}"#;
    assert!(ClientFrame::decode(ok).is_ok());
}

#[test]
fn ids_must_be_1_to_128_characters() {
    let longest = "r".repeat(MAX_ID_LEN);
    let too_long = "r".repeat(MAX_ID_LEN + 1);
    assert_eq!(MAX_ID_LEN, 128);

    let ok = json!({"type": "join", "room": longest, "ref": 1}).to_string();
    assert_eq!(
        ClientFrame::decode(&ok),
        Ok(ClientFrame::Join {
            room: longest.clone(),
            r#ref: Some(1)
        })
    );
    let text = json!({"type": "join", "room": too_long, "ref": 34}).to_string();
    assert_invalid(&text, "room", Some(34));
    assert_invalid(r#"{"type":"join","room":"","ref":35}"#, "room", Some(35));

    let ok = json!({"type": "query", "users": [longest], "ref": 2}).to_string();
    assert!(ClientFrame::decode(&ok).is_ok());
    let text = json!({"type": "query", "users": ["bob", too_long], "ref": 36}).to_string();
    assert_invalid(&text, "users", Some(36));
    assert_invalid(
        r#"{"type":"watch","users":["bob",""],"ref":37}"#,
        "users",
        Some(37),
    );
}

#[test]
fn a_frame_names_1_to_100_users() {
    assert_eq!(MAX_USERS_PER_FRAME, 100);
    let users = |n: usize| -> Vec<String> { (0..n).map(|i| format!("user-{i}")).collect() };
    for kind in ["watch", "unwatch", "query"] {
        let ok = json!({"type": kind, "users": users(MAX_USERS_PER_FRAME)}).to_string();
        let frame = ClientFrame::decode(&ok).unwrap_or_else(|e| panic!("{kind}: {e:?}"));
        assert_eq!(frame.type_name(), kind);

        let text =
            json!({"type": kind, "users": users(MAX_USERS_PER_FRAME + 1), "ref": 40}).to_string();
        assert_invalid(&text, "users", Some(40));
        let text = json!({"type": kind, "users": [], "ref": 41}).to_string();
        assert_invalid(&text, "users", Some(41));
    }
}

#[test]
fn custom_status_lengths_are_counted_in_characters() {
    assert_eq!(MAX_CUSTOM_TEXT_LEN, 128);
    assert_eq!(MAX_CUSTOM_EMOJI_LEN, 16);
    // 128 two-byte characters: 256 bytes, still allowed.
    let text = "é".repeat(MAX_CUSTOM_TEXT_LEN);
    let ok = json!({"type": "set_custom", "custom": {"text": text}, "ref": 1}).to_string();
    assert_eq!(
        ClientFrame::decode(&ok),
        Ok(ClientFrame::SetCustom {
            custom: Some(CustomStatus {
                text: Some(text),
                emoji: None,
                expires_at: None
            }),
            r#ref: Some(1)
        })
    );
    let too_long = "x".repeat(MAX_CUSTOM_TEXT_LEN + 1);
    let text =
        json!({"type": "set_custom", "custom": {"text": too_long, "emoji": "🍜"}, "ref": 50})
            .to_string();
    assert_invalid(&text, "custom.text", Some(50));

    let emoji = "🍜".repeat(MAX_CUSTOM_EMOJI_LEN);
    let ok = json!({"type": "set_custom", "custom": {"emoji": emoji}}).to_string();
    assert!(ClientFrame::decode(&ok).is_ok());
    let emoji = "🍜".repeat(MAX_CUSTOM_EMOJI_LEN + 1);
    let text =
        json!({"type": "set_custom", "custom": {"text": "Lunch", "emoji": emoji}, "ref": 51})
            .to_string();
    assert_invalid(&text, "custom.emoji", Some(51));
}

#[test]
fn an_empty_custom_status_is_invalid_and_null_clears() {
    for custom in [
        json!({}),
        json!({"text": ""}),
        json!({"text": "   "}),
        json!({"emoji": ""}),
        json!({"text": " ", "emoji": "\t"}),
        json!({"text": null, "emoji": null, "expires_at": 1764293600000u64}),
    ] {
        let text = json!({"type": "set_custom", "custom": custom, "ref": 52}).to_string();
        assert_invalid(&text, "custom", Some(52));
    }
    assert_eq!(
        ClientFrame::decode(r#"{"type":"set_custom","custom":null,"ref":53}"#),
        Ok(ClientFrame::SetCustom {
            custom: None,
            r#ref: Some(53)
        })
    );
    // Either half alone is enough.
    assert!(ClientFrame::decode(r#"{"type":"set_custom","custom":{"text":"Lunch"}}"#).is_ok());
    assert!(ClientFrame::decode(r#"{"type":"set_custom","custom":{"emoji":"🍜"}}"#).is_ok());
}

#[test]
fn hello_labels_are_bounded() {
    assert_eq!(MAX_DEVICE_LEN, 32);
    let ok = json!({"type": "hello", "token": "t", "device": "d".repeat(MAX_DEVICE_LEN),
        "client": "c".repeat(MAX_CLIENT_LEN)})
    .to_string();
    assert!(ClientFrame::decode(&ok).is_ok());
    let text = json!({"type": "hello", "token": "t", "device": "d".repeat(MAX_DEVICE_LEN + 1)})
        .to_string();
    assert_invalid(&text, "device", None);
    let text = json!({"type": "hello", "token": "t", "client": "c".repeat(MAX_CLIENT_LEN + 1)})
        .to_string();
    assert_invalid(&text, "client", None);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep_array = "[".repeat(200_000);
    let deep_field = format!(
        r#"{{"type":"query","ref":9,"users":{}}}"#,
        "[".repeat(200_000)
    );
    for text in [&deep_array, &deep_field] {
        let e = client_err(text);
        assert_eq!(e.kind, DecodeErrorKind::Json);
        let e = server_err(text);
        assert_eq!(e.kind, DecodeErrorKind::Json);
    }
    // Well-formed but too deep for the frame parser: the `type` and `ref` still read.
    let deep_closed = format!(
        r#"{{"type":"join","room":"r","ref":3,"x":{}1{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let e = client_err(&deep_closed);
    assert_eq!(e.kind, DecodeErrorKind::Shape);
    assert_eq!(e.reference, Some(3));
    let e = server_err(&deep_closed);
    assert_eq!(e.kind, DecodeErrorKind::UnknownType("join".into()));
}

// ---------------------------------------------------------------------------------------
// No panics
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Code tables
// ---------------------------------------------------------------------------------------

#[test]
fn close_codes_round_trip() {
    let table = [
        (1000, CloseCode::Normal, true),
        (1002, CloseCode::ProtocolError, true),
        (1007, CloseCode::InvalidData, true),
        (1008, CloseCode::PolicyViolation, true),
        (1009, CloseCode::FrameTooBig, true),
        (1012, CloseCode::Restarting, true),
        (1013, CloseCode::TryAgainLater, true),
        (4400, CloseCode::ProtocolAbuse, false),
        (4401, CloseCode::Unauthorized, false),
        (4408, CloseCode::HelloTimeout, true),
        (4429, CloseCode::RateLimitAbuse, true),
    ];
    for (code, close, reconnect) in table {
        assert_eq!(CloseCode::from_code(code), Some(close), "{code}");
        assert_eq!(close.code(), code);
        assert_eq!(close.should_reconnect(), reconnect, "{code}");
    }
    for code in [
        0,
        999,
        1001,
        1005,
        1006,
        1011,
        1014,
        4000,
        4402,
        4409,
        4430,
        u16::MAX,
    ] {
        assert_eq!(CloseCode::from_code(code), None, "{code}");
    }
    // Exhaustive over u16: exactly the codes above are known.
    let known = (0..=u16::MAX)
        .filter_map(CloseCode::from_code)
        .inspect(|c| assert!(table.iter().any(|(_, t, _)| t == c)))
        .count();
    assert_eq!(known, table.len());
}

#[test]
fn last_seen_buckets_switch_at_3_7_and_30_days() {
    const DAY: u64 = 24 * 3600 * 1000;
    assert_eq!(RECENTLY_MS, 3 * DAY);
    assert_eq!(WEEK_MS, 7 * DAY);
    assert_eq!(MONTH_MS, 30 * DAY);
    for (age, bucket) in [
        (0, LastSeenApprox::Recently),
        (60_000, LastSeenApprox::Recently),
        (3 * DAY - 1, LastSeenApprox::Recently),
        (3 * DAY, LastSeenApprox::Week),
        (7 * DAY - 1, LastSeenApprox::Week),
        (7 * DAY, LastSeenApprox::Month),
        (30 * DAY - 1, LastSeenApprox::Month),
        (30 * DAY, LastSeenApprox::LongAgo),
        (365 * DAY, LastSeenApprox::LongAgo),
        (u64::MAX, LastSeenApprox::LongAgo),
    ] {
        assert_eq!(LastSeenApprox::from_age_ms(age), bucket, "age {age} ms");
    }
    // Wire names.
    for (bucket, name) in [
        (LastSeenApprox::Recently, "recently"),
        (LastSeenApprox::Week, "week"),
        (LastSeenApprox::Month, "month"),
        (LastSeenApprox::LongAgo, "long_ago"),
    ] {
        assert_eq!(
            serde_json::to_value(bucket).expect("serializes"),
            json!(name)
        );
    }
}

#[test]
fn error_codes_have_their_wire_names() {
    for (code, name) in [
        (ErrorCode::BadRequest, "bad_request"),
        (ErrorCode::Unauthorized, "unauthorized"),
        (ErrorCode::Forbidden, "forbidden"),
        (ErrorCode::NotJoined, "not_joined"),
        (ErrorCode::RateLimited, "rate_limited"),
        (ErrorCode::TooMany, "too_many"),
        (ErrorCode::Internal, "internal"),
    ] {
        assert_eq!(code.as_str(), name);
        assert_eq!(code.to_string(), name);
        assert_eq!(serde_json::to_value(code).expect("serializes"), json!(name));
        let frame = ServerFrame::error(code, "m", Some(1));
        let text = frame.to_json();
        assert_eq!(
            serde_json::from_str::<Value>(&text).expect("JSON"),
            json!({"type": "error", "code": name, "message": "m", "ref": 1})
        );
        assert_eq!(ServerFrame::decode(&text), Ok(frame));
    }
}

#[test]
fn an_unknown_error_code_decodes_to_unknown() {
    let text =
        r#"{"type":"error","code":"quota_exceeded","message":"from a newer server","ref":9}"#;
    assert_eq!(
        ServerFrame::decode(text),
        Ok(ServerFrame::Error {
            code: ErrorCode::Unknown,
            message: "from a newer server".into(),
            r#ref: Some(9),
        })
    );
    assert_eq!(
        serde_json::from_str::<ErrorCode>(r#""maintenance""#).expect("any string"),
        ErrorCode::Unknown
    );
    // A code must still be a string.
    let e = server_err(r#"{"type":"error","code":7,"message":"m"}"#);
    assert_eq!(e.kind, DecodeErrorKind::Shape);
}
