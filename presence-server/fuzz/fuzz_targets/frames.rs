//! The frame decoder on arbitrary client bytes, read in chunks of a size the input
//! chooses: it must not panic, must end, and what it yields must keep its promises
//! (messages within the limit, only close codes a client may send).
#![no_main]

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use presence_server::ws::{Conn, Incoming};
use tokio::io::{AsyncRead, ReadBuf};

/// A socket that gives `data` in reads of at most `chunk` bytes.
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.chunk.min(buf.remaining()).min(self.data.len());
        let (now, rest) = self.data.split_at(n);
        buf.put_slice(now);
        self.data = rest;
        Poll::Ready(Ok(()))
    }
}

fuzz_target!(|input: &[u8]| {
    let [a, b, c, data @ ..] = input else {
        return;
    };
    let max = usize::from(u16::from_be_bytes([*a, *b])).max(1);
    let chunk = usize::from(*c).max(1);
    let mut conn = Conn::new(Chunked { data, chunk }, max);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        match conn.poll_next(&mut cx) {
            Poll::Ready(Ok(Incoming::Text(text))) => assert!(text.len() <= max),
            Poll::Ready(Ok(Incoming::Close(Some(code)))) => {
                assert!(
                    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999),
                    "{code}"
                );
            }
            Poll::Ready(Ok(Incoming::Ping(payload))) => assert!(payload.len() <= 125),
            Poll::Ready(Ok(_)) => {}
            Poll::Ready(Err(_)) => return,
            Poll::Pending => unreachable!("the reader is always ready"),
        }
    }
});
