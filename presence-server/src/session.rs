//! One task per WebSocket: the handshake (`hello` within the time limit), reading and
//! validating frames, writing what the session's bounded outbound queue holds, rate
//! limits, liveness (server pings, dead-connection detection), and the clean ends
//! (shutdown, slow client, abuse).
//!
//! Reading and writing are polled by the same task, from one `poll_fn`: a write that
//! waits on the socket does not stop the reading, the pings or the shutdown, and a
//! connection costs one task, not two (a second task, its join handle and a split
//! socket were a third of an idle session's memory). A write that waits longer than
//! the write timeout, or a queue that overflows, ends the session.

use std::future::{poll_fn, Future};
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use presence_protocol::{limits::MAX_BAD_FRAMES, ClientFrame, CloseCode, ErrorCode, ServerFrame};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics;
use crate::outbox::{Outbox, Take};
use crate::service::{Failure, Service, SessionCtx};
use crate::ws::{Conn, Incoming, Outgoing, ReadError};

/// Over-limit frames in a row (without one within the limit between them) after
/// which the connection is closed with 4429.
const RATE_ABUSE_FRAMES: u32 = 20;

/// How a session ended.
enum End {
    /// Close with this code and reason.
    Close(CloseCode, &'static str),
    /// The client sent a close frame (with this code): answer it.
    Closed(Option<u16>),
    /// The socket is gone or broken: nothing to send.
    Lost,
}

/// The upgraded connection.
pub(crate) type Io = TokioIo<Upgraded>;
pub(crate) type Socket = Conn<Io>;

/// What a session keeps for its whole life, in one allocation of its own.
///
/// Every idle session holds its task's future for as long as it lives, and an `async
/// fn` keeps a copy of each argument beside the local it was moved into (and a
/// moved-from local keeps its bytes). So the long-lived parts are boxed once, the
/// future holds the pointer, and what runs once (the handshake, a request, the end)
/// is boxed while it runs.
#[derive(Debug)]
pub(crate) struct Live {
    conn: Socket,
    out: Outbox,
    service: Arc<Service>,
    shutdown: CancellationToken,
    limiter: DefaultDirectRateLimiter,
}

impl Live {
    pub(crate) fn new(io: Io, service: Arc<Service>, shutdown: CancellationToken) -> Box<Self> {
        let max_message = service.config.max_frame_bytes.saturating_mul(2).max(1024);
        Box::new(Self {
            conn: Conn::new(io, max_message),
            out: Outbox::with_budget(
                service.config.outbound_queue,
                service.config.outbound_queue_bytes,
                service.outbound.clone(),
            ),
            limiter: rate_limiter(service.config.rate_per_sec, service.config.rate_burst),
            service,
            shutdown,
        })
    }
}

/// Serves one upgraded socket until it ends; `on_hello` runs once its `welcome` is
/// queued.
pub(crate) async fn serve(mut live: Box<Live>, on_hello: impl FnOnce()) {
    metrics::connection_opened();
    let mut ctx = match Box::pin(handshake(&mut live)).await {
        Ok(ctx) => {
            on_hello();
            ctx
        }
        Err(end) => {
            Box::pin(close(live, end)).await;
            metrics::connection_closed();
            return;
        }
    };
    // The server began to stop after the handshake but before the session was
    // registered where the stop reaches it.
    let end = if live.shutdown.is_cancelled() {
        End::Close(CloseCode::Restarting, "server restarting")
    } else {
        run(&mut live, &mut ctx).await
    };
    Box::pin(live.service.end(*ctx)).await;
    Box::pin(close(live, end)).await;
    metrics::connection_closed();
}

/// What the session's task was woken for.
enum Event {
    Message(Result<Incoming, ReadError>),
    /// The outbound queue overflowed.
    Killed,
    /// The server is shutting down.
    Stopped,
    /// A write began to wait on the socket.
    WriteBlocked,
    /// The socket refused a write.
    WriteFailed,
}

/// Writes what is queued, then reads. `blocked` is when the write in progress began to
/// wait on the socket, if it does.
fn poll_event(
    conn: &mut Socket,
    out: &Outbox,
    blocked: &mut Option<Instant>,
    cx: &mut Context<'_>,
) -> Poll<Event> {
    out.register(cx.waker());
    if out.is_killed() {
        return Poll::Ready(Event::Killed);
    }
    if out.is_stopped() {
        return Poll::Ready(Event::Stopped);
    }
    match poll_send(conn, out, cx, || *blocked = None) {
        Poll::Ready(Ok(_)) => {}
        Poll::Ready(Err(_)) => return Poll::Ready(Event::WriteFailed),
        Poll::Pending if blocked.is_none() => {
            *blocked = Some(Instant::now());
            return Poll::Ready(Event::WriteBlocked);
        }
        Poll::Pending => {}
    }
    conn.poll_next(cx).map(Event::Message)
}

/// Before `hello`: writes what is queued (the answers to pings), then reads.
fn poll_before_hello(
    conn: &mut Socket,
    out: &Outbox,
    cx: &mut Context<'_>,
) -> Poll<Result<Incoming, ReadError>> {
    out.register(cx.waker());
    if let Poll::Ready(Err(_)) = poll_send(conn, out, cx, || {}) {
        return Poll::Ready(Err(ReadError::Lost));
    }
    conn.poll_next(cx)
}

/// Moves what the outbox holds into the connection and writes it, batch after batch;
/// `written` is called each time a batch is out. Ready once nothing is left to write,
/// with whether the outbox will give no more (finished or killed); pending while a
/// write waits on the socket. The caller registers its waker with the outbox.
fn poll_send(
    conn: &mut Socket,
    out: &Outbox,
    cx: &mut Context<'_>,
    mut written: impl FnMut(),
) -> Poll<std::io::Result<bool>> {
    loop {
        if !conn.has_unwritten() {
            match out.try_take() {
                Some(Take::Frames(frames)) => frames.iter().for_each(|f| conn.queue(f)),
                Some(Take::Finished | Take::Killed) => return Poll::Ready(Ok(true)),
                None => return Poll::Ready(Ok(false)),
            }
        }
        ready!(conn.poll_write(cx))?;
        written();
    }
}

/// Ends the connection: the close frame (behind what is queued, unless the session was
/// killed), the closing handshake, and the socket's shutdown.
async fn close(live: Box<Live>, end: End) {
    let Live {
        mut conn,
        out,
        service,
        ..
    } = *live;
    let (code, reason, read_to_close) = match end {
        End::Close(code, reason) => {
            metrics::closed_with(code.code());
            (code.code(), reason, true)
        }
        // The client closed: answer with its code, as the protocol asks.
        End::Closed(code) => (code.unwrap_or(CloseCode::Normal.code()), "", false),
        End::Lost => {
            out.finish();
            return;
        }
    };
    if out.is_killed() {
        // The queue is full, so a close frame queued behind it would never be sent:
        // send it ahead of everything (behind a frame half written), and give up
        // quickly.
        out.finish();
        conn.queue(&Outgoing::Close(code, reason));
        let _ =
            tokio::time::timeout(Duration::from_secs(1), poll_fn(|cx| conn.poll_write(cx))).await;
    } else {
        out.send_message(Outgoing::Close(code, reason));
        out.finish();
        // The closing handshake: write what is queued and the close frame, and read
        // (and drop) until the client's close, so the socket is not torn down with
        // unread bytes in it — the kernel would then reset the connection, and the
        // client could lose our close frame. After a read error the frames cannot be
        // decoded any more (a frame over the limit is refused from its header, and
        // its payload is still coming): then the bytes are drained, bounded by
        // `--close-drain-bytes`, until the client ends its side, which it does once
        // it has our close frame (and the FIN that follows it).
        let write_timeout = Duration::from_millis(service.config.write_timeout_ms);
        let mut sent = false;
        let mut read = !read_to_close;
        let mut drain = false;
        let mut shut = false;
        let mut budget = service.config.close_drain_bytes;
        let done = tokio::time::timeout(
            write_timeout.max(Duration::from_secs(2)),
            poll_fn(|cx| {
                if !sent {
                    out.register(cx.waker());
                    match poll_send(&mut conn, &out, cx, || {}) {
                        Poll::Ready(Ok(done)) => sent = done,
                        Poll::Ready(Err(_)) => return Poll::Ready(()),
                        Poll::Pending => {}
                    }
                }
                while !read && !drain {
                    match conn.poll_next(cx) {
                        Poll::Ready(Ok(Incoming::Close(_)) | Err(ReadError::Lost)) => read = true,
                        Poll::Ready(Err(_)) => drain = true,
                        Poll::Ready(Ok(_)) => {}
                        Poll::Pending => break,
                    }
                }
                if drain && !read {
                    // Once our close frame is out, end our side, so that the client sees
                    // the end after it; drop what it still sends until it ends too.
                    if sent && !shut && conn.poll_shutdown(cx).is_ready() {
                        shut = true;
                    }
                    if let Poll::Ready(ended) = conn.poll_drain(cx, &mut budget) {
                        if !ended {
                            metrics::close_drain_cut("bytes");
                        }
                        read = true;
                    }
                }
                if sent && read {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }),
        )
        .await;
        if done.is_err() && drain {
            metrics::close_drain_cut("time");
        }
        if shut {
            return;
        }
    }
    let _ =
        tokio::time::timeout(Duration::from_secs(1), poll_fn(|cx| conn.poll_shutdown(cx))).await;
}

/// Waits for `hello`, verifies the token and opens the session.
async fn handshake(live: &mut Live) -> Result<Box<SessionCtx>, End> {
    let Live {
        conn,
        out,
        service,
        shutdown,
        ..
    } = live;
    let out = &*out;
    let deadline = Instant::now() + Duration::from_millis(service.config.hello_timeout_ms);
    // Pings and pongs before `hello`: each ping is answered at once (written while
    // waiting for `hello`, not queued behind the `welcome`), and only a few are
    // accepted, so that they can never fill the queue the `welcome` goes into. 300
    // pings then a `hello` used to end in no `welcome`, a 1013 close, and a user that
    // watchers saw come online.
    let mut control_frames = 0u32;
    let text = loop {
        let message = tokio::select! {
            () = shutdown.cancelled() => return Err(End::Close(CloseCode::Restarting, "server restarting")),
            () = sleep_until(deadline) => {
                send_error(out, ErrorCode::Unauthorized, "no hello in time", None);
                return Err(End::Close(CloseCode::HelloTimeout, "no hello in time"));
            }
            m = poll_fn(|cx| poll_before_hello(conn, out, cx)) => m,
        };
        if matches!(message, Ok(Incoming::Ping(_) | Incoming::Pong)) {
            control_frames += 1;
            if control_frames > service.config.max_pre_hello_frames {
                metrics::pre_hello_frames_exceeded();
                return Err(End::Close(
                    CloseCode::ProtocolAbuse,
                    "too many frames before hello",
                ));
            }
        }
        match message {
            Ok(Incoming::Text(text)) => break text,
            Ok(Incoming::Binary) => {
                send_error(
                    out,
                    ErrorCode::BadRequest,
                    "binary frames are not supported",
                    None,
                );
                return Err(End::Close(CloseCode::Unauthorized, "expected hello"));
            }
            Ok(Incoming::Ping(payload)) => out.send_message(Outgoing::Pong(payload)),
            Ok(Incoming::Pong) => {}
            Ok(Incoming::Close(code)) => return Err(End::Closed(code)),
            Err(e) => return Err(read_error(e)),
        }
    };
    if text.len() > service.config.max_frame_bytes {
        return Err(End::Close(CloseCode::FrameTooBig, "frame too big"));
    }
    let (token, device) = match ClientFrame::decode(&text) {
        Ok(ClientFrame::Hello { token, device, .. }) => (token, device),
        Ok(other) => {
            send_error(
                out,
                ErrorCode::Unauthorized,
                format!(
                    "the first frame must be `hello`, got `{}`",
                    other.type_name()
                ),
                other.reference(),
            );
            return Err(End::Close(CloseCode::Unauthorized, "expected hello"));
        }
        Err(e) => {
            send_error(out, ErrorCode::BadRequest, e.message, e.reference);
            return Err(End::Close(CloseCode::Unauthorized, "expected hello"));
        }
    };
    metrics::frame_in("hello");
    let identity = match service.auth.verify(&token.0) {
        Ok(identity) => identity,
        Err(message) => {
            send_error(out, ErrorCode::Unauthorized, message, None);
            return Err(End::Close(CloseCode::Unauthorized, "unauthorized"));
        }
    };
    // Without a label the session can never be resumed by another: a made-up label
    // that no other client has.
    let device = device.unwrap_or_else(|| format!("anonymous-{}", rand::random::<u64>()));
    if out.is_killed() {
        // Never open a session whose `welcome` could not be sent: watchers would see
        // a user come online whose client never hears of it.
        return Err(End::Close(CloseCode::TryAgainLater, "client too slow"));
    }
    match Box::pin(service.open(identity, device, out.clone())).await {
        Ok((ctx, welcome)) => {
            out.send_frame(&welcome);
            tracing::debug!(user = %ctx.identity.user, session = %ctx.session, "session opened");
            Ok(Box::new(ctx))
        }
        Err(f) => {
            send_error(out, f.code, f.message, None);
            Err(End::Close(
                if f.code == ErrorCode::TooMany {
                    CloseCode::PolicyViolation
                } else {
                    CloseCode::Restarting
                },
                "session refused",
            ))
        }
    }
}

/// The session's main loop, after `welcome`.
async fn run(live: &mut Live, ctx: &mut SessionCtx) -> End {
    // Each local here is a field of every idle session's future: durations are read
    // from the configuration where they are used, and the rest lives in `live`.
    let mut over_limit_streak = 0u32;
    let mut bad_frames = 0u32;
    let mut last_inbound = Instant::now();
    let mut next_ping = last_inbound + ms(live.service.config.ping_interval_ms);
    let mut blocked: Option<Instant> = None;
    // One timer for the pings, the dead-connection check and a write that waits too
    // long. It is not moved when a frame comes in (that would cost a timer update per
    // frame): when it fires early, it is set again.
    let timer = sleep_until(deadline(
        &live.service.config,
        next_ping,
        last_inbound,
        blocked,
    ));
    tokio::pin!(timer);
    loop {
        // Only what the request's boxed future and its reference outlive this block:
        // the message, its text and the decoded frame do not stay in the future while
        // the request runs.
        let (reference, handled) = {
            let event = poll_fn(|cx| {
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                poll_event(&mut live.conn, &live.out, &mut blocked, cx).map(Some)
            })
            .await;
            let message = match event {
                None => {
                    let now = Instant::now();
                    if now >= last_inbound + ms(live.service.config.dead_after_ms) {
                        tracing::debug!(session = %ctx.session, "no frame or pong in time: dead");
                        return End::Lost;
                    }
                    if blocked.is_some_and(|since| {
                        now >= since + ms(live.service.config.write_timeout_ms)
                    }) {
                        // The peer does not take our bytes.
                        live.out.kill();
                        return End::Close(CloseCode::TryAgainLater, "client too slow");
                    }
                    if now >= next_ping {
                        live.out.send_message(Outgoing::Ping);
                        next_ping = now + ms(live.service.config.ping_interval_ms);
                    }
                    timer.as_mut().reset(deadline(
                        &live.service.config,
                        next_ping,
                        last_inbound,
                        blocked,
                    ));
                    continue;
                }
                Some(Event::Message(message)) => message,
                Some(Event::Killed) => {
                    return End::Close(CloseCode::TryAgainLater, "client too slow")
                }
                Some(Event::Stopped) => {
                    return End::Close(CloseCode::Restarting, "server restarting")
                }
                Some(Event::WriteFailed) => return End::Lost,
                Some(Event::WriteBlocked) => {
                    let at = deadline(&live.service.config, next_ping, last_inbound, blocked);
                    if at < timer.deadline() {
                        timer.as_mut().reset(at);
                    }
                    continue;
                }
            };
            let text = match message {
                Ok(Incoming::Text(text)) => text,
                Ok(Incoming::Binary) => {
                    last_inbound = Instant::now();
                    bad_frames += 1;
                    send_error(
                        &ctx.out,
                        ErrorCode::BadRequest,
                        "binary frames are not supported",
                        None,
                    );
                    if bad_frames >= MAX_BAD_FRAMES {
                        return End::Close(CloseCode::ProtocolAbuse, "too many bad frames");
                    }
                    continue;
                }
                Ok(Incoming::Ping(payload)) => {
                    last_inbound = Instant::now();
                    ctx.out.send_message(Outgoing::Pong(payload));
                    continue;
                }
                Ok(Incoming::Pong) => {
                    last_inbound = Instant::now();
                    continue;
                }
                Ok(Incoming::Close(code)) => return End::Closed(code),
                Err(e) => return read_error(e),
            };
            last_inbound = Instant::now();
            if text.len() > live.service.config.max_frame_bytes {
                return End::Close(CloseCode::FrameTooBig, "frame too big");
            }
            if live.limiter.check().is_err() {
                metrics::rate_limited();
                over_limit_streak += 1;
                if over_limit_streak == 1 {
                    send_error(
                        &ctx.out,
                        ErrorCode::RateLimited,
                        "slow down: too many frames",
                        None,
                    );
                }
                if over_limit_streak >= RATE_ABUSE_FRAMES {
                    return End::Close(CloseCode::RateLimitAbuse, "rate limit abuse");
                }
                continue;
            }
            over_limit_streak = 0;
            let frame = match ClientFrame::decode(&text) {
                Ok(frame) => frame,
                Err(e) => {
                    bad_frames += 1;
                    send_error(&ctx.out, ErrorCode::BadRequest, e.message, e.reference);
                    if bad_frames >= MAX_BAD_FRAMES {
                        return End::Close(CloseCode::ProtocolAbuse, "too many bad frames");
                    }
                    continue;
                }
            };
            metrics::frame_in(frame.type_name());
            (frame.reference(), Box::pin(live.service.handle(ctx, frame)))
        };
        match handled.await {
            Ok(Some(answer)) => ctx.out.send_frame(&answer),
            Ok(None) => {}
            Err(Failure { code, message }) => {
                if code == ErrorCode::BadRequest {
                    bad_frames += 1;
                }
                send_error(&ctx.out, code, message, reference);
                if bad_frames >= MAX_BAD_FRAMES {
                    return End::Close(CloseCode::ProtocolAbuse, "too many bad frames");
                }
            }
        }
    }
}

/// When the session's one timer is due: the next ping, the dead-connection check, or a
/// write that waits too long.
fn deadline(
    config: &Config,
    next_ping: Instant,
    last_inbound: Instant,
    blocked: Option<Instant>,
) -> Instant {
    let at = next_ping.min(last_inbound + ms(config.dead_after_ms));
    blocked.map_or(at, |since| at.min(since + ms(config.write_timeout_ms)))
}

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn rate_limiter(per_sec: u32, burst: u32) -> DefaultDirectRateLimiter {
    // One clock for every session: a new clock calibrates itself (CPUID and all),
    // which was 15 % of the CPU a connect costs.
    static CLOCK: OnceLock<DefaultClock> = OnceLock::new();
    let clock = CLOCK.get_or_init(DefaultClock::default);
    let per_sec = NonZeroU32::new(per_sec).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(per_sec);
    RateLimiter::direct_with_clock(Quota::per_second(per_sec).allow_burst(burst), clock.clone())
}

/// How a session ends when reading fails.
fn read_error(e: ReadError) -> End {
    match e {
        ReadError::Lost => End::Lost,
        ReadError::TooBig => End::Close(CloseCode::FrameTooBig, "frame too big"),
        ReadError::Protocol(what) => End::Close(CloseCode::ProtocolError, what),
        ReadError::NotUtf8 => End::Close(CloseCode::InvalidData, "text is not UTF-8"),
    }
}

fn send_error(out: &Outbox, code: ErrorCode, message: impl Into<String>, reference: Option<u64>) {
    metrics::error(code.as_str());
    out.send_frame(&ServerFrame::error(code, message, reference));
}
