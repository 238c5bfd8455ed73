//! A session's outbound queue: bounded, never waits, and costs nothing while idle.
//!
//! The queue is bounded twice: in frames (`--outbound-queue`) and in bytes
//! (`--outbound-queue-bytes`). Counting frames alone let 20 sessions of one user that
//! never read, each re-joining a 1,000-member room (every answer a 329 KiB
//! `room_state`), take the server from 18 to 558 MB while every session stayed under
//! its frame limit. The bytes queued by all of a node's sessions are summed in a
//! [`NodeBytes`], which the service reads to refuse joins of large rooms under
//! pressure.
//!
//! The hub and the session queue frames; the session's task takes all that is queued
//! at once and writes it in one flush. A full queue means the client does
//! not read: the session is *killed* (closed with 1013, the client reconnects and
//! resyncs) instead of being buffered for, so one slow client never holds up the
//! others.
//!
//! Why not a `tokio::sync::mpsc` channel: a channel allocates a block of 32 slots up
//! front (about 1.3 KB per session, idle or not), and a cancellation token or a
//! `Notify` needs a waiting future of its own in every session. Here an idle session
//! holds an empty `Vec`, one waker and two flags; a send is one uncontended lock, a
//! push and a wake, and the kill and the server's shutdown wake the same waker.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use futures_util::task::AtomicWaker;
use presence_protocol::ServerFrame;

use crate::frame::Utf8Bytes;
use crate::metrics;
use crate::ws::Outgoing;

/// The sending side of a session's outbound queue; clones share one queue.
#[derive(Debug, Clone)]
pub struct Outbox(Arc<Shared>);

/// The bytes queued in all the outboxes of a node (text frames and pong payloads).
#[derive(Debug, Default)]
pub struct NodeBytes(AtomicUsize);

impl NodeBytes {
    /// The bytes queued now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    fn add(&self, bytes: usize) {
        self.0.fetch_add(bytes, Ordering::Relaxed);
    }

    fn sub(&self, bytes: usize) {
        if bytes > 0 {
            self.0.fetch_sub(bytes, Ordering::Relaxed);
        }
    }
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    capacity: usize,
    /// The most bytes the queue may hold.
    capacity_bytes: usize,
    node: Arc<NodeBytes>,
    /// The session's task, waiting for frames, the kill or the shutdown.
    writer: AtomicWaker,
    killed: AtomicBool,
    /// The server is shutting down: the session closes with 1012.
    stopped: AtomicBool,
}

#[derive(Debug, Default)]
struct Queue {
    frames: Vec<Outgoing>,
    /// The bytes of `frames` (see [`size`]).
    bytes: usize,
    /// No more frames will come: the writer ends once it has written what is queued.
    finished: bool,
}

/// What the session gets from [`Outbox::try_take`].
#[derive(Debug)]
pub enum Take {
    /// Frames to write, oldest first.
    Frames(Vec<Outgoing>),
    /// The session was killed: what is queued is dropped.
    Killed,
    /// The session is over and everything queued has been taken.
    Finished,
}

impl Outbox {
    /// A queue that holds at most `capacity` frames, of any size.
    pub fn new(capacity: usize) -> Self {
        Self::with_budget(capacity, usize::MAX, Arc::default())
    }

