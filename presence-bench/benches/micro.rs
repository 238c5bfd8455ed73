//! Criterion microbenchmarks of the server's hot paths, through public APIs:
//!
//! - `decode/*`: `ClientFrame::decode` of the frames clients send most;
//! - `serialize/*`: `ServerFrame::to_json` of presences, diffs, states and typing;
//! - `fanout/*`: one event through `Hub::deliver` (or a diff through `Hub::flush`) to
//!   1,000 local sessions, each an `Outbox` whose queue is drained outside the timing;
//! - `store/memory/*` and `store/redis/*`: store steps on `MemoryStore` and on
//!   `RedisStore` against a `redis-server` this bench starts on a free port (skipped,
//!   with a note, when `redis-server` is not installed).
//!
//! `cargo bench -p presence-bench --bench micro` runs them all; add a filter
//! (`-- fanout`) for one group.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use presence_protocol::{ClientFrame, CustomStatus, EffectiveStatus, Presence, ServerFrame};
use presence_server::events::{Event, RoomChange};
use presence_server::hub::{Hub, Outbox};
use presence_server::outbox::Take;
use presence_server::redis_link::RedisConn;
use presence_server::store::memory::MemoryStore;
use presence_server::store::redis::RedisStore;
use presence_server::store::{NewSession, Store, UserUpdate};

fn presence(i: usize) -> Presence {
    Presence {
        user: format!("user-{i}"),
        name: format!("User number {i}"),
        status: EffectiveStatus::Online,
        since: 1_764_289_950_000,
        custom: (i % 3 == 0).then(|| CustomStatus {
            text: Some("In a meeting".into()),
            emoji: Some("📅".into()),
            expires_at: Some(1_764_293_600_000),
        }),
        last_seen: None,
        last_seen_approx: None,
        devices: 1,
    }
}

fn decode(c: &mut Criterion) {
    let frames = [
        ("typing", r#"{"type":"typing","room":"team-1.general","typing":true}"#.to_owned()),
        ("join", r#"{"type":"join","room":"team-1.general","ref":8}"#.to_owned()),
        (
            "set_custom",
            r#"{"type":"set_custom","custom":{"text":"Lunch","emoji":"🍜","expires_at":1764293600000},"ref":5}"#
                .to_owned(),
        ),
        (
            "hello",
            format!(
                r#"{{"type":"hello","token":"{}","device":"web","client":"presence-client/0.1.0"}}"#,
                "x".repeat(180)
            ),
        ),
        ("ping", r#"{"type":"ping","ref":1}"#.to_owned()),
    ];
    let mut g = c.benchmark_group("decode");
    for (name, text) in &frames {
        g.bench_function(*name, |b| {
            b.iter(|| ClientFrame::decode(std::hint::black_box(text)).ok())
        });
    }
    g.finish();
}

fn serialize(c: &mut Criterion) {
    let mut g = c.benchmark_group("serialize");
    let one = ServerFrame::Presence {
        presence: presence(3),
    };
    g.bench_function("presence", |b| {
        b.iter(|| std::hint::black_box(&one).to_json())
    });
    let diff = ServerFrame::RoomDiff {
        room: "team-1.general".into(),
        joins: vec![presence(1)],
        leaves: vec!["user-9".into()],
        updates: vec![presence(3)],
    };
    g.bench_function("room_diff", |b| {
        b.iter(|| std::hint::black_box(&diff).to_json())
    });
    let state = ServerFrame::RoomState {
        room: "team-1.general".into(),
        count: 20,
        members: (0..20).map(presence).collect(),
        typing: vec!["user-3".into()],
        r#ref: Some(1),
    };
    g.bench_function("room_state_20", |b| {
        b.iter(|| std::hint::black_box(&state).to_json())
    });
    let typing = ServerFrame::Typing {
        room: "team-1.general".into(),
        user: "user-3".into(),
        typing: true,
    };
    g.bench_function("typing", |b| {
        b.iter(|| std::hint::black_box(&typing).to_json())
    });
    g.finish();
}

/// A hub with `n` sessions in room `r`, and their queues.
fn hub_with(n: usize) -> (Hub, Vec<Outbox>) {
    // A zero coalescing window: every room change goes out from `deliver` at once
    // (the leading edge), so `room_diff_flush_to_1000` times one diff's fan-out.
    let hub = Hub::new(1_000_000, Duration::from_secs(1), Duration::ZERO);
    let mut receivers = Vec::with_capacity(n);
    let state = ServerFrame::RoomState {
        room: "r".into(),
        count: n as u64,
        members: Vec::new(),
        typing: Vec::new(),
        r#ref: None,
    };
    for i in 0..n {
        let out = Outbox::new(4096);
        let id = hub.register(&format!("user-{i}"), out.clone());
        hub.subscribe_room("r", id);
        hub.release_room("r", id, &state, n as u64, tokio::time::Instant::now());
        receivers.push(out);
    }
    drain(&mut receivers);
    (hub, receivers)
}

fn drain(receivers: &mut [Outbox]) -> usize {
    let mut n = 0;
    for out in receivers {
        while let Some(Take::Frames(frames)) = out.try_take() {
            n += frames.len();
        }
    }
    n
}

fn fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group("fanout");
    g.throughput(criterion::Throughput::Elements(1000));
    let (hub, mut receivers) = hub_with(1000);
    let mut flip = false;
    g.bench_function("typing_to_1000", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for i in 0..iters {
                flip = !flip;
                let event = Event::Typing {
                    room: "r".into(),
                    user: "outsider".into(),
                    typing: flip,
                };
                let start = Instant::now();
                hub.deliver(&event);
                timed += start.elapsed();
                if i % 1000 == 999 {
                    drain(&mut receivers);
                }
            }
            drain(&mut receivers);
            timed
        })
    });
    g.bench_function("room_diff_flush_to_1000", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for i in 0..iters {
                let event = Event::Room {
                    room: "r".into(),
                    user: "user-5".into(),
                    public: Some(RoomChange::Update(presence(5 + (i as usize % 2) * 3))),
                    own: Some(RoomChange::Update(presence(5))),
                    count: 1000,
                };
                let start = Instant::now();
                hub.deliver(&event);
                hub.flush();
                timed += start.elapsed();
                if i % 1000 == 999 {
                    drain(&mut receivers);
                }
            }
            drain(&mut receivers);
            timed
        })
    });
    g.finish();
}

