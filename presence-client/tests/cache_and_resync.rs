//! The local cache, kept from every server frame, and the resync after a reconnect.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use presence_client::core::{ConnectionState, Effect, Event, Input};
use presence_client::protocol::{
    ChosenStatus, ClientFrame, CustomStatus, EffectiveStatus, ErrorCode, LastSeenPrivacy,
    ServerFrame,
};

fn members(h: &Harness, room: &str) -> Vec<String> {
    h.core
        .room(room)
        .map(|r| r.members.keys().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn typists(h: &Harness, room: &str) -> Vec<String> {
    h.core
        .room(room)
        .map(|r| r.typing.keys().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Joined `room` and received its state with `present` as members.
fn in_room(room: &str, present: &[&str]) -> Harness {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Join(room.into()));
    let r = join_ref(&h.sent(), room);
    h.frame(room_state(room, present, &[], r));
    h.take();
    h
}

#[test]
fn room_state_fills_the_room_and_tells_the_app() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Join("lobby".into()));
    assert!(
        h.core.room("lobby").is_none(),
        "nothing known before the state"
    );
    let r = join_ref(&h.sent(), "lobby");
    assert!(r.is_some(), "joins carry a ref");
    h.frame(room_state("lobby", &["bob", "alice"], &["bob"], r));
    assert_eq!(h.events(), [Event::Room("lobby".into())]);
    let room = h.core.room("lobby").unwrap();
    assert_eq!(room.count, 2);
    assert_eq!(members(&h, "lobby"), ["alice", "bob"], "sorted by id");
    assert_eq!(typists(&h, "lobby"), ["bob"]);
}

#[test]
fn room_diff_adds_updates_and_removes_members() {
    let mut h = in_room("lobby", &["alice", "bob"]);
    let mut busy_bob = online("bob");
    busy_bob.status = EffectiveStatus::Busy;
    h.frame(ServerFrame::RoomDiff {
        room: "lobby".into(),
        joins: vec![online("carol"), online("dave")],
        leaves: vec![],
        updates: vec![busy_bob],
    });
    assert_eq!(h.events(), [Event::Room("lobby".into())]);
    assert_eq!(members(&h, "lobby"), ["alice", "bob", "carol", "dave"]);
    let room = h.core.room("lobby").unwrap();
    assert_eq!(room.count, 4);
    assert_eq!(
        room.members.get("bob").unwrap().status,
        EffectiveStatus::Busy
    );

    h.frame(ServerFrame::RoomDiff {
        room: "lobby".into(),
        joins: vec![],
        leaves: vec!["carol".into(), "nobody".into()],
        updates: vec![online("ghost")],
    });
    assert_eq!(members(&h, "lobby"), ["alice", "bob", "dave"]);
    assert_eq!(h.core.room("lobby").unwrap().count, 3);
}

#[test]
fn a_join_of_someone_already_listed_is_an_update_not_a_second_member() {
    let mut h = in_room("lobby", &["alice", "bob"]);
    h.frame(ServerFrame::RoomDiff {
        room: "lobby".into(),
        joins: vec![online("bob")],
        leaves: vec![],
        updates: vec![],
    });
    assert_eq!(h.core.room("lobby").unwrap().count, 2);
}

#[test]
fn room_count_sets_the_count_of_a_large_room() {
    let mut h = in_room("big", &["alice"]);
    h.frame(ServerFrame::RoomCount {
        room: "big".into(),
        count: 5_000,
    });
    assert_eq!(h.events(), [Event::Room("big".into())]);
    assert_eq!(h.core.room("big").unwrap().count, 5_000);
    h.frame(ServerFrame::RoomCount {
        room: "big".into(),
        count: 5_000,
    });
    assert!(h.events().is_empty(), "no change, no event");
}

#[test]
fn typing_frames_update_the_typing_set_and_tell_the_app_twice() {
    let mut h = in_room("lobby", &["alice", "bob"]);
    h.frame(ServerFrame::Typing {
        room: "lobby".into(),
        user: "bob".into(),
        typing: true,
    });
    assert_eq!(
        h.events(),
        [
            Event::Typing {
                room: "lobby".into(),
                user: "bob".into(),
                typing: true
            },
            Event::Room("lobby".into())
        ]
    );
    assert_eq!(typists(&h, "lobby"), ["bob"]);
    h.frame(ServerFrame::Typing {
        room: "lobby".into(),
        user: "bob".into(),
        typing: true,
    });
    assert!(h.events().is_empty(), "already typing");
    h.frame(ServerFrame::Typing {
        room: "lobby".into(),
        user: "bob".into(),
        typing: false,
    });
    assert!(typists(&h, "lobby").is_empty());
}

#[test]
fn a_member_who_leaves_stops_typing() {
    let mut h = in_room("lobby", &["alice", "bob"]);
    h.frame(ServerFrame::Typing {
        room: "lobby".into(),
        user: "bob".into(),
        typing: true,
    });
    h.frame(ServerFrame::RoomDiff {
        room: "lobby".into(),
        joins: vec![],
        leaves: vec!["bob".into()],
        updates: vec![],
    });
    assert!(typists(&h, "lobby").is_empty());
}

#[test]
fn frames_for_unknown_rooms_change_nothing() {
    let mut h = in_room("lobby", &["alice"]);
    h.frame(ServerFrame::RoomDiff {
        room: "other".into(),
        joins: vec![online("x")],
        leaves: vec![],
        updates: vec![],
    });
    h.frame(ServerFrame::Typing {
        room: "other".into(),
        user: "x".into(),
        typing: true,
    });
    h.frame(ServerFrame::RoomCount {
        room: "other".into(),
        count: 3,
    });
    assert!(h.events().is_empty());
    assert!(h.core.room("other").is_none());
}

#[test]
fn leave_drops_the_room_and_tells_the_app() {
    let mut h = in_room("lobby", &["alice", "bob"]);
    h.ok(Input::Leave("lobby".into()));
    assert_eq!(
        h.take(),
        [
            Effect::Send(ClientFrame::Leave {
                room: "lobby".into(),
                r#ref: None
            }),
            Effect::Emit(Event::Room("lobby".into()))
        ]
    );
    assert!(h.core.room("lobby").is_none());
    assert_eq!(h.core.joined().count(), 0);
}

#[test]
fn a_room_state_arriving_after_leave_is_ignored() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Join("lobby".into()));
    let r = join_ref(&h.sent(), "lobby");
    h.ok(Input::Leave("lobby".into()));
    h.take();
    h.frame(room_state("lobby", &["alice"], &[], r));
    assert!(h.core.room("lobby").is_none());
    assert!(h.events().is_empty());
}

