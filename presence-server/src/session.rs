//! One task per WebSocket: the handshake (`hello` within the time limit), reading and
//! validating frames, rate limits, liveness (server pings, dead-connection detection),
//! and the clean ends (shutdown, slow client, abuse). Writing happens in a second task
//! that drains the session's bounded outbound queue, so a stuck socket write never
//! stops the reader, the pings or the shutdown.

use std::future::{poll_fn, Future};
use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use presence_protocol::{limits::MAX_BAD_FRAMES, ClientFrame, CloseCode, ErrorCode, ServerFrame};
use tokio::io::{AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::metrics;
use crate::outbox::{Outbox, Take};
use crate::service::{Failure, Service, SessionCtx};
use crate::ws::{self, Incoming, Outgoing, ReadError, Reader};

/// Over-limit frames in a row (without one within the limit between them) after
/// which the connection is closed with 4429.
const RATE_ABUSE_FRAMES: u32 = 20;

/// Close code for a session whose outbound queue overflowed: "try again later". Not
/// one of the protocol's own codes; clients reconnect as on any unexpected close.
const CLOSE_TOO_SLOW: u16 = 1013;
/// Close code for a user over the session limit: "policy violation".
const CLOSE_POLICY: u16 = 1008;

/// How a session ended.
enum End {
    /// Close with this code and reason.
    Close(u16, &'static str),
    /// The client sent a close frame (with this code): answer it.
    Closed(Option<u16>),
    /// The socket is gone or broken: nothing to send.
    Lost,
}

/// The upgraded connection.
pub type Io = TokioIo<Upgraded>;
type Stream = Reader<ReadHalf<Io>>;

/// Serves one upgraded socket until it ends.
pub async fn serve(io: Io, service: Arc<Service>, shutdown: CancellationToken) {
    metrics::connection_opened();
    let (read, write) = tokio::io::split(io);
    let max_message = service.config.max_frame_bytes.saturating_mul(2).max(1024);
    let mut stream = Reader::new(read, max_message);
    let out = Outbox::new(service.config.outbound_queue);
    let writer = tokio::spawn(write_loop(
        write,
        out.clone(),
        Duration::from_millis(service.config.write_timeout_ms),
    ));

    // The futures that run once or now and then (the handshake, one request, the end)
    // are boxed: inline, they would sit in every idle session's task for its whole
    // life (4.5 KB of state instead of 2.1 KB), though only one of them runs at a time.
    let end = match Box::pin(handshake(&service, &mut stream, &out, &shutdown)).await {
        Ok(mut ctx) => {
            let end = run(&service, &mut ctx, &mut stream, &shutdown).await;
            Box::pin(service.end(ctx)).await;
            end
        }
        Err(end) => end,
    };
    match end {
        End::Close(code, reason) => {
            metrics::closed_with(code);
            out.send_message(Outgoing::Close(code, reason));
            // The closing handshake: read (and drop) until the client's close, so the
            // socket is not torn down with unread bytes in it — the kernel would then
            // reset the connection, and the client could lose our close frame.
            let _ = Box::pin(tokio::time::timeout(Duration::from_secs(2), async {
                while let Ok(message) = stream.next().await {
                    if matches!(message, Incoming::Close(_)) {
                        break;
                    }
                }
            }))
            .await;
        }
        End::Closed(code) => {
            // The client closed: answer with its code, as the protocol asks.
            out.send_message(Outgoing::Close(code.unwrap_or(ws::close::NORMAL), ""));
        }
        End::Lost => {}
    }
    // The writer ends once it has sent what is queued (the close frame included); a
    // writer stuck on a dead socket is cut off.
    out.finish();
    let mut writer = writer;
    if tokio::time::timeout(Duration::from_secs(2), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    metrics::connection_closed();
}

/// Drains the outbound queue into the socket: everything queued is encoded into one
/// buffer and written at once, and the buffer is not kept.
async fn write_loop(mut sink: WriteHalf<Io>, out: Outbox, write_timeout: Duration) {
    loop {
        let frames = match out.take().await {
            Take::Frames(frames) => frames,
            Take::Killed => {
                // The queue is full, so a close frame queued behind it would never be
                // sent: send it ahead of everything, and give up quickly.
                let mut buf = Vec::new();
                Outgoing::Close(CLOSE_TOO_SLOW, "client too slow").encode(&mut buf);
                let _ = tokio::time::timeout(Duration::from_secs(1), sink.write_all(&buf)).await;
                break;
            }
            Take::Finished => break,
        };
        let mut buf = Vec::new();
        let mut closing = false;
        for frame in &frames {
            frame.encode(&mut buf);
            if frame.is_close() {
                closing = true;
                break;
            }
        }
        drop(frames);
        // Almost every batch is written at once; only one that waits on the socket
        // gets a timer.
        let mut write = std::pin::pin!(write_all(&mut sink, &buf));
        let written = match poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await {
            Poll::Ready(result) => Ok(result),
            Poll::Pending => tokio::time::timeout(write_timeout, write).await,
        };
        match written {
            Ok(Ok(())) if !closing => {}
            Ok(Ok(())) => break,
            Ok(Err(_)) | Err(_) => {
                // The peer does not take our bytes: end the session.
                out.kill();
                break;
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.shutdown()).await;
}

async fn write_all<W: AsyncWrite + Unpin>(sink: &mut W, buf: &[u8]) -> std::io::Result<()> {
    sink.write_all(buf).await?;
    sink.flush().await
}

/// Waits for `hello`, verifies the token and opens the session.
async fn handshake(
    service: &Arc<Service>,
    stream: &mut Stream,
    out: &Outbox,
    shutdown: &CancellationToken,
) -> Result<SessionCtx, End> {
    let deadline = Instant::now() + Duration::from_millis(service.config.hello_timeout_ms);
    let text = loop {
        let message = tokio::select! {
            () = shutdown.cancelled() => return Err(End::Close(CloseCode::Restarting.code(), "server restarting")),
            () = sleep_until(deadline) => {
                send_error(out, ErrorCode::Unauthorized, "no hello in time", None);
                return Err(End::Close(CloseCode::HelloTimeout.code(), "no hello in time"));
            }
            m = stream.next() => m,
        };
        match message {
            Ok(Incoming::Text(text)) => break text,
            Ok(Incoming::Binary) => {
                send_error(
                    out,
                    ErrorCode::BadRequest,
                    "binary frames are not supported",
                    None,
                );
                return Err(End::Close(CloseCode::Unauthorized.code(), "expected hello"));
            }
            Ok(Incoming::Ping(payload)) => out.send_message(Outgoing::Pong(payload)),
            Ok(Incoming::Pong) => {}
            Ok(Incoming::Close(code)) => return Err(End::Closed(code)),
            Err(e) => return Err(read_error(e)),
        }
    };
    if text.len() > service.config.max_frame_bytes {
        return Err(End::Close(CloseCode::FrameTooBig.code(), "frame too big"));
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
            return Err(End::Close(CloseCode::Unauthorized.code(), "expected hello"));
        }
        Err(e) => {
            send_error(out, ErrorCode::BadRequest, e.message, e.reference);
            return Err(End::Close(CloseCode::Unauthorized.code(), "expected hello"));
        }
    };
    metrics::frame_in("hello");
    let identity = match service.auth.verify(&token.0) {
        Ok(identity) => identity,
        Err(message) => {
            send_error(out, ErrorCode::Unauthorized, message, None);
            return Err(End::Close(CloseCode::Unauthorized.code(), "unauthorized"));
        }
    };
    // Without a label the session can never be resumed by another: a made-up label
    // that no other client has.
    let device = device.unwrap_or_else(|| format!("anonymous-{}", rand::random::<u64>()));
    match Box::pin(service.open(identity, device, out.clone())).await {
        Ok((ctx, welcome)) => {
            out.send_frame(&welcome);
            tracing::debug!(user = %ctx.identity.user, session = %ctx.session, "session opened");
            Ok(ctx)
        }
        Err(f) => {
            send_error(out, f.code, f.message, None);
            Err(End::Close(
                if f.code == ErrorCode::TooMany {
                    CLOSE_POLICY
                } else {
                    CloseCode::Restarting.code()
                },
                "session refused",
            ))
        }
    }
}

/// The session's main loop, after `welcome`.
async fn run(
    service: &Arc<Service>,
    ctx: &mut SessionCtx,
    stream: &mut Stream,
    shutdown: &CancellationToken,
) -> End {
    let config = &service.config;
    let limiter = rate_limiter(config.rate_per_sec, config.rate_burst);
    let mut over_limit_streak = 0u32;
    let mut bad_frames = 0u32;
    let dead_after = Duration::from_millis(config.dead_after_ms);
    let ping_every = Duration::from_millis(config.ping_interval_ms);
    let mut last_inbound = Instant::now();
    let mut next_ping = last_inbound + ping_every;
    // One timer for both the pings and the dead-connection check. It is not moved
    // when a frame comes in (that would cost a timer update per frame): when it
    // fires early, it is set again.
    let timer = sleep_until(next_ping.min(last_inbound + dead_after));
    tokio::pin!(timer);
    let out = ctx.out.clone();
    loop {
        let message = tokio::select! {
            biased;
            () = shutdown.cancelled() => return End::Close(CloseCode::Restarting.code(), "server restarting"),
            () = out.killed() => return End::Close(CLOSE_TOO_SLOW, "client too slow"),
            () = &mut timer => {
                let now = Instant::now();
                if now >= last_inbound + dead_after {
                    tracing::debug!(session = %ctx.session, "no frame or pong in time: dead");
                    return End::Lost;
                }
                if now >= next_ping {
                    ctx.out.send_message(Outgoing::Ping);
                    next_ping = now + ping_every;
                }
                timer.as_mut().reset(next_ping.min(last_inbound + dead_after));
                continue;
            }
            m = stream.next() => m,
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
                    return End::Close(CloseCode::ProtocolAbuse.code(), "too many bad frames");
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
        if text.len() > config.max_frame_bytes {
            return End::Close(CloseCode::FrameTooBig.code(), "frame too big");
        }
        if limiter.check().is_err() {
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
                return End::Close(CloseCode::RateLimitAbuse.code(), "rate limit abuse");
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
                    return End::Close(CloseCode::ProtocolAbuse.code(), "too many bad frames");
                }
                continue;
            }
        };
        metrics::frame_in(frame.type_name());
        let reference = frame.reference();
        match Box::pin(service.handle(ctx, frame)).await {
            Ok(Some(answer)) => ctx.out.send_frame(&answer),
            Ok(None) => {}
            Err(Failure { code, message }) => {
                if code == ErrorCode::BadRequest {
                    bad_frames += 1;
                }
                send_error(&ctx.out, code, message, reference);
                if bad_frames >= MAX_BAD_FRAMES {
                    return End::Close(CloseCode::ProtocolAbuse.code(), "too many bad frames");
                }
            }
        }
    }
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
        ReadError::TooBig => End::Close(CloseCode::FrameTooBig.code(), "frame too big"),
        ReadError::Protocol(what) => End::Close(ws::close::PROTOCOL_ERROR, what),
        ReadError::NotUtf8 => End::Close(ws::close::INVALID_DATA, "text is not UTF-8"),
    }
}

fn send_error(out: &Outbox, code: ErrorCode, message: impl Into<String>, reference: Option<u64>) {
    metrics::error(code.as_str());
    out.send_frame(&ServerFrame::error(code, message, reference));
}
