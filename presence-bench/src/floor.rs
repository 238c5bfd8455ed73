//! `presence-bench write-floor`: the kernel's floor under one delivery.
//!
//! What does one small `write()` to a loopback TCP socket cost the writing process when
//! the socket's reader is a tokio task on the other CPU (like the generator's), with no
//! WebSocket, JSON, hub or task wake-up work on the writer's side? Every delivery of
//! presence-server is such a write (each goes to a different socket), so the writer's
//! writes per CPU-second are the most deliveries per CPU-second any server can reach on
//! this machine with one write per delivery.
//!
//! Two processes (a process may hold at most 20,000 files here):
//!
//! - **The writer** (this process; `run.sh` pins it to CPU 0 like the servers) listens on
//!   127.0.0.1, starts the reader, accepts N connections (blocking sockets,
//!   `TCP_NODELAY` like the server's), then runs one stage per rate. A stage is open
//!   loop: event k is due at `k / (rate / (R - 1))` seconds and goes to the R - 1 other
//!   members of room `k % rooms` (rooms of R consecutive connections, the sender skipped
//!   in turn), one `write()` of the same frame per member, the frame being a real
//!   server-to-client WebSocket text frame of a `typing` event. Between due events the
//!   thread sleeps. Rate 0 writes flat out. `--tokio-rate` stages write through tokio's
//!   `TcpStream::try_write` (sockets registered with a current-thread runtime) instead
//!   of a plain blocking `write()`.
//! - **The reader** (`floor-reader`, started by the writer under `taskset -c` when
//!   `--reader-cpu` is given) connects N times and runs one tokio task per connection
//!   that reads and counts bytes (a current-thread runtime by default, like the
//!   generator). Its stdin and stdout are the control line: `wait BYTES MS` is answered
//!   with the bytes read so far once they reach BYTES or MS have passed.
//!
//! The CPU of each process comes from `/proc/<pid>/stat` (user and system apart) over
//! each stage, from its first write until the reader has read every byte.

use std::io::{ErrorKind, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::stats::per;
use crate::sys;

mod reader;

use reader::Reader;
pub use reader::{reader, ReaderArgs};

/// A stage is sustained when the reader got every byte within this long of the last
/// write and every event went out within this long of its due time (ms).
pub const SUSTAINED_LAG_MS: f64 = 50.0;
/// … and the writer kept at least this share of the rate asked for.
pub const SUSTAINED_SHARE: f64 = 0.99;

/// The `write-floor` subcommand's options.
#[derive(Debug, Clone, clap::Args)]
pub struct FloorArgs {
    /// Connection pairs.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Members per room: every event is R - 1 writes to consecutive connections.
    #[arg(long, default_value_t = 20)]
    pub room_size: usize,
    /// Writes per second, one stage each; 0 writes flat out.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "20000,50000,100000,150000,200000,300000,0"
    )]
    pub rate: Vec<f64>,
    /// Then these rates again, written through tokio's `try_write` (none by default).
    #[arg(long, value_delimiter = ',')]
    pub tokio_rate: Vec<f64>,
    /// Seconds per stage.
    #[arg(long, default_value_t = 5.0)]
    pub stage_s: f64,
    /// Start the reader pinned to this CPU (`taskset -c CPU`); the writer's own
    /// placement is the caller's (`taskset -c 0 presence-bench write-floor …`).
    #[arg(long)]
    pub reader_cpu: Option<usize>,
    /// The reader's worker threads (1: a current-thread runtime, like the generator).
    #[arg(long, default_value_t = 1)]
    pub reader_threads: usize,
    /// After a stage, wait at most this long for the reader to read everything (s).
    #[arg(long, default_value_t = 10.0)]
    pub drain_max_s: f64,
    /// Connecting, and the reader's start, must end within this long (s).
    #[arg(long, default_value_t = 60.0)]
    pub connect_timeout_s: f64,
    #[arg(long)]
    pub label: Option<String>,
    /// Where the JSON report goes (stdout without).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// One stage of the report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FloorStage {
    pub index: usize,
    /// `write` (a plain blocking `write()`) or `tokio` (tokio's `try_write`).
    pub writer: String,
    /// Writes per second asked for; 0: flat out.
    pub rate_per_s: f64,
    pub events: u64,
    pub writes: u64,
    pub bytes: u64,
    /// From the first due event to the last write.
    pub duration_s: f64,
    pub writes_per_s: f64,
    /// Latest an event went out after its due time, ms (0 when flat out).
    pub send_lag_max_ms: f64,
    /// Bytes the reader read (should equal `bytes`).
    pub read_bytes: u64,
    /// From the last write until the reader had read everything, ms.
    pub drain_ms: f64,
    /// From the first due event until the reader had read everything: the window the
    /// CPU figures cover.
    pub window_s: f64,
    pub writer_cpu_s: f64,
    pub writer_user_s: f64,
    pub writer_sys_s: f64,
    /// Writer CPU over `duration_s`: 1.0 is a whole core.
    pub writer_busy: f64,
    pub writes_per_writer_cpu_s: f64,
    pub writer_us_per_write: f64,
    pub reader_cpu_s: f64,
    /// Reader CPU over `window_s`.
    pub reader_busy: f64,
    pub reader_us_per_write: f64,
    /// CPU the machine spent on anything but the writer and the reader (noise gauge).
    pub other_cpu_s: f64,
    /// The 1-minute load average at the end of the stage.
    pub loadavg: f64,
    /// Nothing lost, the rate kept, every event on time, the reader drained promptly.
    pub sustained: bool,
}