/// A `redis-server` on a free port, killed (by PID) on drop.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = Self { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The same store steps on any backend: a room of 20 users, each with one session.
fn store_ops(c: &mut Criterion, name: &str, rt: &tokio::runtime::Runtime, store: Arc<dyn Store>) {
    let now = now_ms();
    rt.block_on(async {
        for i in 0..20 {
            let user = format!("user-{i}");
            let session = format!("s-{i}");
            store
                .open_session(
                    NewSession {
                        id: session.clone(),
                        user: user.clone(),
                        name: user.clone(),
                        device: "web".into(),
                        node: "bench".into(),
                    },
                    20,
                    now,
                )
                .await
                .expect("open");
            store.join(&user, &session, "r", now).await.expect("join");
        }
    });
    let mut g = c.benchmark_group(format!("store/{name}"));
    g.bench_function("set_typing+clear_typing", |b| {
        b.iter(|| {
            rt.block_on(async {
                let _ = store
                    .set_typing("user-1", "s-1", "r", now_ms() + 60_000)
                    .await;
                let _ = store.clear_typing("user-1", "r", None).await;
            })
        })
    });
    g.bench_function("join+leave", |b| {
        b.iter(|| {
            rt.block_on(async {
                let _ = store.join("user-2", "s-2", "other", now_ms()).await;
                let _ = store.leave("user-2", "s-2", "other", now_ms()).await;
            })
        })
    });
    let mut n = 0u64;
    g.bench_function("update_user_custom", |b| {
        b.iter(|| {
            n += 1;
            let custom = CustomStatus {
                text: Some(format!("c{n}")),
                emoji: None,
                expires_at: None,
            };
            rt.block_on(store.update_user("user-3", UserUpdate::Custom(Some(custom)), now_ms()))
                .ok()
        })
    });
    g.bench_function("room_snapshot_20", |b| {
        b.iter(|| rt.block_on(store.room_snapshot("r", 1000, 100)).ok())
    });
    let mut k = 0u64;
    g.bench_function("open+close_session", |b| {
        b.iter_batched(
            || {
                k += 1;
                format!("tmp-{k}")
            },
            |session| {
                rt.block_on(async {
                    let _ = store
                        .open_session(
                            NewSession {
                                id: session.clone(),
                                user: "user-4".into(),
                                name: "user-4".into(),
                                device: session.clone(),
                                node: "bench".into(),
                            },
                            1000,
                            now_ms(),
                        )
                        .await;
                    let _ = store.close_session("user-4", &session, now_ms()).await;
                })
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn stores(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    store_ops(c, "memory", &rt, Arc::new(MemoryStore::new()));
    let Some(redis) = RedisServer::start() else {
        eprintln!("store/redis: skipped, no redis-server could be started");
        return;
    };
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let conn = rt
        .block_on(RedisConn::connect(&url, false, None))
        .expect("connect to the bench's redis-server");
    let store = RedisStore::new(conn, "bench", 3_600_000);
    store_ops(c, "redis", &rt, Arc::new(store));
    drop(redis);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = decode, serialize, fanout, stores
}
criterion_main!(benches);
