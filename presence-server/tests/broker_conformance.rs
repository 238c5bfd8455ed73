//! The broker contract (`presence-server/src/broker/mod.rs`), checked against every
//! backend. Each backend runs the same suite through `conformance_suite!`, given an
//! expression that builds two fresh nodes: `a` publishes, `b` listens. The in-memory
//! broker is one node, so there `a` and `b` are the same node; with Redis they are two
//! nodes (two hubs, two brokers) on one real `redis-server`.
//!
//! What a node receives is watched through its hub, as the service does: a session
//! subscribed in the hub, and the broker told when the hub reports the first interest
//! in a topic. A *spy* is a session subscribed in the hub only, with the broker never
//! told: it sees whatever the broker delivers for its topic, so it shows deliveries the
//! node did not ask for.
#![allow(clippy::unwrap_used)]

mod common;

use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use presence_protocol::{EffectiveStatus, Presence, ServerFrame};
use presence_server::broker::memory::MemoryBroker;
use presence_server::broker::redis::RedisBroker;
use presence_server::broker::Broker;
use presence_server::events::{Event, Topic};
use presence_server::hub::{Hub, Interest, LocalId, Outbox};
use presence_server::outbox::Take;
use presence_server::redis_link::RedisConn;
use presence_server::ws::Outgoing;

/// How long a frame that should come may take before the test fails (not a timing
/// assert: a frame that is lost never comes).
const WAIT: Duration = Duration::from_secs(10);

/// One server node: its hub and its broker.
#[derive(Clone)]
struct Node {
    hub: Arc<Hub>,
    broker: Arc<dyn Broker>,
}

/// The nodes a test uses: `a` publishes, `b` listens.
struct Pair {
    a: Node,
    b: Node,
    /// One node (the in-memory broker): `b` is `a`, and a node always gets the
    /// events it publishes itself, subscribed or not.
    same_node: bool,
}

fn hub() -> Arc<Hub> {
    // No coalescing window: nothing here depends on it (only `presence` and `typing`
    // frames are watched, and those go out at once).
    Arc::new(Hub::new(1000, Duration::from_secs(1), Duration::ZERO))
}

fn memory_pair() -> Pair {
    let hub = hub();
    let node = Node {
        broker: Arc::new(MemoryBroker::new(hub.clone())),
        hub,
    };
    Pair {
        a: node.clone(),
        b: node,
        same_node: true,
    }
}

async fn redis_node(url: &str, name: &str) -> Node {
    let hub = hub();
    let publisher = RedisConn::connect(url, false, None).await.unwrap();
    let broker = RedisBroker::connect(
        url,
        false,
        "conformance",
        name.to_owned(),
        hub.clone(),
        publisher,
    )
    .await
    .unwrap();
    Node {
        hub,
        broker: Arc::new(broker),
    }
}

async fn redis_pair(server: &common::redis::RedisServer) -> Pair {
    Pair {
        a: redis_node(&server.url(), "node-a").await,
        b: redis_node(&server.url(), "node-b").await,
        same_node: false,
    }
}

fn presence_of(user: &str, since: u64) -> Presence {
    Presence {
        user: user.to_owned(),
        name: String::new(),
        status: EffectiveStatus::Online,
        since,
        custom: None,
        last_seen: None,
        last_seen_approx: None,
        devices: 1,
    }
}

/// `user`'s presence changed; `since` numbers the events of a test.
fn presence(user: &str, since: u64) -> Event {
    let p = presence_of(user, since);
    Event::User {
        user: user.to_owned(),
        public: Some(p.clone()),
        own: Some(p),
    }
}

fn typing(room: &str, user: &str) -> Event {
    Event::Typing {
        room: room.to_owned(),
        user: user.to_owned(),
        typing: true,
    }
}

/// A local session and what it has received so far.
struct Listener {
    id: LocalId,
    out: Outbox,
    seen: Vec<ServerFrame>,
}

impl Listener {
    fn new(node: &Node, name: &str) -> Self {
        let out = Outbox::new(4096);
        let id = node.hub.register(name, out.clone());
        Self {
            id,
            out,
            seen: Vec::new(),
        }
    }

    /// Moves what is queued into `seen`.
    fn take(&mut self) {
        while let Some(Take::Frames(frames)) = self.out.try_take() {
            for frame in frames {
                if let Outgoing::Text(text) = frame {
                    self.seen.push(ServerFrame::decode(text.as_str()).unwrap());
                }
            }
        }
    }

    /// Waits until `done` holds for what was received (at most [`WAIT`]).
    async fn wait_until(&mut self, what: &str, done: impl Fn(&[ServerFrame]) -> bool) {
        let waited = tokio::time::timeout(
            WAIT,
            poll_fn(|cx| {
                self.out.register(cx.waker());
                self.take();
                if done(&self.seen) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }),
        )
        .await;
        assert!(waited.is_ok(), "{what} never came; got {:?}", self.seen);
    }

