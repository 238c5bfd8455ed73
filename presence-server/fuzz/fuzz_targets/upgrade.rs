//! The upgrade check on arbitrary requests: method, version and headers from the
//! input. It must not panic; a `101` must carry the accept key of a key that is the
//! base64 of 16 bytes.
#![no_main]

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let [m, v, rest @ ..] = input else {
        return;
    };
    let method = match m % 3 {
        0 => Method::GET,
        1 => Method::POST,
        _ => Method::CONNECT,
    };
    let version = match v % 3 {
        0 => Version::HTTP_11,
        1 => Version::HTTP_10,
        _ => Version::HTTP_2,
    };
    let mut builder = Request::builder()
        .method(method)
        .version(version)
        .uri("/v1/ws");
    // Header lines `name: value`, one per line; names cut short pick the common ones.
    for line in rest.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let name = match name {
            b"c" => header::CONNECTION.as_str().as_bytes(),
            b"u" => header::UPGRADE.as_str().as_bytes(),
            b"v" => header::SEC_WEBSOCKET_VERSION.as_str().as_bytes(),
            b"k" => header::SEC_WEBSOCKET_KEY.as_str().as_bytes(),
            other => other,
        };
        builder = builder.header(name, value);
    }
    let Ok(mut request) = builder.body(Body::empty()) else {
        return;
    };
    let key = request.headers().get(header::SEC_WEBSOCKET_KEY).cloned();
    // No `OnUpgrade` here: a request that passes every check is refused with 426.
    match presence_server::ws::accept(&mut request) {
        Ok(_) => unreachable!("no connection to upgrade"),
        Err(response) if response.status() == StatusCode::UPGRADE_REQUIRED => {
            let key = key.expect("a key was checked");
            assert_eq!(key.len(), 24, "{key:?}");
        }
        Err(_) => {}
    }
});