#[test]
fn watched_users_come_from_presence_state_and_presence_events() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Watch(vec!["bob".into(), "carol".into()]));
    let sent = h.sent();
    let r = match &sent[..] {
        [ClientFrame::Watch {
            users,
            r#ref: Some(r),
        }] => {
            assert_eq!(users, &["bob", "carol"]);
            *r
        }
        other => panic!("unexpected {other:?}"),
    };
    h.frame(ServerFrame::PresenceState {
        users: vec![online("bob"), online("carol"), online("mallory")],
        r#ref: Some(r),
    });
    assert_eq!(
        h.events(),
        [
            Event::Presence("bob".into()),
            Event::Presence("carol".into())
        ]
    );
    assert!(h.core.user("mallory").is_none(), "not watched: not kept");
    let v1 = h.core.user("bob").unwrap().version;

    let mut away = online("bob");
    away.status = EffectiveStatus::Away;
    h.frame(ServerFrame::Presence {
        presence: away.clone(),
    });
    assert_eq!(h.events(), [Event::Presence("bob".into())]);
    let bob = h.core.user("bob").unwrap();
    assert_eq!(bob.presence, away);
    assert_ne!(bob.version, v1);

    h.frame(ServerFrame::Presence { presence: away });
    assert!(
        h.events().is_empty(),
        "the same presence again changes nothing"
    );
    assert_eq!(
        h.core.user("bob").unwrap().version,
        h.core.user("bob").unwrap().version
    );
}

#[test]
fn unwatch_drops_the_users_and_tells_the_app() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Watch(vec!["bob".into()]));
    h.frame(ServerFrame::PresenceState {
        users: vec![online("bob")],
        r#ref: None,
    });
    h.take();
    h.ok(Input::Unwatch(vec!["bob".into(), "never-watched".into()]));
    assert_eq!(
        h.take(),
        [
            Effect::Send(ClientFrame::Unwatch {
                users: vec!["bob".into()],
                r#ref: None
            }),
            Effect::Emit(Event::Presence("bob".into()))
        ]
    );
    assert!(h.core.user("bob").is_none());
}

#[test]
fn a_refused_join_drops_the_room_and_reports_which_room() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Join("secret".into()));
    let r = join_ref(&h.sent(), "secret");
    h.frame(ServerFrame::error(ErrorCode::Forbidden, "not allowed", r));
    let errors = errors(&h.events());
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, "forbidden");
    assert_eq!(errors[0].room.as_deref(), Some("secret"));
    assert_eq!(
        h.core.joined().count(),
        0,
        "not re-joined on the next resync"
    );
}