    /// The `since` of each `presence` received, and whose it was.
    fn presences(&self) -> Vec<(&str, u64)> {
        self.seen
            .iter()
            .filter_map(|f| match f {
                ServerFrame::Presence { presence } => {
                    Some((presence.user.as_str(), presence.since))
                }
                _ => None,
            })
            .collect()
    }

    /// The `typing` frames received, as (room, user).
    fn typists(&self) -> Vec<(&str, &str)> {
        self.seen
            .iter()
            .filter_map(|f| match f {
                ServerFrame::Typing { room, user, .. } => Some((room.as_str(), user.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Waits for the `presence` of `user` numbered `since`.
    async fn wait_for_presence(&mut self, user: &str, since: u64) {
        self.wait_until(&format!("{user}'s presence {since}"), |seen| {
            seen.iter().any(|f| {
                matches!(f, ServerFrame::Presence { presence }
                    if presence.user == user && presence.since == since)
            })
        })
        .await;
    }
}

/// A session on `node` watching `user`, with its (empty) state sent; the broker is
/// told if `tell_broker` and the hub reports the node's first interest.
async fn watcher(node: &Node, user: &str, tell_broker: bool) -> Listener {
    let mut l = Listener::new(node, &format!("watcher-of-{user}"));
    let interest = node.hub.subscribe_watch(user, l.id);
    if tell_broker && interest == Interest::First {
        node.broker
            .subscribe(Topic::User(user.to_owned()))
            .await
            .unwrap();
    }
    let state = ServerFrame::PresenceState {
        users: Vec::new(),
        r#ref: None,
    };
    node.hub.release_watch(&[user.to_owned()], l.id, &state);
    l.take();
    l.seen.clear();
    l
}

/// A session on `node` in `room`, with its (empty) state sent; see [`watcher`].
async fn member(node: &Node, room: &str, tell_broker: bool) -> Listener {
    let mut l = Listener::new(node, &format!("member-of-{room}"));
    let interest = node.hub.subscribe_room(room, l.id);
    if tell_broker && interest == Interest::First {
        node.broker
            .subscribe(Topic::Room(room.to_owned()))
            .await
            .unwrap();
    }
    let state = ServerFrame::RoomState {
        room: room.to_owned(),
        count: 0,
        members: Vec::new(),
        typing: Vec::new(),
        r#ref: None,
    };
    node.hub
        .release_room(room, l.id, &state, 0, tokio::time::Instant::now());
    l.take();
    l.seen.clear();
    l
}

async fn events_of_a_topic_arrive_in_publish_order_once_each(pair: &Pair) {
    let mut on_a = watcher(&pair.a, "u", true).await;
    let mut on_b = watcher(&pair.b, "u", true).await;
    for since in 1..=100 {
        pair.a.broker.publish(presence("u", since)).await.unwrap();
    }
    // Published by the other node after all of them: once it is in, so is every copy
    // of theirs that could come back to `a`.
    pair.b.broker.publish(presence("u", 101)).await.unwrap();
    let expected: Vec<(&str, u64)> = (1..=101).map(|since| ("u", since)).collect();
    for (node, listener) in [("a", &mut on_a), ("b", &mut on_b)] {
        listener.wait_for_presence("u", 101).await;
        assert_eq!(listener.presences(), expected, "on node {node}");
    }
}

async fn the_publishers_node_gets_its_own_events_at_once(pair: &Pair) {
    // Subscribed in the hub only: the broker was never asked for the topic.
    let mut local = watcher(&pair.a, "own", false).await;
    pair.a.broker.publish(presence("own", 1)).await.unwrap();
    // Delivered by the time `publish` returns, without a round trip.
    local.take();
    assert_eq!(local.presences(), [("own", 1)]);
    pair.a.broker.publish(presence("own", 2)).await.unwrap();
    local.take();
    assert_eq!(local.presences(), [("own", 1), ("own", 2)]);
}

async fn a_publish_right_after_subscribe_returns_is_delivered(pair: &Pair) {
    // Many fresh topics: one subscription that returned before it was live would lose
    // its event for good.
    for k in 0..20 {
        let user = format!("fresh-{k}");
        let mut on_b = watcher(&pair.b, &user, true).await;
        pair.a.broker.publish(presence(&user, 1)).await.unwrap();
        on_b.wait_for_presence(&user, 1).await;
        assert_eq!(on_b.presences(), [(user.as_str(), 1)]);
    }
}

async fn after_unsubscribe_the_topic_no_longer_arrives(pair: &Pair) {
    let mut leaving = watcher(&pair.b, "gone", true).await;
    let mut marker = watcher(&pair.b, "marker", true).await;
    pair.a.broker.publish(presence("gone", 1)).await.unwrap();
    leaving.wait_for_presence("gone", 1).await;
    // The last local interest ends: the broker is told, as the service does.
    assert_eq!(pair.b.hub.unwatch("gone", leaving.id), Interest::Last);
    pair.b
        .broker
        .unsubscribe(Topic::User("gone".into()))
        .await
        .unwrap();
    let mut spy = watcher(&pair.b, "gone", false).await;
    pair.a.broker.publish(presence("gone", 2)).await.unwrap();
    // Published after it, on a topic still subscribed: once it is in, so would be the
    // other (one Redis, one subscriber connection: in publish order).
    pair.a.broker.publish(presence("marker", 1)).await.unwrap();
    marker.wait_for_presence("marker", 1).await;
    spy.take();
    if pair.same_node {
        // This node published it: its own sessions get it, subscribed or not.
        assert_eq!(spy.presences(), [("gone", 2)]);
    } else {
        assert_eq!(spy.presences(), [], "delivered after unsubscribe");
    }
    leaving.take();
    assert_eq!(leaving.presences(), [("gone", 1)]);
}

/// What a frame is about.
fn topic_of(frame: &ServerFrame) -> Option<Topic> {
    match frame {
        ServerFrame::Presence { presence } => Some(Topic::User(presence.user.clone())),
        ServerFrame::Typing { room, .. } => Some(Topic::Room(room.clone())),
        _ => None,
    }
}

async fn many_topics_do_not_cross(pair: &Pair) {
    const TOPICS: usize = 10;
    // Each name is subscribed as a user on even `k` and as a room on odd `k`. Spies
    // watch the other topic of the same name, and a user of a near name: neither is
    // subscribed.
    let mut listeners = Vec::new();
    let mut spies = Vec::new();
    for k in 0..TOPICS {
        let name = format!("t{k}");
        let near = format!("{name}-x");
        if k % 2 == 0 {
            listeners.push((
                Topic::User(name.clone()),
                watcher(&pair.b, &name, true).await,
            ));
            spies.push((
                Topic::Room(name.clone()),
                member(&pair.b, &name, false).await,
            ));
        } else {
            listeners.push((
                Topic::Room(name.clone()),
                member(&pair.b, &name, true).await,
            ));
            spies.push((
                Topic::User(name.clone()),
                watcher(&pair.b, &name, false).await,
            ));
        }
        spies.push((
            Topic::User(near.clone()),
            watcher(&pair.b, &near, false).await,
        ));
    }
    for k in 0..TOPICS {
        let name = format!("t{k}");
        for n in 1..=3 {
            pair.a.broker.publish(presence(&name, n)).await.unwrap();
            let typist = format!("typist-{k}-{n}");
            pair.a.broker.publish(typing(&name, &typist)).await.unwrap();
        }
        let near = format!("{name}-x");
        pair.a.broker.publish(presence(&near, 1)).await.unwrap();
    }
    // Published last, on a subscribed topic: once it is in, so is everything else (one
    // Redis, one subscriber connection: in publish order).
    pair.a.broker.publish(presence("t0", 4)).await.unwrap();
    listeners[0].1.wait_for_presence("t0", 4).await;
    for (k, (topic, listener)) in listeners.iter_mut().enumerate() {
        listener.take();
        let name = format!("t{k}");
        if k % 2 == 0 {
            let last = if k == 0 { 4 } else { 3 };
            let want: Vec<(&str, u64)> = (1..=last).map(|n| (name.as_str(), n)).collect();
            assert_eq!(listener.presences(), want, "the watcher of user {name}");
        } else {
            let typists: Vec<String> = (1..=3).map(|n| format!("typist-{k}-{n}")).collect();
            let want: Vec<(&str, &str)> = typists
                .iter()
                .map(|t| (name.as_str(), t.as_str()))
                .collect();
            assert_eq!(listener.typists(), want, "the member of room {name}");
        }
        for frame in &listener.seen {
            assert_eq!(topic_of(frame).as_ref(), Some(&*topic), "{frame:?}");
        }
    }
    for (topic, spy) in &mut spies {
        spy.take();
        for frame in &spy.seen {
            assert_eq!(topic_of(frame).as_ref(), Some(&*topic), "{frame:?}");
        }
        if pair.same_node {
            // This node published them: its own sessions get them, subscribed or not.
            assert!(!spy.seen.is_empty(), "{topic:?}");
        } else {
            assert!(
                spy.seen.is_empty(),
                "{topic:?} not subscribed, yet got {:?}",
                spy.seen
            );
        }
    }
}

/// Runs every contract test against a backend; `$make` builds two fresh nodes.
macro_rules! conformance_suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            conformance_suite!(@tests $make;
                events_of_a_topic_arrive_in_publish_order_once_each,
                the_publishers_node_gets_its_own_events_at_once,
                a_publish_right_after_subscribe_returns_is_delivered,
                after_unsubscribe_the_topic_no_longer_arrives,
                many_topics_do_not_cross,
            );
        }
    };
    (@tests $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                // The guard keeps what the brokers need (a Redis server) alive.
                let (_guard, pair) = $make.await;
                super::$name(&pair).await;
            }
        )+
    };
}

conformance_suite!(memory, async { ((), memory_pair()) });

conformance_suite!(redis, async {
    let server = common::redis::RedisServer::start();
    let pair = redis_pair(&server).await;
    (server, pair)
});
