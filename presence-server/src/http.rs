//! The HTTP routes: the WebSocket upgrade, health, readiness, metrics, and in
//! development mode the token route.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::PrometheusHandle;
use presence_protocol::{validate_id, WS_PATH};
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accept::Ticket;
use crate::auth::Claims;
use crate::clock::now_ms;
use crate::service::Service;
use crate::session;
use crate::ws;

/// What the routes share.
#[derive(Debug, Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    pub metrics: Option<PrometheusHandle>,
    /// Cancelled at shutdown: every session closes with 1012.
    pub shutdown: CancellationToken,
    /// Tracks session tasks so shutdown can wait for their close frames.
    pub sessions: TaskTracker,
}

/// The router. Tests can use it without a socket; [`crate::run`] serves it.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route(WS_PATH, get(ws))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(render_metrics));
    let config = &state.service.config;
    if state.service.dev_mode || config.dev || config.dev_tokens {
        router = router.route("/dev/token", post(dev_token).layer(dev_token_cors()));
    }
    if let Some(dir) = &state.service.config.static_dir {
        router = router.fallback_service(tower_http::services::ServeDir::new(dir));
    }
    router.with_state(state)
}

async fn ws(State(state): State<AppState>, mut request: Request) -> Response {
    let (response, on_upgrade) = match ws::accept(&mut request) {
        Ok(accepted) => accepted,
        Err(refusal) => return refusal,
    };
    let ticket = request.extensions_mut().remove::<Arc<Ticket>>();
    drop(request);
    let AppState {
        service,
        shutdown,
        sessions,
        ..
    } = state;
    sessions.spawn(async move {
        // Resolves once the 101 response is out.
        let live = match on_upgrade.await {
            Ok(upgraded) => session::Live::new(TokioIo::new(upgraded), service, shutdown),
            Err(e) => {
                tracing::debug!("WebSocket upgrade failed: {e}");
                return;
            }
        };
        session::serve(live, || {
            if let Some(ticket) = &ticket {
                ticket.hello_done();
            }
        })
        .await;
        // The connection counts as open until its session ends.
        drop(ticket);
    });
    response
}

async fn ready(State(state): State<AppState>) -> Response {
    if state.service.ready().await {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
    }
}

async fn render_metrics(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(handle) => (
            [("content-type", "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not installed\n",
        )
            .into_response(),
    }
}

/// CORS for `POST /dev/token`, which exists in development mode only (loopback binds):
/// a page on its own development server (Vite's `http://localhost:5173`, Next.js's
/// `http://localhost:3000`) may fetch a token from the presence-server without a proxy.
/// The preflight is answered and `Access-Control-Allow-Origin` sent for loopback
/// origins only; any other origin gets no CORS header, so its page cannot read the
/// answer. No credentials: the route reads no cookie.
fn dev_token_cors() -> tower_http::cors::CorsLayer {
    use axum::http::{header, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|origin, _| {
            origin.to_str().is_ok_and(is_loopback_origin)
        }))
        .allow_methods([Method::POST])
        .allow_headers([header::CONTENT_TYPE])
}

/// `http://localhost`, `http://127.0.0.1` or `http://[::1]`, with or without a port: the
/// origins of pages served from this machine. Nothing else: not https (a development
/// server with TLS is rare and can use a proxy), not a name that merely starts so
/// (`localhost.example.com`), not userinfo or a path.
fn is_loopback_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    let port = ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .find_map(|host| rest.strip_prefix(host));
    match port {
        Some("") => true,
        Some(port) => port.strip_prefix(':').is_some_and(|p| {
            !p.is_empty()
                && p.len() <= 5
                && p.parse::<u16>().is_ok()
                && p.bytes().all(|b| b.is_ascii_digit())
        }),
        None => false,
    }
}

/// The body of `POST /dev/token`.
#[derive(Debug, Deserialize)]
struct DevTokenRequest {
    user: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    rooms: Option<Vec<String>>,
    #[serde(default)]
    watch: Option<Vec<String>>,
    /// Lifetime in seconds (default one day).
    #[serde(default)]
    ttl_s: Option<u64>,
}

/// Whether a request came through a proxy that says so (`Forwarded`, `X-Forwarded-*`).
/// Development mode binds loopback only, but a same-host reverse proxy to 127.0.0.1 would
/// hand its tokens to anyone who can reach the proxy.
fn forwarded(headers: &axum::http::HeaderMap) -> bool {
    headers.keys().any(|name| {
        let name = name.as_str(); // lower case
        name == "forwarded" || name.starts_with("x-forwarded-")
    })
}

async fn dev_token(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if forwarded(&headers) {
        crate::metrics::dev_token_forwarded();
        return (
            StatusCode::FORBIDDEN,
            Json(json!({
                "error": "POST /dev/token does not answer requests that came through a proxy \
                          (Forwarded or X-Forwarded-* header): development tokens are for \
                          local use only"
            })),
        )
            .into_response();
    }
    let bad = |message: String| {
        (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
    };
    // Any content type: `curl -d '{"user":"alice"}'` sends a form type by default.
    let req: DevTokenRequest = match serde_json::from_slice(&body) {
        Ok(req) => req,
        Err(e) => {
            return bad(format!(
                r#"expected JSON such as {{"user":"alice","name":"Alice"}}: {e}"#
            ))
        }
    };
    if let Err(e) = validate_id("user", &req.user) {
        return bad(e.to_string());
    }
    let ttl_s = req.ttl_s.unwrap_or(24 * 3600).clamp(1, 30 * 24 * 3600);
    let exp = now_ms() / 1000 + ttl_s;
    let claims = Claims {
        sub: req.user,
        name: req.name,
        exp,
        rooms: req.rooms,
        watch: req.watch,
    };
    match state.service.auth.sign(&claims) {
        Ok(token) => Json(json!({ "token": token, "expires_at": exp * 1000 })).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("signing failed: {e}\n"),
        )
            .into_response(),
    }
}
