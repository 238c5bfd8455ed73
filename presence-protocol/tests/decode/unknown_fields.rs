//! Forward compatibility: unknown fields are ignored.

use super::*;

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
