//! The store contract (`presence-server/src/store/mod.rs`), checked against every
//! backend. Each backend runs the same suite through `conformance_suite!`, given an
//! expression that builds a fresh, empty store.
#![allow(clippy::unwrap_used)]

mod common;

use presence_protocol::{ActivityState, ChosenStatus, CustomStatus, EffectiveStatus};
use presence_server::redis_link::RedisConn;
use presence_server::store::redis::RedisStore;
use presence_server::store::{
    NewSession, NodeLeases, Store, StoreError, TypingOutcome, UserUpdate,
};

const MAX: usize = 20;

fn session(user: &str, id: &str, device: &str) -> NewSession {
    NewSession {
        id: id.to_owned(),
        user: user.to_owned(),
        name: user.to_uppercase(),
        device: device.to_owned(),
        node: "node-a".to_owned(),
    }
}

async fn open(store: &dyn Store, user: &str, id: &str, device: &str, now: u64) {
    store
        .open_session(session(user, id, device), MAX, now)
        .await
        .unwrap_or_else(|e| panic!("open {id}: {e}"));
}

pub async fn first_session_brings_user_online(store: &dyn Store) {
    let opened = store
        .open_session(session("alice", "s1", "web"), MAX, 1_000)
        .await
        .unwrap();
    assert!(opened.resumed.is_none() && opened.evicted.is_none());
    let change = opened.change;
    assert_eq!(change.before.public_status(), EffectiveStatus::Offline);
    assert_eq!(change.after.public_status(), EffectiveStatus::Online);
    assert_eq!(
        (change.after.since, change.after.name.as_str()),
        (1_000, "ALICE")
    );
    assert!(change.rooms.is_empty());
}

pub async fn sessions_are_limited_per_user_but_lingering_ones_make_room(store: &dyn Store) {
    store
        .open_session(session("a", "s1", "d1"), 2, 1)
        .await
        .unwrap();
    store
        .open_session(session("a", "s2", "d2"), 2, 2)
        .await
        .unwrap();
    let refused = store.open_session(session("a", "s3", "d3"), 2, 3).await;
    assert!(matches!(refused, Err(StoreError::TooManySessions(2))));
    store.linger_session("a", "s1", 4).await.unwrap();
    let opened = store
        .open_session(session("a", "s3", "d3"), 2, 5)
        .await
        .unwrap();
    let evicted = opened.evicted.expect("the lingering session makes room");
    assert_eq!(evicted.after.sessions.len(), 1);
    assert_eq!(opened.change.after.sessions.len(), 2);
}

pub async fn same_device_reconnect_takes_over_the_lingering_session(store: &dyn Store) {
    open(store, "a", "old", "web", 1).await;
    store.join("a", "old", "r1", 2).await.unwrap();
    store.join("a", "old", "r2", 2).await.unwrap();
    let lingered = store.linger_session("a", "old", 3).await.unwrap();
    assert_eq!(lingered.after.public_status(), EffectiveStatus::Online);
    let opened = store
        .open_session(session("a", "new", "web"), MAX, 4)
        .await
        .unwrap();
    let resumed = opened.resumed.expect("resumed");
    assert_eq!(resumed.session, "old");
    let mut rooms = resumed.rooms.clone();
    rooms.sort();
    assert_eq!(rooms, ["r1", "r2"]);
    // Same device count before and after: no flap for anyone.
    assert_eq!(
        opened
            .change
            .before
            .view(presence_server::presence::Viewer::Others, 4),
        opened
            .change
            .after
            .view(presence_server::presence::Viewer::Others, 4)
    );
    // The rooms now belong to the new session: the old one's close changes nothing.
    assert!(store.close_session("a", "old", 5).await.unwrap().is_none());
    assert_eq!(
        store.room_snapshot("r1", 1_000, 100).await.unwrap().count,
        1
    );
    let left = store.leave("a", "new", "r1", 6).await.unwrap();
    assert!(left.rooms[0].was_member && !left.rooms[0].is_member);
}

