//! The client's JSON codec against the protocol crate's own serde encoding, on every
//! fixture of `presence-protocol/tests/fixtures`: if the protocol changes a field, these
//! fail.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::*;
use presence_client::core::wire::{
    decode_custom, decode_server, encode_client, encode_me, encode_presence, encode_room,
    encode_strings, WireName,
};
use presence_client::core::{Input, Me};
use presence_client::protocol::{
    ActivityState, ChosenStatus, ClientFrame, CustomStatus, EffectiveStatus, ErrorCode,
    LastSeenApprox, LastSeenPrivacy, Presence, ServerFrame, UserInfo,
};
use serde_json::{json, Value};

fn fixtures(dir: &str) -> Vec<(String, String)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../presence-protocol/tests/fixtures")
        .join(dir);
    let mut out: Vec<(String, String)> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|entry| {
            let p = entry.unwrap().path();
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("bad JSON {text}: {e}"))
}

#[test]
fn every_server_fixture_decodes_as_the_protocol_crate_decodes_it() {
    let all = fixtures("server");
    assert!(all.len() >= 20, "fixtures found: {}", all.len());
    for (name, text) in all {
        let expected = ServerFrame::decode(&text)
            .unwrap_or_else(|e| panic!("{name}: the protocol crate refuses it: {e:?}"));
        let ours = decode_server(&J(parse(&text)));
        assert_eq!(ours.as_ref(), Some(&expected), "fixture {name}");
    }
}

#[test]
fn every_client_fixture_encodes_as_the_protocol_crate_encodes_it() {
    let all = fixtures("client");
    assert!(all.len() >= 20, "fixtures found: {}", all.len());
    for (name, text) in all {
        let frame = ClientFrame::decode(&text).unwrap();
        let ours = encode_client(&frame);
        assert!(!ours.contains('\n'), "{name}: one line");
        assert_eq!(
            parse(&ours),
            serde_json::to_value(&frame).unwrap(),
            "fixture {name}"
        );
        assert_eq!(ClientFrame::decode(&ours).unwrap(), frame, "fixture {name}");
    }
}

#[test]
fn presence_snapshots_are_the_wire_presence() {
    let mut p = online("bob");
    assert_eq!(
        parse(&encode_presence(&p)),
        serde_json::to_value(&p).unwrap()
    );
    p.status = EffectiveStatus::Offline;
    p.last_seen = Some(T0);
    p.last_seen_approx = Some(LastSeenApprox::LongAgo);
    p.custom = Some(CustomStatus {
        text: Some("Gone \"fishing\"\n\\ 🎣".into()),
        emoji: Some("🎣".into()),
        expires_at: Some(T0 + 1),
    });
    p.devices = 0;
    assert_eq!(
        parse(&encode_presence(&p)),
        serde_json::to_value(&p).unwrap()
    );
}

#[test]
fn every_enum_name_is_the_serde_name() {
    fn check<T: WireName + serde::Serialize + std::fmt::Debug>() {
        for v in T::ALL {
            assert_eq!(
                serde_json::to_value(v).unwrap(),
                Value::String(v.wire_name().into()),
                "{v:?}"
            );
            assert_eq!(
                T::from_wire_name(v.wire_name()).unwrap().wire_name(),
                v.wire_name()
            );
        }
        assert!(T::from_wire_name("nonsense").is_none());
    }
    check::<ActivityState>();
    check::<ChosenStatus>();
    check::<EffectiveStatus>();
    check::<LastSeenPrivacy>();
    check::<LastSeenApprox>();
    check::<ErrorCode>();
}

#[test]
fn strings_are_escaped_as_json_requires() {
    let nasty = "quote\" backslash\\ newline\n tab\t nul\u{0} bell\u{7} é 🍜 \u{1f}";
    let frame = ClientFrame::SetCustom {
        custom: Some(CustomStatus {
            text: Some(nasty.into()),
            emoji: None,
            expires_at: None,
        }),
        r#ref: Some(u64::from(u32::MAX) * 1_000),
    };
    let text = encode_client(&frame);
    assert_eq!(ClientFrame::decode(&text).unwrap(), frame);
    assert_eq!(
        parse(&encode_strings(&[nasty.into(), String::new()])),
        json!([nasty, ""])
    );
}

