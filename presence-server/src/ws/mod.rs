//! WebSocket (RFC 6455), server side, over an upgraded HTTP/1.1 connection.
//!
//! The protocol's frames are small text messages, and an idle connection must cost as
//! little as possible, so this is a small codec of our own rather than a general
//! library: nothing is buffered between frames (a read goes through a buffer on the
//! stack, and only a partial frame is kept), and writing encodes a batch of frames
//! into one short-lived buffer, written at once. A general library keeps a read buffer
//! and a write buffer per connection for its whole life, the latter as large as the
//! largest message ever sent (a `room_state` of a big room): that was a third of a
//! session's memory.
//!
//! No extensions (compression) and no subprotocol are negotiated. Client frames must be
//! masked, control frames short and unfragmented; a violation is a protocol error.
//!
//! `ws/` is the only place that knows RFC 6455: `handshake.rs` answers the HTTP
//! upgrade, `codec.rs` frames and unframes messages (masking, fragments, control and
//! close frames), and [`Conn`] here drives a connection's reads and writes. What it
//! sends are serialized protocol frames ([`Utf8Bytes`](crate::frame::Utf8Bytes)) and close codes, which the
//! session takes from `presence_protocol::CloseCode`.

mod codec;
#[cfg(test)]
mod differential;
mod handshake;

use std::future::poll_fn;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use self::codec::Decoder;
pub use self::codec::{Incoming, Outgoing, ReadError};
pub use self::handshake::accept;

/// One client's connection: reads its messages, and writes what the session queues.
///
/// Both sides are driven by polls from the session's one task, so a connection costs
/// no task of its own, and its state lives here, not in a future: [`Conn::poll_next`]
/// and [`Conn::poll_write`] can be polled from a `select!` or a `poll_fn` and dropped
/// at any time. Nothing is buffered between frames: an idle connection holds two empty
/// `Vec`s.
#[derive(Debug)]
pub struct Conn<S> {
    io: S,
    /// What is read and not taken yet (usually nothing).
    decoder: Decoder,
    /// Encoded frames not written yet, and how much of them is written.
    out: Vec<u8>,
    written: usize,
}

/// What one read from the socket may take at most.
const READ_CHUNK: usize = 4096;

impl<S> Conn<S> {
    pub fn new(io: S, max_message: usize) -> Self {
        Self {
            io,
            decoder: Decoder::new(max_message),
            out: Vec::new(),
            written: 0,
        }
    }

    /// Encodes a frame behind those not written yet.
    pub fn queue(&mut self, frame: &Outgoing) {
        frame.encode(&mut self.out);
    }

    /// Whether frames are waiting to be written.
    pub fn has_unwritten(&self) -> bool {
        self.written < self.out.len()
    }
}

impl<S: AsyncWrite + Unpin> Conn<S> {
    /// Writes what is queued. Ready once all of it is written; then the buffer is
    /// dropped, so an idle connection keeps none.
    pub fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.written < self.out.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.out[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        if !self.out.is_empty() {
            self.out = Vec::new();
            self.written = 0;
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Shuts the sending side down (after the close frame).
    pub fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + Unpin> Conn<S> {
    /// The next message. After an error the connection must not be read again.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Incoming, ReadError>> {
        loop {
            if let Some(message) = self.decoder.parse()? {
                return Poll::Ready(Ok(message));
            }
            ready!(self.poll_fill(cx))?;
        }
    }

    /// [`Conn::poll_next`] as a future.
    pub async fn next(&mut self) -> Result<Incoming, ReadError> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// Reads and drops what the client sends, without decoding it, until the client
    /// ends its side of the connection (ready with `true`), its socket fails, or
    /// `budget` bytes are used up (ready with `false`). Used after a read error,
    /// when the close frame is sent: a socket dropped with unread bytes in it is reset
    /// by the kernel, and the reset can destroy the close frame before the client
    /// reads it.
    pub fn poll_drain(&mut self, cx: &mut Context<'_>, budget: &mut usize) -> Poll<bool> {
        self.decoder.buf = Vec::new();
        loop {
            let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut read = ReadBuf::uninit(&mut chunk);
            match ready!(Pin::new(&mut self.io).poll_read(cx, &mut read)) {
                Ok(()) if read.filled().is_empty() => return Poll::Ready(true),
                Ok(()) => match budget.checked_sub(read.filled().len()) {
                    Some(left) => *budget = left,
                    None => return Poll::Ready(false),
                },
                Err(_) => return Poll::Ready(true),
            }
        }
    }

    /// Reads what the socket has into the decoder, through a buffer on the stack.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ReadError>> {
        let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut read = ReadBuf::uninit(&mut chunk);
        if ready!(Pin::new(&mut self.io).poll_read(cx, &mut read)).is_err()
            || read.filled().is_empty()
        {
            return Poll::Ready(Err(ReadError::Lost));
        }
        self.decoder.extend(read.filled());
        Poll::Ready(Ok(()))
    }
}