/// The `write-floor` report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FloorReport {
    pub tool: String,
    /// `write-floor`: tells this report from `run`'s.
    pub kind: String,
    pub label: Option<String>,
    pub params: serde_json::Value,
    pub started_at_ms: u64,
    pub connections: usize,
    pub room_size: usize,
    /// The frame every write sends: a WebSocket text frame header and this JSON.
    pub frame_json: String,
    pub frame_bytes: usize,
    pub writer_pid: u32,
    pub reader_pid: u32,
    pub reader_cpu: Option<usize>,
    pub reader_threads: usize,
    /// From the reader's start to every connection accepted and read.
    pub connect_s: f64,
    pub stages: Vec<FloorStage>,
    /// The highest writes/s of a sustained paced stage.
    pub max_sustained_writes_per_s: f64,
    /// The most writes per writer CPU-second of any sustained stage: the floor.
    pub best_writes_per_writer_cpu_s: f64,
    /// Writes per writer CPU-second of the flat-out stage, if any.
    pub flat_out_writes_per_writer_cpu_s: Option<f64>,
    pub warnings: Vec<String>,
}

/// The frame presence-server sends for a `typing` event: an unmasked, final WebSocket
/// text frame (2-byte header) around the serialized `ServerFrame`.
fn typing_frame() -> anyhow::Result<(String, Vec<u8>)> {
    let json = serde_json::to_string(&presence_protocol::ServerFrame::Typing {
        room: "r123".into(),
        user: "u4567".into(),
        typing: true,
    })?;
    anyhow::ensure!(json.len() < 126, "the frame needs the short length form");
    let mut frame = vec![0x81, json.len() as u8];
    frame.extend_from_slice(json.as_bytes());
    Ok((json, frame))
}

/// Accepts `n` connections; gives up when the reader ends or after `timeout`.
fn accept_all(
    listener: &TcpListener,
    n: usize,
    reader: &mut Reader,
    timeout: Duration,
) -> anyhow::Result<Vec<TcpStream>> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    let mut streams = Vec::with_capacity(n);
    while streams.len() < n {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                s.set_nodelay(true)?;
                streams.push(s);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if let Some(status) = reader.child.try_wait()? {
                    anyhow::bail!(
                        "the reader ended ({status}) after {} connections",
                        streams.len()
                    );
                }
                anyhow::ensure!(
                    Instant::now() < deadline,
                    "only {} of {n} connections within {timeout:?}",
                    streams.len()
                );
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => {
                return Err(e).with_context(|| format!("accepting connection {}", streams.len()))
            }
        }
    }
    Ok(streams)
}

/// What the writing loop of one stage did.
#[derive(Debug, Default)]
struct Paced {
    events: u64,
    writes: u64,
    duration_s: f64,
    lag_max_ms: f64,
}