pub async fn membership_is_per_session_and_a_user_leaves_with_the_last(store: &dyn Store) {
    open(store, "a", "s1", "web", 1).await;
    open(store, "a", "s2", "phone", 1).await;
    let j1 = store.join("a", "s1", "room", 2).await.unwrap();
    assert!(!j1.rooms[0].was_member && j1.rooms[0].is_member);
    assert_eq!(j1.rooms[0].count, 1);
    let j2 = store.join("a", "s2", "room", 3).await.unwrap();
    assert!(j2.rooms[0].was_member && j2.rooms[0].is_member);
    assert_eq!(j2.rooms[0].count, 1, "one member however many sessions");
    let l1 = store.leave("a", "s1", "room", 4).await.unwrap();
    assert!(l1.rooms[0].is_member);
    let closed = store.close_session("a", "s2", 5).await.unwrap().unwrap();
    assert!(closed
        .rooms
        .iter()
        .any(|r| r.room == "room" && !r.is_member && r.count == 0));
    assert_eq!(
        store.room_snapshot("room", 1_000, 100).await.unwrap().count,
        0
    );
}

pub async fn closing_the_last_session_sets_last_seen(store: &dyn Store) {
    open(store, "a", "s1", "web", 10).await;
    let closed = store.close_session("a", "s1", 20).await.unwrap().unwrap();
    assert_eq!(closed.after.public_status(), EffectiveStatus::Offline);
    assert_eq!((closed.after.last_seen, closed.after.since), (Some(20), 20));
    let users = store.users(&["a".into(), "nobody".into()]).await.unwrap();
    assert_eq!(users[0].last_seen, Some(20));
    assert_eq!(users[1].id, "nobody");
    assert_eq!(users[1].last_seen, None);
    assert_eq!(users[1].public_status(), EffectiveStatus::Offline);
}

pub async fn closing_a_session_touches_every_room_of_the_user(store: &dyn Store) {
    open(store, "a", "web", "web", 1).await;
    open(store, "a", "ios", "ios", 1).await;
    store.join("a", "web", "r1", 2).await.unwrap();
    // The ios session is in no room, yet its end changes the device count in r1.
    let closed = store.close_session("a", "ios", 3).await.unwrap().unwrap();
    assert_eq!(closed.after.sessions.len(), 1);
    let r1 = closed
        .rooms
        .iter()
        .find(|r| r.room == "r1")
        .expect("r1 touched");
    assert!(r1.was_member && r1.is_member);
}

pub async fn user_updates_touch_every_room_of_the_user(store: &dyn Store) {
    open(store, "a", "s1", "web", 1).await;
    store.join("a", "s1", "r1", 2).await.unwrap();
    store.join("a", "s1", "r2", 2).await.unwrap();
    let change = store
        .update_user("a", UserUpdate::Status(ChosenStatus::Busy), 3)
        .await
        .unwrap();
    let mut rooms: Vec<_> = change.rooms.iter().map(|r| r.room.as_str()).collect();
    rooms.sort_unstable();
    assert_eq!(rooms, ["r1", "r2"]);
    assert_eq!(change.after.public_status(), EffectiveStatus::Busy);
    assert_eq!(change.after.since, 3);
}

pub async fn activity_idle_on_every_device_means_away(store: &dyn Store) {
    open(store, "a", "s1", "web", 1).await;
    open(store, "a", "s2", "phone", 1).await;
    let c = store
        .set_activity("a", "s1", ActivityState::Idle, 2)
        .await
        .unwrap();
    assert_eq!(c.after.public_status(), EffectiveStatus::Online);
    let c = store
        .set_activity("a", "s2", ActivityState::Idle, 3)
        .await
        .unwrap();
    assert_eq!(c.after.public_status(), EffectiveStatus::Away);
    assert_eq!(c.after.since, 3);
    let gone = store
        .set_activity("a", "nope", ActivityState::Idle, 4)
        .await;
    assert!(matches!(gone, Err(StoreError::NoSession(_))));
}

