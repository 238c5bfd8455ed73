//! The error kind of every kind of bad frame, with its `ref` kept for the answer:
//! not JSON, no type, an unknown type, a missing or wrongly typed field.

use super::*;

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
