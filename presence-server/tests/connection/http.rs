//! The HTTP routes next to the WebSocket: health, metrics, development tokens.

use super::*;

/// Development mode: no secret, `--dev`.
fn dev_mode(c: &mut Config) {
    c.jwt_secret = None;
    c.dev = true;
}

#[tokio::test]
async fn health_and_readiness_answer_200() {
    let server = TestServer::start().await;
    let (status, body) = http_get(server.addr, "/healthz").await;
    assert_eq!((status, body.trim()), (200, "ok"));
    let (status, body) = http_get(server.addr, "/readyz").await;
    assert_eq!((status, body.trim()), (200, "ready"));
    let (status, _) = http_get(server.addr, "/no-such-route").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn metrics_show_connections_and_inbound_frames() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    expect_still_open(&mut alice, 1).await;
    alice.join("room").await;
    let (status, body) = http_get(server.addr, "/metrics").await;
    assert_eq!(status, 200, "{body}");
    let sample = |name: &str| -> Option<f64> {
        body.lines()
            .filter(|l| !l.starts_with('#'))
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    // Other tests in this process share the recorder: only lower bounds hold.
    let connections = sample("presence_connections ").expect("presence_connections gauge");
    assert!(connections >= 1.0, "presence_connections {connections}");
    let pings = sample("presence_frames_in_total{type=\"ping\"}").expect("ping frames counter");
    assert!(pings >= 1.0);
    let joins = sample("presence_frames_in_total{type=\"join\"}").expect("join frames counter");
    assert!(joins >= 1.0);
}

#[tokio::test]
async fn development_mode_mints_tokens_that_work_for_hello() {
    let server = TestServer::with(dev_mode).await;
    let (status, body) = http_post_json(
        server.addr,
        "/dev/token",
        &json!({"user": "alice", "name": "Alice"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let minted = answer["token"].as_str().expect("a token string");
    let alice = server.client_with(minted).await;
    let Some(ServerFrame::Welcome { user, .. }) = &alice.welcome else {
        unreachable!()
    };
    assert_eq!((user.id.as_str(), user.name.as_str()), ("alice", "Alice"));
    // Tokens signed with the harness secret mean nothing to a development server.
    hello_is_refused(&server, &token("alice"), 4401).await;
}

#[tokio::test]
async fn development_token_is_not_accepted_by_a_server_with_a_secret() {
    let dev = TestServer::with(dev_mode).await;
    let (status, body) = http_post_json(dev.addr, "/dev/token", &json!({"user": "alice"})).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let minted = answer["token"].as_str().unwrap().to_owned();
    let real = TestServer::start().await;
    hello_is_refused(&real, &minted, 4401).await;
}

#[tokio::test]
async fn token_route_does_not_exist_when_a_secret_is_set() {
    let server = TestServer::start().await;
    let (status, _) = http_post_json(
        server.addr,
        "/dev/token",
        &json!({"user": "alice", "name": "Alice"}),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn token_route_refuses_bad_bodies_with_a_json_error() {
    let server = TestServer::with(dev_mode).await;
    let check = |status: u16, body: &str| {
        assert_eq!(status, 400, "{body}");
        let answer: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("the error body is not JSON ({e}): {body}"));
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "no error message: {body}");
    };
    let (status, body) = http_post_json(
        server.addr,
        "/dev/token",
        &json!({"user": "a b", "name": "A"}),
    )
    .await;
    check(status, &body);
    let (status, body) = http_post_json(server.addr, "/dev/token", &json!({"name": "A"})).await;
    check(status, &body);
    let (status, body) = http_request(
        server.addr,
        "POST",
        "/dev/token",
        Some("{not json".to_owned()),
    )
    .await;
    check(status, &body);
}

#[tokio::test]
async fn without_a_secret_the_server_needs_dev_to_start() {
    let no_secret = Config {
        jwt_secret: None,
        ..common::test_config()
    };
    let result = presence_server::build(no_secret, "127.0.0.1:8080".parse().unwrap()).await;
    assert!(
        matches!(result, Err(StartError::Config(ConfigError::NoSecret))),
        "{result:?}"
    );
}

#[tokio::test]
async fn token_route_refuses_requests_that_came_through_a_proxy() {
    let server = TestServer::with(dev_mode).await;
    let body = r#"{"user":"alice"}"#;
    for header in [
        "Forwarded: for=192.0.2.60;proto=https",
        "X-Forwarded-For: 192.0.2.60",
        "X-Forwarded-Host: example.com",
        "X-Forwarded-Proto: https",
        "x-forwarded-port: 443",
    ] {
        let request = format!(
            "POST /dev/token HTTP/1.1\r\nHost: {}\r\n{header}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            server.addr,
            body.len()
        );
        let raw = raw_exchange(server.addr, &request).await;
        let status = raw.split_whitespace().nth(1).unwrap_or_default();
        assert_eq!(status, "403", "{header}: {raw}");
        let json = raw.split("\r\n\r\n").nth(1).unwrap_or_default();
        let answer: Value = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("{header}: the refusal is not JSON ({e}): {raw}"));
        assert!(
            answer["error"]
                .as_str()
                .unwrap_or_default()
                .contains("proxy"),
            "{header}: {raw}"
        );
        assert!(!raw.contains("\"token\""), "{header}: {raw}");
    }
    // The same request without the header gets its token.
    let (status, answer) =
        http_post_json(server.addr, "/dev/token", &json!({"user": "alice"})).await;
    assert_eq!(status, 200, "{answer}");
    let (_, metrics) = http_get(server.addr, "/metrics").await;
    let refused = metrics
        .lines()
        .find(|l| l.starts_with("presence_dev_token_forwarded_total "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(
        refused >= 5.0,
        "presence_dev_token_forwarded_total {refused}"
    );
}

#[tokio::test]
async fn development_mode_refuses_to_listen_on_a_public_address() {
    let dev = || Config {
        jwt_secret: None,
        dev: true,
        ..common::test_config()
    };
    for public in ["0.0.0.0:8080", "[::]:8080", "192.0.2.1:8080"] {
        let result = presence_server::build(dev(), public.parse().unwrap()).await;
        assert!(
            matches!(
                result,
                Err(StartError::Config(ConfigError::PublicBindWithoutSecret(_)))
            ),
            "{public}: {result:?}"
        );
    }
    // Loopback is development mode's home; a secret makes any address fine.
    assert!(
        presence_server::build(dev(), "127.0.0.1:8080".parse().unwrap())
            .await
            .is_ok()
    );
    assert!(
        presence_server::build(common::test_config(), "0.0.0.0:8080".parse().unwrap())
            .await
            .is_ok()
    );
}

/// One raw HTTP/1.1 exchange over a real socket: the whole response, headers included.
async fn raw_exchange(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    tokio::time::timeout(common::WAIT, stream.read_to_string(&mut raw))
        .await
        .unwrap()
        .unwrap();
    raw
}

/// The value of a response header (names compared without case), if present.
fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn preflight(addr: std::net::SocketAddr, origin: &str) -> String {
    format!(
        "OPTIONS /dev/token HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\n\
         Access-Control-Request-Method: POST\r\n\
         Access-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n"
    )
}

fn token_post(addr: std::net::SocketAddr, origin: &str) -> String {
    let body = r#"{"user":"alice"}"#;
    format!(
        "POST /dev/token HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The preflight's and the POST's answers to `origin` on a development-mode server.
async fn cors_answers(server: &TestServer, origin: &str) -> (String, String) {
    let preflight = raw_exchange(server.addr, &preflight(server.addr, origin)).await;
    let post = raw_exchange(server.addr, &token_post(server.addr, origin)).await;
    (preflight, post)
}

#[tokio::test]
async fn token_route_answers_cors_for_loopback_origins_in_development_mode() {
    let server = TestServer::with(dev_mode).await;
    for origin in [
        "http://localhost:5173",
        "http://127.0.0.1:3000",
        "http://[::1]:8081",
        "http://localhost",
    ] {
        let (raw, post) = cors_answers(&server, origin).await;
        let status = raw.split_whitespace().nth(1).unwrap_or_default();
        assert!(status.starts_with('2'), "{origin}: preflight {raw}");
        assert_eq!(
            header(&raw, "access-control-allow-origin"),
            Some(origin),
            "{origin}: {raw}"
        );
        let methods = header(&raw, "access-control-allow-methods").unwrap_or_default();
        assert!(methods.contains("POST"), "{origin}: {raw}");
        let headers = header(&raw, "access-control-allow-headers").unwrap_or_default();
        assert!(
            headers.to_ascii_lowercase().contains("content-type"),
            "{origin}: {raw}"
        );

        let raw = post;
        let status = raw.split_whitespace().nth(1).unwrap_or_default();
        assert_eq!(status, "200", "{origin}: {raw}");
        assert_eq!(
            header(&raw, "access-control-allow-origin"),
            Some(origin),
            "{origin}: {raw}"
        );
        assert!(raw.contains("\"token\""), "{origin}: {raw}");
    }
}

#[tokio::test]
async fn token_route_sends_no_cors_for_other_origins() {
    let server = TestServer::with(dev_mode).await;
    for origin in [
        "https://example.com",
        "http://example.com:5173",
        "http://localhost.example.com:5173",
        "http://127.0.0.1.nip.io:3000",
        "https://localhost:5173",
        "http://localhost:5173@example.com",
        "http://localhost:99999999",
        "null",
    ] {
        let (preflight, post) = cors_answers(&server, origin).await;
        for raw in [preflight, post] {
            assert_eq!(
                header(&raw, "access-control-allow-origin"),
                None,
                "{origin}: {raw}"
            );
        }
    }
}

#[tokio::test]
async fn no_cors_and_no_token_route_outside_development_mode() {
    let server = TestServer::start().await;
    let origin = "http://localhost:5173";
    let raw = raw_exchange(server.addr, &preflight(server.addr, origin)).await;
    let status = raw.split_whitespace().nth(1).unwrap_or_default();
    assert_eq!(status, "404", "{raw}");
    assert_eq!(header(&raw, "access-control-allow-origin"), None, "{raw}");
    let raw = raw_exchange(server.addr, &token_post(server.addr, origin)).await;
    assert_eq!(header(&raw, "access-control-allow-origin"), None, "{raw}");
    // Nor on the other routes, in development mode or not.
    let dev = TestServer::with(dev_mode).await;
    let raw = raw_exchange(
        dev.addr,
        &format!(
            "GET /healthz HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n",
            dev.addr
        ),
    )
    .await;
    assert_eq!(header(&raw, "access-control-allow-origin"), None, "{raw}");
}