pub async fn invisible_members_are_not_counted_or_listed(store: &dyn Store) {
    open(store, "a", "s1", "web", 1).await;
    open(store, "b", "s2", "web", 1).await;
    store.join("a", "s1", "room", 2).await.unwrap();
    store.join("b", "s2", "room", 2).await.unwrap();
    assert_eq!(
        store.set_typing("a", "s1", "room", 100).await.unwrap(),
        TypingOutcome::Started
    );
    let change = store
        .update_user("a", UserUpdate::Status(ChosenStatus::Invisible), 3)
        .await
        .unwrap();
    let effect = &change.rooms[0];
    assert!(effect.is_member && effect.typing_ended);
    assert_eq!(effect.count, 1);
    assert_eq!(change.after.last_seen, Some(3));
    let snap = store.room_snapshot("room", 1_000, 100).await.unwrap();
    assert_eq!(snap.count, 1);
    assert_eq!(
        snap.members
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
    assert!(snap.typing.is_empty());
    assert_eq!(
        store.set_typing("a", "s1", "room", 200).await.unwrap(),
        TypingOutcome::Hidden
    );
    let back = store
        .update_user("a", UserUpdate::Status(ChosenStatus::Online), 4)
        .await
        .unwrap();
    assert_eq!(back.rooms[0].count, 2);
}

pub async fn typing_is_owned_by_a_session_and_expires_by_deadline(store: &dyn Store) {
    open(store, "a", "s1", "web", 1).await;
    open(store, "a", "s2", "phone", 1).await;
    store.join("a", "s1", "room", 2).await.unwrap();
    store.join("a", "s2", "room", 2).await.unwrap();
    assert_eq!(
        store.set_typing("a", "s1", "room", 100).await.unwrap(),
        TypingOutcome::Started
    );
    assert_eq!(
        store.set_typing("a", "s1", "room", 200).await.unwrap(),
        TypingOutcome::Refreshed
    );
    assert_eq!(
        store
            .room_snapshot("room", 1_000, 100)
            .await
            .unwrap()
            .typing,
        ["a"]
    );
    // A timer for the old deadline does nothing after a refresh.
    assert!(!store.clear_typing("a", "room", Some(100)).await.unwrap());
    assert!(store.clear_typing("a", "room", Some(200)).await.unwrap());
    assert!(!store.clear_typing("a", "room", None).await.unwrap());
    // The owner session lingering ends its typing; another session's does not.
    store.set_typing("a", "s1", "room", 300).await.unwrap();
    let other = store.linger_session("a", "s2", 3).await.unwrap();
    assert!(other.rooms.iter().all(|r| !r.typing_ended));
    let owner = store.linger_session("a", "s1", 4).await.unwrap();
    assert!(owner
        .rooms
        .iter()
        .any(|r| r.room == "room" && r.typing_ended));
    assert!(store
        .room_snapshot("room", 1_000, 100)
        .await
        .unwrap()
        .typing
        .is_empty());
}

pub async fn custom_status_expiry_clears_only_the_status_it_was_set_for(store: &dyn Store) {
    open(store, "a", "s1", "web", 1).await;
    let custom = |text: &str, at: u64| {
        Some(CustomStatus {
            text: Some(text.into()),
            emoji: None,
            expires_at: Some(at),
        })
    };
    store
        .update_user("a", UserUpdate::Custom(custom("lunch", 50)), 2)
        .await
        .unwrap();
    store
        .update_user("a", UserUpdate::Custom(custom("meeting", 90)), 3)
        .await
        .unwrap();
    let stale = store
        .update_user("a", UserUpdate::ExpireCustom { expires_at: 50 }, 50)
        .await
        .unwrap();
    assert_eq!(stale.after.custom.unwrap().text.as_deref(), Some("meeting"));
    let due = store
        .update_user("a", UserUpdate::ExpireCustom { expires_at: 90 }, 90)
        .await
        .unwrap();
    assert!(due.after.custom.is_none());
}

pub async fn large_rooms_list_only_the_first_members(store: &dyn Store) {
    for i in 0..12 {
        let (user, id) = (format!("u{i:02}"), format!("s{i}"));
        open(store, &user, &id, "web", 1).await;
        store.join(&user, &id, "big", 2).await.unwrap();
    }
    let small = store.room_snapshot("big", 20, 5).await.unwrap();
    assert_eq!((small.count, small.members.len()), (12, 12));
    let large = store.room_snapshot("big", 10, 5).await.unwrap();
    assert_eq!((large.count, large.members.len()), (12, 5));
    let ids: Vec<_> = large.members.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        ["u00", "u01", "u02", "u03", "u04"],
        "ordered by user id"
    );
}

