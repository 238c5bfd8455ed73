//! Prometheus metrics, recorded with the `metrics` crate and rendered by
//! `metrics-exporter-prometheus` at `GET /metrics`. All names in one place.

use std::sync::OnceLock;

use metrics::{counter, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once; later servers in the same process, as
/// in tests, share it) and returns the handle that renders it.
pub(crate) fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new().install_recorder();
            if let Err(e) = &handle {
                tracing::warn!("metrics recorder not installed: {e}");
            }
            handle.ok()
        })
        .clone()
}

pub(crate) fn connection_opened() {
    gauge!("presence_connections").increment(1.0);
    counter!("presence_connections_total").increment(1);
}

pub(crate) fn connection_closed() {
    gauge!("presence_connections").decrement(1.0);
}

/// A user's public status went from offline to something else (+1) or back (-1).
pub(crate) fn users_online(delta: f64) {
    gauge!("presence_users_online").increment(delta);
}

pub(crate) fn local_rooms(n: usize) {
    gauge!("presence_rooms").set(n as f64);
}

pub(crate) fn frame_in(kind: &'static str) {
    counter!("presence_frames_in_total", "type" => kind).increment(1);
}

pub(crate) fn frame_out(kind: &'static str) {
    counter!("presence_frames_out_total", "type" => kind).increment(1);
}

pub(crate) fn error(code: &'static str) {
    counter!("presence_errors_total", "code" => code).increment(1);
}

pub(crate) fn rate_limited() {
    counter!("presence_rate_limited_total").increment(1);
}

pub(crate) fn closed_with(code: u16) {
    counter!("presence_closes_total", "code" => code.to_string()).increment(1);
}

/// A closing handshake gave up draining the client's bytes: over
/// `--close-drain-bytes` (`reason="bytes"`) or out of time (`reason="time"`).
pub(crate) fn close_drain_cut(reason: &'static str) {
    counter!("presence_close_drain_cut_total", "reason" => reason).increment(1);
}

/// An HTTP request to the WebSocket route refused before the upgrade, e.g. for a
/// `Sec-WebSocket-Key` that is not the base64 of 16 bytes (`reason="bad_key"`).
pub(crate) fn upgrade_refused(reason: &'static str) {
    counter!("presence_upgrades_refused_total", "reason" => reason).increment(1);
}

pub(crate) fn slow_client_killed() {
    counter!("presence_slow_clients_killed_total").increment(1);
}

/// One Redis step: its latency, and whether it failed.
pub(crate) fn redis_command(op: &'static str, elapsed: std::time::Duration, ok: bool) {
    metrics::histogram!("presence_redis_command_seconds", "op" => op).record(elapsed.as_secs_f64());
    if !ok {
        counter!("presence_redis_errors_total", "op" => op).increment(1);
    }
}

/// The link to Redis came back after failing.
pub(crate) fn redis_reconnected() {
    counter!("presence_redis_reconnects_total").increment(1);
}

/// Whether Redis answers (1) or not (0).
pub(crate) fn redis_up(up: bool) {
    gauge!("presence_redis_up").set(if up { 1.0 } else { 0.0 });
}

/// This node cleaned up after a dead node, closing `sessions` of its sessions.
pub(crate) fn node_swept(sessions: usize) {
    counter!("presence_lease_sweeps_total").increment(1);
    counter!("presence_sessions_swept_total").increment(sessions as u64);
}

/// A session's outbound queue went over its byte budget (`--outbound-queue-bytes`).
pub(crate) fn outbound_bytes_exceeded() {
    counter!("presence_outbound_bytes_exceeded_total").increment(1);
}

/// Bytes queued for all of this node's sessions.
pub(crate) fn outbound_bytes(bytes: usize) {
    gauge!("presence_outbound_bytes").set(bytes as f64);
}

/// A join refused because the node has too many bytes queued (`--node-outbound-bytes`).
pub(crate) fn join_refused_under_pressure() {
    counter!("presence_joins_refused_total", "reason" => "outbound_bytes").increment(1);
}

/// A connection closed for sending too many pings or pongs before `hello`.
pub(crate) fn pre_hello_frames_exceeded() {
    counter!("presence_pre_hello_frames_exceeded_total").increment(1);
}

/// A `typing:true` dropped by the per-user typing window (`--typing-window-ms`).
pub(crate) fn typing_dropped() {
    counter!("presence_typing_dropped_total").increment(1);
}

/// `POST /dev/token` refused a request that came through a proxy.
pub(crate) fn dev_token_forwarded() {
    counter!("presence_dev_token_forwarded_total").increment(1);
}

/// A connection was refused before the upgrade, for `reason`: `max_connections`,
/// `max_pre_hello` or `max_pre_hello_per_ip` (503), `max_request_head_bytes` (431).
pub(crate) fn connection_refused(reason: &'static str) {
    counter!("presence_connections_refused_total", "reason" => reason).increment(1);
}

/// Accepting failed for want of files or memory (EMFILE, ENFILE, …): one per backoff,
/// not per failed attempt.
pub(crate) fn accept_backoff() {
    counter!("presence_accept_backoffs_total").increment(1);
}
