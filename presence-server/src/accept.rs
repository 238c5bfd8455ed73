//! Before the upgrade: the accept loop, the header-read timeout, and admission (the caps
//! on open connections and on connections that have not finished `hello`, in total and
//! per source address).
//!
//! Measured before these bounds (release binary, default settings): 200 connections
//! that send a request head one byte a second were all still open after 32 s, and took
//! the server from 18 to 93 MB RSS; at an open-files limit of 1,024, about 1,100 TCP
//! connections that send nothing locked every new client out, and the accept loop
//! logged `Too many open files` over and over.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::server::conn::http1;
use hyper::service::{service_fn, Service as _};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics;

/// The bounds admission enforces (from the config).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) max_pre_hello: usize,
    pub(crate) max_pre_hello_per_ip: usize,
    pub(crate) header_read_timeout: Duration,
    /// hyper's read buffer, which bounds a request head (its default, about 400 KiB,
    /// is what each unfinished head of the measurement above held).
    pub(crate) max_request_head_bytes: usize,
}

/// Who is connected: every open connection, and those that have not finished `hello`
/// by source address. One short lock, never held across an await.
#[derive(Debug)]
pub(crate) struct Admission {
    limits: Limits,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    open: usize,
    pre_hello: usize,
    pre_hello_by_ip: HashMap<IpAddr, usize>,
}

/// Why a connection was refused (the `reason` label of its metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Connections,
    PreHello,
    PreHelloPerIp,
}

impl Refusal {
    fn reason(self) -> &'static str {
        match self {
            Refusal::Connections => "max_connections",
            Refusal::PreHello => "max_pre_hello",
            Refusal::PreHelloPerIp => "max_pre_hello_per_ip",
        }
    }
}

/// One admitted connection: counted as open while it lives, and as not past `hello`
/// until [`Ticket::hello_done`] or its end. The request of a connection carries it (as
/// an extension), so that the upgraded session keeps it.
#[derive(Debug)]
pub(crate) struct Ticket {
    admission: Arc<Admission>,
    ip: IpAddr,
    pre_hello: std::sync::atomic::AtomicBool,
}

impl Admission {
    pub(crate) fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            counts: Mutex::new(Counts::default()),
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Arc<Ticket>, Refusal> {
        let mut counts = self.counts();
        if counts.open >= self.limits.max_connections {
            return Err(Refusal::Connections);
        }
        if counts.pre_hello >= self.limits.max_pre_hello {
            return Err(Refusal::PreHello);
        }
        let from_ip = counts.pre_hello_by_ip.entry(ip).or_insert(0);
        if *from_ip >= self.limits.max_pre_hello_per_ip {
            return Err(Refusal::PreHelloPerIp);
        }
        *from_ip += 1;
        counts.pre_hello += 1;
        counts.open += 1;
        drop(counts);
        Ok(Arc::new(Ticket {
            admission: self.clone(),
            ip,
            pre_hello: std::sync::atomic::AtomicBool::new(true),
        }))
    }
}

impl Ticket {
    /// The session said `hello` and got its `welcome`: it no longer counts against the
    /// pre-`hello` caps.
    pub(crate) fn hello_done(&self) {
        if !self
            .pre_hello
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let mut counts = self.admission.counts();
        counts.pre_hello = counts.pre_hello.saturating_sub(1);
        if let Some(n) = counts.pre_hello_by_ip.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.pre_hello_by_ip.remove(&self.ip);
            }
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.hello_done();
        let mut counts = self.admission.counts();
        counts.open = counts.open.saturating_sub(1);
    }
}

/// The first pause after an accept error that is not about one connection (EMFILE,
/// ENFILE, ENOBUFS, ENOMEM), doubled on each further error up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Accepts connections until `stop` is cancelled, then shuts every HTTP connection down
/// gracefully and waits for them (at most `drain`). Upgraded WebSockets are not waited
/// for here: their sessions are.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    admission: Arc<Admission>,
    stop: CancellationToken,
    drain: Duration,
) {
    let connections = TaskTracker::new();
    // Set while accept fails for want of files or memory: one log line when it starts
    // and one when it ends, not one per attempt.
    let mut backoff: Option<(Duration, u64)> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        match accepted {
            Ok((tcp, peer)) => {
                if let Some((_, failures)) = backoff.take() {
                    tracing::info!("accepting connections again after {failures} failed accepts");
                }
                let ticket = admission.admit(peer.ip());
                connections.spawn(connection(
                    tcp,
                    router.clone(),
                    ticket,
                    admission.limits,
                    stop.clone(),
                ));
            }
            Err(e) if is_connection_error(&e) => {
                tracing::debug!("accept error: {e}");
            }
            Err(e) => {
                let delay = match &mut backoff {
                    None => {
                        tracing::warn!(
                            "cannot accept connections ({e}): backing off until it passes \
                             (the open-files limit, RLIMIT_NOFILE, is logged at start)"
                        );
                        metrics::accept_backoff();
                        backoff = Some((FIRST_BACKOFF, 1));
                        FIRST_BACKOFF
                    }
                    Some((delay, failures)) => {
                        *failures += 1;
                        *delay = (*delay * 2).min(MAX_BACKOFF);
                        *delay
                    }
                };
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = stop.cancelled() => break,
                }
            }
        }
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(drain, connections.wait())
        .await
        .is_err()
    {
        tracing::debug!("some HTTP connections did not finish within {drain:?}");
    }
}