#[test]
fn a_refused_watch_drops_the_users() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Watch(vec!["ceo".into()]));
    let r = h.sent()[0].reference();
    h.frame(ServerFrame::error(ErrorCode::Forbidden, "no", r));
    let errors = errors(&h.events());
    assert_eq!(errors[0].users, ["ceo"]);
    assert_eq!(h.core.watched().count(), 0);
}

#[test]
fn a_join_the_server_could_not_do_now_stays_wanted() {
    // `internal` (store down), `busy` (node under pressure) and a code this version
    // does not know all mean "not now": the room is joined again on the next resync.
    for (code, name) in [
        (ErrorCode::Internal, "internal"),
        (ErrorCode::Busy, "busy"),
        (ErrorCode::Unknown, "unknown"),
    ] {
        let mut h = Harness::new();
        h.open();
        h.ok(Input::Join("lobby".into()));
        let r = join_ref(&h.sent(), "lobby");
        h.frame(ServerFrame::error(code, "not now", r));
        assert_eq!(errors(&h.events())[0].code, name);
        assert_eq!(h.core.joined().collect::<Vec<_>>(), ["lobby"], "{name}");
    }
}

#[test]
fn an_error_for_no_particular_request_is_passed_on() {
    let mut h = Harness::new();
    h.open();
    h.frame(ServerFrame::error(
        ErrorCode::RateLimited,
        "slow down",
        None,
    ));
    let errors = errors(&h.events());
    assert_eq!(errors[0].code, "rate_limited");
    assert_eq!(errors[0].message, "slow down");
}

#[test]
fn own_presence_changes_are_sent_once_and_shown_in_me() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::SetStatus(ChosenStatus::Busy));
    h.ok(Input::SetStatus(ChosenStatus::Busy));
    h.ok(Input::SetPrivacy(LastSeenPrivacy::Hidden));
    let custom = CustomStatus {
        text: Some("Lunch".into()),
        emoji: Some("🍜".into()),
        expires_at: None,
    };
    h.ok(Input::SetCustom(Some(custom.clone())));
    assert_eq!(
        h.sent(),
        [
            ClientFrame::SetStatus {
                status: ChosenStatus::Busy,
                r#ref: None
            },
            ClientFrame::SetPrivacy {
                last_seen: LastSeenPrivacy::Hidden,
                r#ref: None
            },
            ClientFrame::SetCustom {
                custom: Some(custom.clone()),
                r#ref: None
            },
        ]
    );
    let me = h.core.me();
    assert_eq!(me.status, ChosenStatus::Busy);
    assert_eq!(me.privacy, LastSeenPrivacy::Hidden);
    assert_eq!(me.custom, Some(&custom));
    let v = h.core.me_version();
    h.ok(Input::SetCustom(None));
    assert_ne!(h.core.me_version(), v);
    assert_eq!(h.core.me().custom, None);
}

#[test]
fn resync_resends_what_the_app_chose_in_order() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::SetStatus(ChosenStatus::Away));
    h.ok(Input::SetCustom(Some(CustomStatus {
        text: Some("Out".into()),
        emoji: None,
        expires_at: Some(T0 + 3_600_000),
    })));
    h.ok(Input::SetPrivacy(LastSeenPrivacy::Approximate));
    h.ok(Input::Join("b-room".into()));
    h.ok(Input::Join("a-room".into()));
    h.ok(Input::Watch(vec!["bob".into()]));
    let first = h.sent();

    h.close(1006);
    h.wait_for_open_socket();
    h.socket_accepts();
    let again = h.sent();
    assert!(matches!(again[0], ClientFrame::Hello { .. }));
    let kinds: Vec<&str> = again[1..].iter().map(ClientFrame::type_name).collect();
    assert_eq!(
        kinds,
        [
            "set_status",
            "set_custom",
            "set_privacy",
            "join",
            "join",
            "watch"
        ]
    );
    // The same requests as the first time, with fresh refs.
    let strip = |f: &ClientFrame| {
        let mut f = f.clone();
        match &mut f {
            ClientFrame::Join { r#ref, .. } | ClientFrame::Watch { r#ref, .. } => *r#ref = None,
            _ => {}
        }
        f
    };
    let mut a: Vec<ClientFrame> = first.iter().map(strip).collect();
    let mut b: Vec<ClientFrame> = again[1..].iter().map(strip).collect();
    a.sort_by_key(|f| format!("{f:?}"));
    b.sort_by_key(|f| format!("{f:?}"));
    assert_eq!(a, b);
}

#[test]
fn resync_sends_nothing_the_app_did_not_choose() {
    let mut h = Harness::new();
    h.open();
    h.close(1006);
    h.wait_for_open_socket();
    h.socket_accepts();
    let again = h.sent();
    assert_eq!(again.len(), 1, "only hello: {again:?}");
}