/// Writes the events of one stage through `send(connection)`: open loop at `rate`
/// writes/s (sleeping between due events), or flat out for `stage_s` when `rate` is 0.
fn paced(
    rate: f64,
    stage_s: f64,
    room_size: usize,
    connections: usize,
    mut send: impl FnMut(usize) -> anyhow::Result<()>,
) -> anyhow::Result<Paced> {
    let rooms = (connections / room_size) as u64;
    let per_event = (room_size - 1) as u64;
    let mut event = |k: u64| -> anyhow::Result<()> {
        let room = (k % rooms) as usize;
        let skip = ((k / rooms) % room_size as u64) as usize;
        for m in (0..room_size).filter(|&m| m != skip) {
            send(room * room_size + m)?;
        }
        Ok(())
    };
    let start = Instant::now();
    let mut k = 0u64;
    let mut lag_max = 0.0f64;
    if rate > 0.0 {
        let event_rate = rate / per_event as f64;
        let total = (event_rate * stage_s).round().max(1.0) as u64;
        while k < total {
            let now = start.elapsed().as_secs_f64();
            let due = ((now * event_rate) as u64 + 1).min(total);
            if k >= due {
                let next = k as f64 / event_rate;
                std::thread::sleep(Duration::from_secs_f64((next - now).max(0.0)));
                continue;
            }
            lag_max = lag_max.max(now - k as f64 / event_rate);
            while k < due {
                event(k)?;
                k += 1;
            }
        }
    } else {
        while start.elapsed().as_secs_f64() < stage_s {
            event(k)?;
            k += 1;
        }
    }
    Ok(Paced {
        events: k,
        writes: k * per_event,
        duration_s: start.elapsed().as_secs_f64(),
        lag_max_ms: lag_max * 1000.0,
    })
}