    /// A queue that holds at most `capacity` frames and `capacity_bytes` bytes, counted
    /// in `node` too.
    pub fn with_budget(capacity: usize, capacity_bytes: usize, node: Arc<NodeBytes>) -> Self {
        Self(Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            capacity: capacity.max(1),
            capacity_bytes,
            node,
            writer: AtomicWaker::new(),
            killed: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.0.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a text frame, or kills the session if its queue is full.
    pub fn send(&self, frame: Utf8Bytes) {
        self.send_message(Outgoing::Text(frame));
    }

    /// Queues a protocol frame.
    pub fn send_frame(&self, frame: &ServerFrame) {
        metrics::frame_out(frame.type_name());
        self.send(Utf8Bytes::from(frame.to_json()));
    }

    /// Queues any WebSocket message, or kills the session if its queue is full.
    pub fn send_message(&self, message: Outgoing) {
        if self.is_killed() {
            return;
        }
        let mut queue = self.lock();
        if queue.finished {
            return;
        }
        let bytes = size(&message);
        let over_bytes = bytes > self.0.capacity_bytes.saturating_sub(queue.bytes);
        if queue.frames.len() >= self.0.capacity || over_bytes {
            drop(queue);
            if over_bytes {
                metrics::outbound_bytes_exceeded();
            }
            self.kill();
            return;
        }
        let was_empty = queue.frames.is_empty();
        queue.frames.push(message);
        queue.bytes += bytes;
        self.0.node.add(bytes);
        drop(queue);
        // A non-empty queue has a wake pending already.
        if was_empty {
            self.0.writer.wake();
        }
    }

    /// Ends the session because it cannot keep up (or must not wait any longer).
    pub fn kill(&self) {
        if !self.0.killed.swap(true, Ordering::AcqRel) {
            metrics::slow_client_killed();
            // What is queued will never be written: it goes now.
            let dropped = {
                let mut queue = self.lock();
                queue.bytes = 0;
                std::mem::take(&mut queue.frames)
            };
            self.0.node.sub(dropped.iter().map(size).sum());
            self.0.writer.wake();
        }
    }

    /// Asks the session to close because the server is shutting down.
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::Release);
        self.0.writer.wake();
    }

    /// Whether [`Outbox::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::Acquire)
    }

    /// Wakes this task on the next frame, the kill, the stop or the end.
    pub fn register(&self, waker: &Waker) {
        self.0.writer.register(waker);
    }

    /// Whether [`Outbox::kill`] was called.
    pub fn is_killed(&self) -> bool {
        self.0.killed.load(Ordering::Acquire)
    }

    /// No more frames: the writer ends once it has written what is queued.
    pub fn finish(&self) {
        self.lock().finished = true;
        self.0.writer.wake();
    }

    /// Waits for frames, the kill, or the end (the session polls [`Outbox::try_take`]
    /// after [`Outbox::register`] instead).
    #[cfg(test)]
    pub async fn take(&self) -> Take {
        std::future::poll_fn(|cx| {
            self.register(cx.waker());
            match self.try_take() {
                Some(take) => std::task::Poll::Ready(take),
                None => std::task::Poll::Pending,
            }
        })
        .await
    }

    /// The frames queued, the kill, or the end, if any of them is there now.
    pub fn try_take(&self) -> Option<Take> {
        if self.is_killed() {
            return Some(Take::Killed);
        }
        let mut queue = self.lock();
        if !queue.frames.is_empty() {
            // The queue starts again from an empty `Vec`: an idle session keeps no
            // buffer.
            self.0.node.sub(std::mem::take(&mut queue.bytes));
            return Some(Take::Frames(std::mem::take(&mut queue.frames)));
        }
        queue.finished.then_some(Take::Finished)
    }

    /// The text frames queued so far, taken (what the hub's tests look at).
    #[cfg(test)]
    pub(crate) fn take_texts(&self) -> Vec<Utf8Bytes> {
        let mut texts = Vec::new();
        while let Some(Take::Frames(queued)) = self.try_take() {
            texts.extend(queued.into_iter().filter_map(|frame| match frame {
                Outgoing::Text(text) => Some(text),
                _ => None,
            }));
        }
        texts
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let queue = self.queue.get_mut().unwrap_or_else(PoisonError::into_inner);
        self.node.sub(queue.bytes);
    }
}