/// Errors about one connection that the next accept does not repeat.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionAborted
            | ErrorKind::ConnectionReset
            | ErrorKind::Interrupted
            | ErrorKind::WouldBlock
    )
}

/// Serves one TCP connection: the router for an admitted one (its ticket in every
/// request), a 503 for a refused one. Either way the request head must arrive within
/// the header-read timeout.
async fn connection(
    tcp: TcpStream,
    router: Router,
    ticket: Result<Arc<Ticket>, Refusal>,
    limits: Limits,
    stop: CancellationToken,
) {
    // Frames go out as soon as they are written: without TCP_NODELAY, a frame that
    // follows another before the client's (delayed) ACK would wait for it, up to 40 ms.
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!("cannot set TCP_NODELAY: {e}");
    }
    let io = TokioIo::new(tcp);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_request_head_bytes.max(8192));
    let result = match ticket {
        Ok(ticket) => {
            let router = TowerToHyperService::new(router);
            let service = service_fn(move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ticket.clone());
                router.call(request)
            });
            let conn = builder.serve_connection(io, service).with_upgrades();
            drive(conn, &stop).await
        }
        Err(refusal) => {
            metrics::connection_refused(refusal.reason());
            builder.keep_alive(false);
            let service = service_fn(move |_request: Request<hyper::body::Incoming>| {
                std::future::ready(Ok::<_, Infallible>(refused(refusal)))
            });
            let conn = builder.serve_connection(io, service);
            drive(conn, &stop).await
        }
    };
    if let Err(e) = result {
        if e.is_parse_too_large() {
            // hyper answered 431.
            metrics::connection_refused("max_request_head_bytes");
        }
        tracing::debug!("HTTP connection ended: {e}");
    }
}

/// Polls `conn` to its end; once `stop` is cancelled, asks it to finish gracefully.
async fn drive<C>(conn: C, stop: &CancellationToken) -> Result<(), hyper::Error>
where
    C: std::future::Future<Output = Result<(), hyper::Error>> + GracefulConn,
{
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => return result,
        () = stop.cancelled() => {}
    }
    conn.as_mut().shutdown_gracefully();
    conn.await
}

/// hyper's two HTTP/1 connection types (plain and with upgrades) share no trait for
/// their graceful shutdown.
trait GracefulConn {
    fn shutdown_gracefully(self: std::pin::Pin<&mut Self>);
}

impl<I, S> GracefulConn for http1::Connection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn shutdown_gracefully(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S> GracefulConn for http1::UpgradeableConnection<I, S>
where
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn shutdown_gracefully(self: std::pin::Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// The answer to a refused connection, before any upgrade: 503, and the connection
/// closes after it.
fn refused(refusal: Refusal) -> Response {
    let message = match refusal {
        Refusal::Connections => "too many connections: try again later\n",
        Refusal::PreHello => "too many connections waiting for hello: try again later\n",
        Refusal::PreHelloPerIp => {
            "too many connections from your address waiting for hello: try again later\n"
        }
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1"), (header::CONNECTION, "close")],
        message,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(max_connections: usize, max_pre_hello: usize, per_ip: usize) -> Arc<Admission> {
        Admission::new(Limits {
            max_connections,
            max_pre_hello,
            max_pre_hello_per_ip: per_ip,
            header_read_timeout: Duration::from_secs(1),
            max_request_head_bytes: 8192,
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| unreachable!())
    }

    #[test]
    fn hello_frees_the_pre_hello_slot_and_the_end_frees_the_connection() {
        let gate = admission(2, 10, 1);
        let a = gate.admit(ip("192.0.2.1")).ok();
        assert!(a.is_some());
        assert_eq!(
            gate.admit(ip("192.0.2.1")).err(),
            Some(Refusal::PreHelloPerIp)
        );
        if let Some(a) = &a {
            a.hello_done();
            a.hello_done(); // once only
        }
        let b = gate.admit(ip("192.0.2.1")).ok();
        assert!(b.is_some());
        assert_eq!(
            gate.admit(ip("192.0.2.2")).err(),
            Some(Refusal::Connections)
        );
        drop(a);
        assert!(gate.admit(ip("192.0.2.2")).is_ok());
        drop(b);
        let counts = gate.counts();
        assert_eq!((counts.open, counts.pre_hello), (0, 0));
        assert!(counts.pre_hello_by_ip.is_empty());
    }

    #[test]
    fn the_total_pre_hello_cap_spans_addresses() {
        let gate = admission(10, 2, 5);
        let _a = gate.admit(ip("192.0.2.1"));
        let _b = gate.admit(ip("192.0.2.2"));
        assert_eq!(gate.admit(ip("192.0.2.3")).err(), Some(Refusal::PreHello));
    }
}