/// Leases and sweeps, for stores shared by several nodes.
pub async fn leases_expire_and_one_sweeper_claims_a_dead_node(store: &(impl Store + NodeLeases)) {
    // A first renewal finds no lease; the next ones do.
    assert!(!store.renew_lease("n1", 200, 1_000).await.unwrap());
    assert!(store.renew_lease("n1", 200, 1_100).await.unwrap());
    store
        .open_session(
            NewSession {
                node: "n1".into(),
                ..session("a", "s1", "web")
            },
            MAX,
            1_100,
        )
        .await
        .unwrap();
    store
        .open_session(
            NewSession {
                node: "n1".into(),
                ..session("b", "s2", "web")
            },
            MAX,
            1_100,
        )
        .await
        .unwrap();
    store.join("a", "s1", "room", 1_100).await.unwrap();
    // Not expired yet by the registry's clock, and a live lease cannot be claimed.
    assert!(store.expired_nodes(1_200).await.unwrap().is_empty());
    assert!(!store.claim_sweep("n1", "n2", 10_000).await.unwrap());
    // The lease runs out in Redis (200 ms) and by the registry's clock.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(store.expired_nodes(1_400).await.unwrap(), ["n1"]);
    assert!(store.claim_sweep("n1", "n2", 10_000).await.unwrap());
    assert!(
        !store.claim_sweep("n1", "n3", 10_000).await.unwrap(),
        "claimed once"
    );
    let mut sessions = store.node_sessions("n1").await.unwrap();
    sessions.sort();
    assert_eq!(
        sessions,
        [
            ("a".to_owned(), "s1".to_owned()),
            ("b".to_owned(), "s2".to_owned())
        ]
    );
    for (user, id) in &sessions {
        let closed = store.close_session(user, id, 1_500).await.unwrap().unwrap();
        assert_eq!(closed.after.public_status(), EffectiveStatus::Offline);
    }
    assert!(store.node_sessions("n1").await.unwrap().is_empty());
    store.forget_node("n1").await.unwrap();
    assert!(store.expired_nodes(9_999).await.unwrap().is_empty());
    assert_eq!(
        store.room_snapshot("room", 1_000, 100).await.unwrap().count,
        0
    );
}

pub async fn asserting_a_session_restores_it_and_its_rooms(store: &(impl Store + NodeLeases)) {
    let s = NewSession {
        node: "n1".into(),
        ..session("a", "s1", "web")
    };
    let rooms = ["r1".to_owned(), "r2".to_owned()];
    let change = store
        .assert_session(s.clone(), ActivityState::Idle, &rooms, 10)
        .await
        .unwrap()
        .expect("missing session is restored");
    assert_eq!(change.after.public_status(), EffectiveStatus::Away);
    assert!(change.rooms.iter().all(|r| !r.was_member && r.is_member));
    assert_eq!(
        store.room_snapshot("r2", 1_000, 100).await.unwrap().count,
        1
    );
    assert!(store
        .assert_session(s, ActivityState::Idle, &rooms, 11)
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.node_sessions("n1").await.unwrap().len(), 1);
}

pub async fn a_resumed_session_leaves_its_nodes_index(store: &(impl Store + NodeLeases)) {
    let on = |node: &str, id: &str| NewSession {
        node: node.into(),
        ..session("a", id, "web")
    };
    store.open_session(on("n1", "old"), MAX, 1).await.unwrap();
    store.linger_session("a", "old", 2).await.unwrap();
    let opened = store.open_session(on("n2", "new"), MAX, 3).await.unwrap();
    assert_eq!(opened.resumed.unwrap().session, "old");
    assert!(store.node_sessions("n1").await.unwrap().is_empty());
    assert_eq!(
        store.node_sessions("n2").await.unwrap(),
        [("a".to_owned(), "new".to_owned())]
    );
}

/// The retention of the stores below: short, so that it passes within the test.
const RETENTION_MS: u64 = 300;