/// What a frame counts for in the byte budgets: its payload.
fn size(frame: &Outgoing) -> usize {
    match frame {
        Outgoing::Text(text) => text.len(),
        Outgoing::Pong(payload) => payload.len(),
        Outgoing::Ping => 0,
        Outgoing::Close(_, reason) => 2 + reason.len(),
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::task::Poll;

    use super::*;

    fn text(t: &'static str) -> Outgoing {
        Outgoing::Text(Utf8Bytes::from_static(t))
    }

    #[tokio::test]
    async fn frames_come_out_in_order_in_one_batch() {
        let out = Outbox::new(8);
        out.send_message(text("a"));
        out.send_message(text("b"));
        let Take::Frames(frames) = out.take().await else {
            panic!("expected frames")
        };
        assert_eq!(frames, vec![text("a"), text("b")]);
    }

    /// A task that waits as the session does with frames queued but not taken: on the
    /// waker alone, until `done`.
    fn wait_on_waker(out: &Outbox, done: fn(&Outbox) -> bool) -> tokio::task::JoinHandle<()> {
        let out = out.clone();
        tokio::spawn(async move {
            poll_fn(|cx| {
                out.register(cx.waker());
                if done(&out) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await
        })
    }

    #[tokio::test]
    async fn a_full_queue_kills_the_session_and_wakes_it() {
        let out = Outbox::new(2);
        out.send_message(text("a"));
        out.send_message(text("b"));
        let waiting = wait_on_waker(&out, Outbox::is_killed);
        tokio::task::yield_now().await;
        assert!(!out.is_killed());
        out.send_message(text("c"));
        assert!(out.is_killed());
        waiting.await.unwrap();
        assert!(matches!(out.take().await, Take::Killed));
        // Frames after the kill are dropped, not queued.
        out.send_message(text("d"));
        assert!(matches!(out.take().await, Take::Killed));
    }

    #[tokio::test]
    async fn a_frame_larger_than_what_is_left_kills_the_session_and_frees_its_bytes() {
        let node = Arc::new(NodeBytes::default());
        let out = Outbox::with_budget(100, 8, node.clone());
        let other = Outbox::with_budget(100, 8, node.clone());
        other.send_message(text("ab"));
        out.send_message(text("12345"));
        assert_eq!(node.get(), 7);
        assert!(!out.is_killed());
        out.send_message(text("6789"));
        assert!(out.is_killed());
        assert!(matches!(out.take().await, Take::Killed));
        assert_eq!(node.get(), 2, "a killed session's queue no longer counts");
        assert!(matches!(other.take().await, Take::Frames(f) if f == vec![text("ab")]));
        assert_eq!(node.get(), 0, "taken frames no longer count");
        other.send_message(text("cd"));
        drop(other);
        assert_eq!(node.get(), 0, "a dropped queue no longer counts");
    }

    #[tokio::test]
    async fn the_writer_wakes_for_a_frame_sent_while_it_waits() {
        let out = Outbox::new(4);
        let writer = {
            let out = out.clone();
            tokio::spawn(async move { out.take().await })
        };
        tokio::task::yield_now().await;
        out.send_message(text("late"));
        let Take::Frames(frames) = writer.await.unwrap() else {
            panic!("expected frames")
        };
        assert_eq!(frames, vec![text("late")]);
    }

    #[tokio::test]
    async fn stop_wakes_the_session_and_keeps_what_is_queued() {
        let out = Outbox::new(4);
        out.send_message(text("before"));
        let waiting = wait_on_waker(&out, Outbox::is_stopped);
        tokio::task::yield_now().await;
        out.stop();
        waiting.await.unwrap();
        assert!(!out.is_killed());
        assert!(matches!(out.take().await, Take::Frames(f) if f == vec![text("before")]));
    }

    #[tokio::test]
    async fn finish_lets_the_writer_drain_then_end() {
        let out = Outbox::new(4);
        out.send_message(text("last"));
        out.finish();
        out.send_message(text("after the end"));
        assert!(matches!(out.take().await, Take::Frames(f) if f == vec![text("last")]));
        assert!(matches!(out.take().await, Take::Finished));
    }
}