#[test]
fn resync_replaces_the_rooms_so_no_stale_member_survives() {
    let mut h = in_room("lobby", &["alice", "bob", "carol"]);
    h.frame(ServerFrame::Typing {
        room: "lobby".into(),
        user: "carol".into(),
        typing: true,
    });
    h.ok(Input::Watch(vec!["dave".into()]));
    let r = h.sent()[0].reference();
    h.frame(ServerFrame::PresenceState {
        users: vec![online("dave")],
        r#ref: r,
    });

    h.close(1006);
    // While away, the old view stays visible (no empty flash)…
    assert_eq!(members(&h, "lobby"), ["alice", "bob", "carol"]);
    assert_eq!(h.core.state(), ConnectionState::Reconnecting);
    h.wait_for_open_socket();
    h.socket_accepts();
    let sent = h.sent();
    // …and the fresh state replaces it: bob and carol left meanwhile, erin came.
    h.frame(room_state(
        "lobby",
        &["alice", "erin"],
        &[],
        join_ref(&sent, "lobby"),
    ));
    assert_eq!(members(&h, "lobby"), ["alice", "erin"]);
    assert!(
        typists(&h, "lobby").is_empty(),
        "carol's typing is gone too"
    );
    assert_eq!(h.core.room("lobby").unwrap().count, 2);

    let mut offline = online("dave");
    offline.status = EffectiveStatus::Offline;
    offline.devices = 0;
    let watch_ref = sent
        .iter()
        .find(|f| matches!(f, ClientFrame::Watch { .. }))
        .and_then(ClientFrame::reference);
    h.frame(ServerFrame::PresenceState {
        users: vec![offline.clone()],
        r#ref: watch_ref,
    });
    assert_eq!(h.core.user("dave").unwrap().presence, offline);
}

#[test]
fn resync_skips_a_custom_status_that_expired_while_away() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::SetCustom(Some(CustomStatus {
        text: Some("Brb".into()),
        emoji: None,
        expires_at: Some(T0 + 1_000),
    })));
    h.close(1006);
    h.wait_for_open_socket();
    h.ok(Input::SocketOpened);
    h.take();
    h.frame(ServerFrame::Welcome {
        session: "s-2".into(),
        user: presence_client::protocol::UserInfo {
            id: "alice".into(),
            name: "Alice".into(),
        },
        heartbeat_ms: HEARTBEAT_MS,
        typing_ttl_ms: TYPING_TTL_MS,
        server_time: T0 + 2_000,
    });
    assert!(!h
        .sent()
        .iter()
        .any(|f| matches!(f, ClientFrame::SetCustom { .. })));
    assert_eq!(h.core.me().custom, None);
}

#[test]
fn versions_move_only_when_the_entry_changes() {
    let mut h = in_room("a", &["alice"]);
    h.ok(Input::Join("b".into()));
    let r = join_ref(&h.sent(), "b");
    h.frame(room_state("b", &["alice"], &[], r));
    let (a1, b1) = (
        h.core.room("a").unwrap().version,
        h.core.room("b").unwrap().version,
    );
    h.frame(ServerFrame::RoomDiff {
        room: "b".into(),
        joins: vec![online("bob")],
        leaves: vec![],
        updates: vec![],
    });
    assert_eq!(h.core.room("a").unwrap().version, a1, "a untouched");
    assert_ne!(h.core.room("b").unwrap().version, b1);
    let me = h.core.me_version();
    h.ok(Input::UserActivity);
    assert_eq!(h.core.me_version(), me, "still active: me unchanged");
}

#[test]
fn frames_before_welcome_are_ignored() {
    let mut h = Harness::new();
    h.ok(Input::Join("lobby".into()));
    h.ok(Input::Connect);
    h.ok(Input::SocketOpened);
    h.frame(room_state("lobby", &["mallory"], &[], None));
    assert!(h.core.room("lobby").is_none());
}

#[test]
fn an_expiring_custom_status_leaves_me_when_it_expires() {
    let mut h = Harness::new();
    h.open();
    let at = h.now + 1_000;
    h.ok(Input::SetCustom(Some(CustomStatus {
        text: Some("Brb".into()),
        emoji: None,
        expires_at: Some(at),
    })));
    assert!(h.core.me().custom.is_some());
    h.take();
    h.advance(999);
    assert!(h.core.me().custom.is_some(), "not before expires_at");
    h.advance(1);
    assert_eq!(h.core.me().custom, None);
    assert!(h
        .take()
        .iter()
        .any(|e| matches!(e, Effect::Emit(Event::Me))));
}
