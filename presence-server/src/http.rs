//! The HTTP routes: the WebSocket upgrade, health, readiness, metrics, and in
//! development mode the token route.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use presence_protocol::{validate_id, WS_PATH};
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Claims;
use crate::clock::now_ms;
use crate::service::Service;
use crate::session;

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
    if state.service.dev_mode || state.service.config.dev_tokens {
        router = router.route("/dev/token", post(dev_token));
    }
    if let Some(dir) = &state.service.config.static_dir {
        router = router.fallback_service(tower_http::services::ServeDir::new(dir));
    }
    router.with_state(state)
}

async fn ws(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let config = &state.service.config;
    // tungstenite's defaults (128 KiB read buffer, 128 KiB write buffer) would cost
    // far more per idle connection than the rest of the session. Frames here are small;
    // larger ones are refused anyway.
    let max_message = config.max_frame_bytes.saturating_mul(2).max(1024);
    upgrade
        .read_buffer_size(1024)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| {
            let tracker = state.sessions.clone();
            tracker.track_future(session::serve(socket, state.service, state.shutdown))
        })
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

async fn dev_token(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
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