/// Reads `user` until the store has forgotten them (their record is
/// [`UserRecord::unknown`] again); panics if that takes more than 10 s, far past
/// [`RETENTION_MS`].
async fn until_forgotten(store: &dyn Store, user: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let rec = store.users(&[user.to_owned()]).await.unwrap().remove(0);
        if rec == presence_server::store::UserRecord::unknown(user) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{user} still kept long after the retention: {rec:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// For a store built with a retention of [`RETENTION_MS`]: a user without a session
/// is forgotten once it passes (last seen, status, privacy and name); a user with
/// one, lingering or live, is kept however long.
pub async fn offline_users_are_forgotten_after_the_retention(store: &dyn Store) {
    open(store, "online", "s1", "web", 1).await;
    open(store, "lingering", "s2", "web", 1).await;
    store.linger_session("lingering", "s2", 2).await.unwrap();
    open(store, "gone", "s3", "web", 1).await;
    store
        .update_user("gone", UserUpdate::Status(ChosenStatus::Busy), 2)
        .await
        .unwrap();
    let closed = store.close_session("gone", "s3", 3).await.unwrap().unwrap();
    assert_eq!(closed.after.last_seen, Some(3));
    until_forgotten(store, "gone").await;
    // The retention has passed for everyone; the users with a session are all there.
    let kept = store
        .users(&["online".into(), "lingering".into()])
        .await
        .unwrap();
    assert_eq!(kept[0].sessions.len(), 1);
    assert_eq!(kept[0].public_status(), EffectiveStatus::Online);
    assert!(kept[1].sessions[0].lingering);
    // A forgotten user who comes back starts afresh: no old status.
    let opened = store
        .open_session(session("gone", "s4", "web"), MAX, 4)
        .await
        .unwrap();
    assert_eq!(opened.change.before.last_seen, None);
    assert_eq!(opened.change.after.chosen, ChosenStatus::Online);
    // Going offline starts the retention: the user is forgotten after it.
    store.close_session("online", "s1", 5).await.unwrap();
    until_forgotten(store, "online").await;
}

mod retention {
    use super::*;
    use presence_server::store::memory::MemoryStore;
    use presence_server::Clock;

    #[tokio::test]
    async fn memory() {
        let store = MemoryStore::with_retention(Clock::system(), RETENTION_MS);
        offline_users_are_forgotten_after_the_retention(&store).await;
    }

    #[tokio::test]
    async fn redis() {
        let server = common::redis::RedisServer::start();
        let conn = RedisConn::connect(&server.url(), false, None)
            .await
            .unwrap();
        let store = RedisStore::new(conn, "conformance", RETENTION_MS);
        offline_users_are_forgotten_after_the_retention(&store).await;
    }

    #[tokio::test]
    async fn redis_cluster() {
        let cluster = common::redis::RedisCluster::start();
        let conn = RedisConn::connect(&cluster.urls(), true, None)
            .await
            .unwrap();
        let store = RedisStore::new(conn, "conformance", RETENTION_MS);
        offline_users_are_forgotten_after_the_retention(&store).await;
    }
}

/// Runs every contract test against a backend; `$make` builds a fresh store.
macro_rules! conformance_suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            conformance_suite!(@tests $make;
                first_session_brings_user_online,
                sessions_are_limited_per_user_but_lingering_ones_make_room,
                same_device_reconnect_takes_over_the_lingering_session,
                membership_is_per_session_and_a_user_leaves_with_the_last,
                closing_the_last_session_sets_last_seen,
                closing_a_session_touches_every_room_of_the_user,
                user_updates_touch_every_room_of_the_user,
                activity_idle_on_every_device_means_away,
                invisible_members_are_not_counted_or_listed,
                typing_is_owned_by_a_session_and_expires_by_deadline,
                custom_status_expiry_clears_only_the_status_it_was_set_for,
                large_rooms_list_only_the_first_members,
            );
        }
    };
    (@tests $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                // The guard keeps what the store needs (a Redis server) alive.
                let (_guard, store) = $make.await;
                super::$name(&store).await;
            }
        )+
    };
}

conformance_suite!(memory, async {
    ((), presence_server::store::memory::MemoryStore::new())
});

/// The lease tests, for shared stores only.
macro_rules! shared_suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            conformance_suite!(@tests $make;
                leases_expire_and_one_sweeper_claims_a_dead_node,
                asserting_a_session_restores_it_and_its_rooms,
                a_resumed_session_leaves_its_nodes_index,
            );
        }
    };
}

shared_suite!(redis_shared, async {
    let server = common::redis::RedisServer::start();
    let conn = RedisConn::connect(&server.url(), false, None)
        .await
        .unwrap();
    (server, RedisStore::new(conn, "conformance", 60_000))
});

shared_suite!(redis_cluster_shared, async {
    let cluster = common::redis::RedisCluster::start();
    let conn = RedisConn::connect(&cluster.urls(), true, None)
        .await
        .unwrap();
    (cluster, RedisStore::new(conn, "conformance", 60_000))
});

conformance_suite!(redis, async {
    let server = common::redis::RedisServer::start();
    let conn = RedisConn::connect(&server.url(), false, None)
        .await
        .unwrap();
    (server, RedisStore::new(conn, "conformance", 60_000))
});

conformance_suite!(redis_cluster, async {
    let cluster = common::redis::RedisCluster::start();
    let conn = RedisConn::connect(&cluster.urls(), true, None)
        .await
        .unwrap();
    (cluster, RedisStore::new(conn, "conformance", 60_000))
});