#[test]
fn what_this_version_does_not_understand_is_skipped() {
    for text in [
        r#"{"type":"brand_new_frame","x":1}"#,
        r#"{"no_type":true}"#,
        r#"{"type":"room_count","room":"r"}"#,
        r#"{"type":"presence","presence":{"user":"bob","status":"sleepy"}}"#,
        r#"{"type":"pong","server_time":-1}"#,
        r#"{"type":"pong","server_time":1.5}"#,
        r#"["welcome"]"#,
        r#""text""#,
    ] {
        assert_eq!(decode_server(&J(parse(text))), None, "{text}");
    }
}

#[test]
fn decoding_is_as_lenient_as_the_protocol_on_optional_fields() {
    // Unknown fields ignored, defaulted lists and an unknown error code.
    let frame = decode_server(&J(parse(
        r#"{"type":"room_diff","room":"r","extra":{"a":1}}"#,
    )));
    assert_eq!(
        frame,
        Some(ServerFrame::RoomDiff {
            room: "r".into(),
            joins: vec![],
            leaves: vec![],
            updates: vec![],
        })
    );
    let frame = decode_server(&J(parse(
        r#"{"type":"error","code":"from_the_future","message":"?"}"#,
    )));
    assert_eq!(
        frame,
        Some(ServerFrame::error(ErrorCode::Unknown, "?", None))
    );
    let p = decode_server(&J(parse(
        r#"{"type":"presence","presence":{"user":"bob","status":"away"}}"#,
    )));
    let expected: Presence = serde_json::from_value(json!({"user":"bob","status":"away"})).unwrap();
    assert_eq!(p, Some(ServerFrame::Presence { presence: expected }));
}

#[test]
fn the_custom_status_the_app_passes_is_read_like_the_wire_one() {
    let c = decode_custom(&J(json!({"text":"Lunch","emoji":"🍜","expires_at":5}))).unwrap();
    assert_eq!(
        c,
        CustomStatus {
            text: Some("Lunch".into()),
            emoji: Some("🍜".into()),
            expires_at: Some(5)
        }
    );
    assert!(decode_custom(&J(json!({"text": 5}))).is_none());
    assert!(decode_custom(&J(json!({"expires_at": "soon"}))).is_none());
}

#[test]
fn room_and_me_snapshots_have_the_documented_shape() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Join("lobby".into()));
    let r = join_ref(&h.sent(), "lobby");
    h.frame(room_state("lobby", &["bob", "alice"], &["bob"], r));
    let room = parse(&encode_room(h.core.room("lobby").unwrap()));
    assert_eq!(
        room,
        json!({
            "members": [
                serde_json::to_value(online("alice")).unwrap(),
                serde_json::to_value(online("bob")).unwrap(),
            ],
            "count": 2,
            "typing": ["bob"],
        })
    );

    let custom = CustomStatus {
        text: None,
        emoji: Some("🌴".into()),
        expires_at: None,
    };
    let user = UserInfo {
        id: "alice".into(),
        name: "Alice".into(),
    };
    let me = Me {
        user: Some(&user),
        status: ChosenStatus::Invisible,
        custom: Some(&custom),
        privacy: LastSeenPrivacy::Approximate,
        activity: ActivityState::Idle,
    };
    assert_eq!(
        parse(&encode_me(&me)),
        json!({
            "user": {"id": "alice", "name": "Alice"},
            "status": "invisible",
            "custom": {"emoji": "🌴"},
            "privacy": "approximate",
            "activity": "idle",
        })
    );
    let nobody = Me {
        user: None,
        custom: None,
        ..me
    };
    assert_eq!(parse(&encode_me(&nobody))["user"], Value::Null);
    assert_eq!(parse(&encode_me(&nobody))["custom"], Value::Null);
}
