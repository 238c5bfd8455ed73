//! Every frame type of both directions has a JSON fixture under `tests/fixtures/`; each
//! one decodes, re-encodes to the same JSON (as a value: field order does not matter)
//! and survives a decode/encode round trip.

mod common;

use std::collections::BTreeSet;

use common::{load, value, Fixture, CLIENT_TYPES, SERVER_TYPES};
use presence_protocol::{ClientFrame, DecodeErrorKind, ServerFrame};
use serde_json::Value;

/// The fixture's `type`, checked against its file name: `<type>.json` or
/// `<type>_<variant>.json`.
fn fixture_type(fixture: &Fixture) -> String {
    let v = value(fixture);
    let t = v
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("fixture {} has no string `type`", fixture.stem))
        .to_owned();
    assert!(
        fixture.stem == t || fixture.stem.starts_with(&format!("{t}_")),
        "fixture {}.json holds a `{t}` frame; name it {t}.json or {t}_<variant>.json",
        fixture.stem
    );
    t
}

/// The `ref` a fixture carries, if any.
fn fixture_ref(fixture: &Fixture) -> Option<u64> {
    value(fixture).get("ref").map(|r| {
        r.as_u64()
            .unwrap_or_else(|| panic!("fixture {}: `ref` is not a u64", fixture.stem))
    })
}

fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("encoder produced bad JSON {text}: {e}"))
}

#[test]
fn client_fixtures_decode_and_reencode_to_the_same_json() {
    for fixture in load("client") {
        let name = &fixture.stem;
        let frame = ClientFrame::decode(&fixture.text)
            .unwrap_or_else(|e| panic!("client fixture {name} does not decode: {e:?}"));
        assert_eq!(frame.type_name(), fixture_type(&fixture), "fixture {name}");
        assert_eq!(frame.reference(), fixture_ref(&fixture), "fixture {name}");
        assert_eq!(frame.validate(), Ok(()), "fixture {name}");

        let json = frame.to_json();
        assert!(
            !json.contains('\n'),
            "fixture {name}: one frame is one line"
        );
        assert_eq!(
            parse_json(&json),
            value(&fixture),
            "fixture {name}: re-encoding changes the JSON"
        );
        assert_eq!(
            ClientFrame::decode(&json).as_ref(),
            Ok(&frame),
            "fixture {name}: decode(encode(x)) != x"
        );
    }
}

#[test]
fn server_fixtures_decode_and_reencode_to_the_same_json() {
    for fixture in load("server") {
        let name = &fixture.stem;
        let frame = ServerFrame::decode(&fixture.text)
            .unwrap_or_else(|e| panic!("server fixture {name} does not decode: {e:?}"));
        assert_eq!(frame.type_name(), fixture_type(&fixture), "fixture {name}");

        let json = frame.to_json();
        assert!(
            !json.contains('\n'),
            "fixture {name}: one frame is one line"
        );
        assert_eq!(
            parse_json(&json),
            value(&fixture),
            "fixture {name}: re-encoding changes the JSON"
        );
        assert_eq!(
            ServerFrame::decode(&json).as_ref(),
            Ok(&frame),
            "fixture {name}: decode(encode(x)) != x"
        );
    }
}

/// Checks that `dir` holds `<type>.json` for every type of `expected`, and no fixture of
/// a type outside it.
fn assert_one_fixture_per_type(dir: &str, expected: &[&str]) {
    let fixtures = load(dir);
    let stems: BTreeSet<&str> = fixtures.iter().map(|f| f.stem.as_str()).collect();
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|t| !stems.contains(t))
        .collect();
    assert!(
        missing.is_empty(),
        "tests/fixtures/{dir}/ lacks a fixture for {missing:?}"
    );

    let expected: BTreeSet<&str> = expected.iter().copied().collect();
    let found: BTreeSet<String> = fixtures.iter().map(fixture_type).collect();
    let found: BTreeSet<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(
        found, expected,
        "the frame types of tests/fixtures/{dir}/ differ from the spec's"
    );
}

