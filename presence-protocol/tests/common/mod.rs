//! Helpers shared by the integration tests: loading the JSON fixtures.

// Each test crate that includes this module uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;

/// One fixture file: its name without `.json` and its text.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub stem: String,
    pub text: String,
}

/// The frame types of `docs/protocol.md`, client → server.
pub const CLIENT_TYPES: [&str; 12] = [
    "hello",
    "ping",
    "activity",
    "set_status",
    "set_custom",
    "join",
    "leave",
    "watch",
    "unwatch",
    "query",
    "typing",
    "set_privacy",
];

/// The frame types of `docs/protocol.md`, server → client.
pub const SERVER_TYPES: [&str; 10] = [
    "welcome",
    "room_state",
    "room_count",
    "room_diff",
    "presence_state",
    "presence",
    "typing",
    "ack",
    "error",
    "pong",
];

/// `tests/fixtures/<dir>`.
pub fn fixture_dir(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(dir)
}

/// Every `*.json` file of `tests/fixtures/<dir>`, sorted by name. Panics when the
/// directory is missing or holds none, so an emptied directory cannot pass silently.
pub fn load(dir: &str) -> Vec<Fixture> {
    let path = fixture_dir(dir);
    let mut out: Vec<Fixture> = std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", path.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
        .map(|p| Fixture {
            stem: p
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("UTF-8 file name")
                .to_owned(),
            text: std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display())),
        })
        .collect();
    out.sort_by(|a, b| a.stem.cmp(&b.stem));
    assert!(!out.is_empty(), "no fixtures in {}", path.display());
    out
}

/// The fixture's text as a JSON value.
pub fn value(fixture: &Fixture) -> serde_json::Value {
    serde_json::from_str(&fixture.text)
        .unwrap_or_else(|e| panic!("fixture {} is not JSON: {e}", fixture.stem))
}
