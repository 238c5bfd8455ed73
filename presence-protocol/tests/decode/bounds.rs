//! The error kinds of values out of bounds: ids, user lists, custom status, hello
//! labels, nesting.

use super::*;

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
