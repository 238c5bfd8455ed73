//! The small code tables: close codes, last seen buckets, error codes.

use super::*;

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
        (ErrorCode::Busy, "busy"),
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