#[test]
fn every_client_frame_type_of_the_spec_has_a_fixture() {
    assert_one_fixture_per_type("client", &CLIENT_TYPES);
}

#[test]
fn every_server_frame_type_of_the_spec_has_a_fixture() {
    assert_one_fixture_per_type("server", &SERVER_TYPES);
}

/// The variants serde knows for an internally tagged enum, read from its "unknown
/// variant" error: `unknown variant `x`, expected one of `a`, `b`, ...`.
fn serde_variants(err: &serde_json::Error) -> BTreeSet<String> {
    let msg = err.to_string();
    let (_, list) = msg
        .split_once("expected one of")
        .unwrap_or_else(|| panic!("unexpected serde message: {msg}"));
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Ties the spec's lists (and so the fixture directories) to the enums: a new variant
/// makes this fail until it is added to the list and given a fixture.
#[test]
fn the_enums_have_exactly_the_spec_frame_types() {
    let probe = r#"{"type":"no-such-frame"}"#;
    let client_err = serde_json::from_str::<ClientFrame>(probe).expect_err("unknown type");
    let server_err = serde_json::from_str::<ServerFrame>(probe).expect_err("unknown type");
    let spec_client: BTreeSet<String> = CLIENT_TYPES.iter().map(|s| s.to_string()).collect();
    let spec_server: BTreeSet<String> = SERVER_TYPES.iter().map(|s| s.to_string()).collect();
    assert_eq!(serde_variants(&client_err), spec_client);
    assert_eq!(serde_variants(&server_err), spec_server);
}

/// The decoder's own list of known types (which tells a bad frame from an unknown one)
/// holds every type, and nothing of the other direction.
#[test]
fn the_decoder_knows_every_type_of_its_direction_only() {
    for t in CLIENT_TYPES {
        match ClientFrame::decode(&format!(r#"{{"type":"{t}","ref":77}}"#)) {
            // `ping` has no required field, everything else lacks one.
            Ok(frame) => assert_eq!(frame.type_name(), "ping"),
            Err(e) => {
                assert_eq!(e.kind, DecodeErrorKind::Shape, "client type {t}: {e:?}");
                assert_eq!(e.reference, Some(77), "client type {t}");
            }
        }
        if !SERVER_TYPES.contains(&t) {
            let e = ServerFrame::decode(&format!(r#"{{"type":"{t}","ref":3}}"#))
                .expect_err("client-only type sent to a client");
            assert_eq!(e.kind, DecodeErrorKind::UnknownType(t.to_owned()));
            assert_eq!(e.reference, Some(3));
        }
    }
    for t in SERVER_TYPES {
        match ServerFrame::decode(&format!(r#"{{"type":"{t}","ref":78}}"#)) {
            // `ack` needs only its `ref`, everything else lacks a field.
            Ok(frame) => assert_eq!(frame, ServerFrame::Ack { r#ref: 78 }),
            Err(e) => {
                assert_eq!(e.kind, DecodeErrorKind::Shape, "server type {t}: {e:?}");
                assert_eq!(e.reference, Some(78), "server type {t}");
            }
        }
        if !CLIENT_TYPES.contains(&t) {
            let e = ClientFrame::decode(&format!(r#"{{"type":"{t}","ref":4}}"#))
                .expect_err("server-only type sent to the server");
            assert_eq!(e.kind, DecodeErrorKind::UnknownType(t.to_owned()));
            assert_eq!(e.reference, Some(4));
        }
    }
}

#[test]
fn the_hello_token_never_shows_in_debug_output() {
    let fixture = load("client")
        .into_iter()
        .find(|f| f.stem == "hello")
        .expect("hello fixture");
    let token = value(&fixture)["token"].as_str().expect("token").to_owned();
    let frame = ClientFrame::decode(&fixture.text).expect("hello decodes");
    let debug = format!("{frame:?}");
    assert!(!debug.contains(&token), "token leaked: {debug}");
    assert!(debug.contains("Secret(..)"), "{debug}");
    // ...but it is still sent on the wire.
    assert!(frame.to_json().contains(&token));
}
