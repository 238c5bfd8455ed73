//! The opening handshake (RFC 6455, section 4): an HTTP/1.1 upgrade request checked
//! and answered with `101 Switching Protocols`. No extensions (compression) and no
//! subprotocol are negotiated.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use hyper::upgrade::OnUpgrade;
use sha1::{Digest, Sha1};

/// Checks a WebSocket upgrade request (HTTP/1.1) and answers it: the `101` response,
/// and the future that yields the connection once the response is sent.
#[allow(clippy::result_large_err)] // the error is the response to send
pub fn accept(request: &mut Request<Body>) -> Result<(Response, OnUpgrade), Response> {
    let refuse = |status: StatusCode, message: &'static str| (status, message).into_response();
    if request.version() != Version::HTTP_11 {
        return Err(refuse(
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "WebSocket upgrades need HTTP/1.1\n",
        ));
    }
    if request.method() != Method::GET {
        return Err(refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "a WebSocket upgrade is a GET request\n",
        ));
    }
    let headers = request.headers();
    if !header_has_token(headers, &header::CONNECTION, "upgrade") {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "`Connection` header did not include `upgrade`\n",
        ));
    }
    if !header_has_token(headers, &header::UPGRADE, "websocket") {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "`Upgrade` header did not include `websocket`\n",
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v.as_bytes() != b"13")
    {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Version` header is not `13`\n",
        ));
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Key` header missing\n",
        ));
    };
    if !is_valid_key(key.as_bytes()) {
        crate::metrics::upgrade_refused("bad_key");
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Key` header is not the base64 of 16 bytes\n",
        ));
    }
    let accept = accept_key(key.as_bytes());
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        return Err(refuse(
            StatusCode::UPGRADE_REQUIRED,
            "this connection cannot be upgraded\n",
        ));
    };
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    Ok((response, on_upgrade))
}

fn header_has_token(headers: &HeaderMap, name: &header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// Whether a `Sec-WebSocket-Key` is what RFC 6455 (section 4.1) asks of it: the
/// base64 (with padding) of 16 bytes.
fn is_valid_key(key: &[u8]) -> bool {
    key.len() == 24
        && base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_ok_and(|k| k.len() == 16)
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455, section 4.2.2).
fn accept_key(key: &[u8]) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha1.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_the_rfc_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn a_key_must_be_the_base64_of_16_bytes() {
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        for bad in [
            &b"x"[..],
            b"",
            b"dGhlIHNhbXBsZSBub25jZQ",    // no padding
            b"dGhlIHNhbXBsZSBub25jZQ==x", // too long
            b"dGhlIHNhbXBsZSBub25jZR==",  // bits after the 16th byte
            b"dGhlIHNhbXBsZSBub25jZSE=",  // 17 bytes
            b"dGhlIHNhbXBsZSBub25j",      // 15 bytes
            b"dGhlIHNhbXBsZSBub25jZQ?=",  // not base64
        ] {
            assert!(!is_valid_key(bad), "{}", String::from_utf8_lossy(bad));
        }
    }
}