/// Writes all of `frame` to a non-blocking tokio stream, waiting for room when full.
fn tokio_write(
    rt: &tokio::runtime::Runtime,
    s: &tokio::net::TcpStream,
    frame: &[u8],
) -> anyhow::Result<()> {
    let mut off = 0;
    while off < frame.len() {
        match s.try_write(&frame[off..]) {
            Ok(n) => off += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => rt.block_on(s.writable())?,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The `write-floor` subcommand: the writer, which runs everything.
pub fn run(args: FloorArgs) -> anyhow::Result<FloorReport> {
    anyhow::ensure!(args.room_size >= 2, "--room-size must be at least 2");
    anyhow::ensure!(
        args.connections >= args.room_size,
        "--connections must hold at least one room"
    );
    anyhow::ensure!(args.stage_s > 0.0, "--stage-s must be positive");
    let (frame_json, frame) = typing_frame()?;
    let mut report = FloorReport {
        tool: format!("presence-bench {}", env!("CARGO_PKG_VERSION")),
        kind: "write-floor".into(),
        label: args.label.clone(),
        params: serde_json::json!({
            "connections": args.connections,
            "room_size": args.room_size,
            "rate": args.rate,
            "tokio_rate": args.tokio_rate,
            "stage_s": args.stage_s,
            "reader_cpu": args.reader_cpu,
            "reader_threads": args.reader_threads,
            "drain_max_s": args.drain_max_s,
        }),
        started_at_ms: sys::now_us() / 1000,
        connections: args.connections,
        room_size: args.room_size,
        frame_bytes: frame.len(),
        frame_json,
        writer_pid: std::process::id(),
        reader_cpu: args.reader_cpu,
        reader_threads: args.reader_threads,
        ..FloorReport::default()
    };

    let listener = TcpListener::bind("127.0.0.1:0").context("listening on 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let t0 = Instant::now();
    let mut reader = Reader::start(&args, addr)?;
    report.reader_pid = reader.pid();
    let timeout = Duration::from_secs_f64(args.connect_timeout_s);
    let mut streams = accept_all(&listener, args.connections, &mut reader, timeout)?;
    drop(listener);
    let ready = reader.line()?;
    anyhow::ensure!(ready == "ready", "the reader said {ready:?}");
    report.connect_s = t0.elapsed().as_secs_f64();
    eprintln!(
        "write-floor: {} connections in {:.1} s; frame of {} bytes",
        args.connections,
        report.connect_s,
        frame.len()
    );

    let drain_max = Duration::from_secs_f64(args.drain_max_s);
    let mut sent_bytes = 0u64;
    let plan: Vec<(&str, f64)> = args
        .rate
        .iter()
        .map(|&r| ("write", r))
        .chain(args.tokio_rate.iter().map(|&r| ("tokio", r)))
        .collect();
    for (index, (writer, rate)) in plan.into_iter().enumerate() {
        // tokio stages: the same sockets, non-blocking and registered with a runtime
        // (outside the measured window).
        let rt = match writer {
            "tokio" => Some(
                tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .build()?,
            ),
            _ => None,
        };
        let tokio_streams = if let Some(rt) = &rt {
            let _enter = rt.enter();
            let mut out = Vec::with_capacity(streams.len());
            for s in streams.drain(..) {
                s.set_nonblocking(true)?;
                out.push(tokio::net::TcpStream::from_std(s)?);
            }
            out
        } else {
            Vec::new()
        };

        let w0 = sys::cpu_user_sys_s(0).unwrap_or_default();
        let r0 = sys::cpu_s(report.reader_pid).unwrap_or(0.0);
        let m0 = sys::machine_busy_s();
        let start = Instant::now();
        let done = if let Some(rt) = &rt {
            paced(rate, args.stage_s, args.room_size, args.connections, |i| {
                tokio_write(rt, &tokio_streams[i], &frame)
            })?
        } else {
            paced(rate, args.stage_s, args.room_size, args.connections, |i| {
                (&streams[i])
                    .write_all(&frame)
                    .with_context(|| format!("writing to connection {i}"))
            })?
        };
        let written = Instant::now();
        sent_bytes += done.writes * frame.len() as u64;
        let read_total = reader.wait_for(sent_bytes, drain_max)?;
        let end = Instant::now();
        let w1 = sys::cpu_user_sys_s(0).unwrap_or_default();
        let r1 = sys::cpu_s(report.reader_pid).unwrap_or(0.0);
        let m1 = sys::machine_busy_s();

        let stage_bytes = done.writes * frame.len() as u64;
        let read_before = sent_bytes - stage_bytes;
        let mut s = FloorStage {
            index,
            writer: writer.to_owned(),
            rate_per_s: rate,
            events: done.events,
            writes: done.writes,
            bytes: stage_bytes,
            duration_s: done.duration_s,
            writes_per_s: per(done.writes as f64, done.duration_s),
            send_lag_max_ms: done.lag_max_ms,
            read_bytes: read_total.saturating_sub(read_before),
            drain_ms: (end - written).as_secs_f64() * 1000.0,
            window_s: (end - start).as_secs_f64(),
            writer_user_s: (w1.0 - w0.0).max(0.0),
            writer_sys_s: (w1.1 - w0.1).max(0.0),
            reader_cpu_s: (r1 - r0).max(0.0),
            loadavg: sys::loadavg(),
            ..FloorStage::default()
        };
        s.writer_cpu_s = s.writer_user_s + s.writer_sys_s;
        s.writer_busy = per(s.writer_cpu_s, s.duration_s);
        s.writes_per_writer_cpu_s = per(s.writes as f64, s.writer_cpu_s);
        s.writer_us_per_write = per(s.writer_cpu_s * 1e6, s.writes as f64);
        s.reader_busy = per(s.reader_cpu_s, s.window_s);
        s.reader_us_per_write = per(s.reader_cpu_s * 1e6, s.writes as f64);
        s.other_cpu_s = (m1 - m0 - s.writer_cpu_s - s.reader_cpu_s).max(0.0);
        s.sustained = s.read_bytes == s.bytes
            && s.drain_ms <= SUSTAINED_LAG_MS
            && s.send_lag_max_ms <= SUSTAINED_LAG_MS
            && (rate <= 0.0 || s.writes_per_s >= SUSTAINED_SHARE * rate);
        if s.read_bytes < s.bytes {
            report.warnings.push(format!(
                "stage {index}: the reader read {} of {} bytes within {:?}",
                s.read_bytes, s.bytes, drain_max
            ));
            // Later stages would count this stage's stragglers: stop here.
            report.stages.push(s);
            break;
        }
        eprintln!(
            "write-floor: stage {index} ({writer}, {rate}/s): {:.0} writes/s, writer {:.2} s CPU \
             ({:.2} µs/write, {:.0} writes per CPU-s), reader {:.2} s, lag {:.1} ms, drain {:.1} ms",
            s.writes_per_s,
            s.writer_cpu_s,
            s.writer_us_per_write,
            s.writes_per_writer_cpu_s,
            s.reader_cpu_s,
            s.send_lag_max_ms,
            s.drain_ms
        );
        report.stages.push(s);

        if let Some(rt) = &rt {
            let _enter = rt.enter();
            for t in tokio_streams {
                let s = t.into_std()?;
                s.set_nonblocking(false)?;
                streams.push(s);
            }
        }
    }

    let sustained = report.stages.iter().filter(|s| s.sustained);
    report.max_sustained_writes_per_s = sustained
        .clone()
        .filter(|s| s.rate_per_s > 0.0)
        .map(|s| s.writes_per_s)
        .fold(0.0, f64::max);
    report.best_writes_per_writer_cpu_s = sustained
        .map(|s| s.writes_per_writer_cpu_s)
        .fold(0.0, f64::max);
    report.flat_out_writes_per_writer_cpu_s = report
        .stages
        .iter()
        .filter(|s| s.rate_per_s <= 0.0 && s.writer == "write")
        .map(|s| s.writes_per_writer_cpu_s)
        .reduce(f64::max);
    drop(streams);
    drop(reader);
    Ok(report)
}
