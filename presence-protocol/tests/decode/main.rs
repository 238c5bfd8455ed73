//! Decoding: forward compatibility (unknown fields), the error kind of every kind of bad
//! frame (with its `ref` kept for the answer), a no-panic sweep over truncated and
//! mutated fixtures, and the small code tables (close codes, error codes, last seen).

#[path = "../common/mod.rs"]
mod common;

mod bounds;
mod code_tables;
mod error_kinds;
mod no_panic;
mod unknown_fields;

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
// Helpers of the error-kind tests
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
