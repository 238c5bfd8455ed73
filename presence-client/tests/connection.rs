//! The connection state machine: handshake, heartbeat, close codes, backoff, tokens,
//! network and page lifecycle, destroy, pacing.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use presence_client::core::{
    Backoff, Config, ConnectionState, Effect, Event, Input, Rng, CLIENT_NAME, CLOSE_GAVE_UP,
    CLOSE_NORMAL, PACE_BURST, PACE_INTERVAL_MS,
};
use presence_client::protocol::{ClientFrame, ErrorCode, Secret, ServerFrame};

fn states(events: &[Event]) -> Vec<ConnectionState> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Connection(s) => Some(*s),
            _ => None,
        })
        .collect()
}

#[test]
fn connect_opens_a_socket_says_hello_and_is_open_after_welcome() {
    let mut h = Harness::with(
        Config {
            device: Some("a-very-long-device-label-over-thirty-two-chars".into()),
            ..Config::default()
        },
        Some("tok-1"),
    );
    assert_eq!(h.core.state(), ConnectionState::Closed);
    h.ok(Input::Connect);
    assert_eq!(
        h.take(),
        [
            Effect::OpenSocket,
            Effect::Emit(Event::Connection(ConnectionState::Connecting))
        ]
    );
    h.ok(Input::SocketOpened);
    assert_eq!(
        h.sent(),
        [ClientFrame::Hello {
            token: Secret("tok-1".into()),
            device: Some("a-very-long-device-label-over-th".into()),
            client: Some(CLIENT_NAME.into()),
        }]
    );
    assert_eq!(h.core.state(), ConnectionState::Connecting);
    h.frame(welcome());
    assert_eq!(h.core.state(), ConnectionState::Open);
    let events = h.events();
    assert_eq!(states(&events), [ConnectionState::Open]);
    assert!(events.contains(&Event::Me), "welcome names the user");
    assert_eq!(h.core.me().user.map(|u| u.id.as_str()), Some("alice"));
}

#[test]
fn connect_twice_opens_one_socket() {
    let mut h = Harness::new();
    h.ok(Input::Connect);
    h.ok(Input::Connect);
    let opens = h
        .take()
        .iter()
        .filter(|e| **e == Effect::OpenSocket)
        .count();
    assert_eq!(opens, 1);
}

#[test]
fn heartbeat_pings_every_heartbeat_ms_after_welcome() {
    let mut h = Harness::new();
    h.auto_pong = false;
    h.open();
    h.advance(HEARTBEAT_MS - 1);
    assert!(h.sent_all().is_empty(), "no ping before heartbeat_ms");
    h.advance(1);
    assert_eq!(h.sent_all(), [ClientFrame::Ping { r#ref: None }]);
    h.frame(ServerFrame::Pong {
        server_time: h.now,
        r#ref: None,
    });
    h.advance(HEARTBEAT_MS);
    assert_eq!(h.sent_all(), [ClientFrame::Ping { r#ref: None }]);
}

#[test]
fn pong_in_time_keeps_the_connection() {
    let mut h = Harness::new();
    h.auto_pong = false;
    h.open();
    h.advance(HEARTBEAT_MS + 9_999);
    h.frame(ServerFrame::Pong {
        server_time: h.now,
        r#ref: None,
    });
    h.advance(1_000);
    assert_eq!(h.core.state(), ConnectionState::Open);
    assert!(!h.take().iter().any(|e| matches!(e, Effect::CloseSocket(_))));
}

#[test]
fn no_pong_within_10s_closes_the_socket_and_reconnects() {
    let mut h = Harness::new();
    h.auto_pong = false;
    h.open();
    h.advance(HEARTBEAT_MS);
    h.take();
    h.advance(9_999);
    assert_eq!(h.core.state(), ConnectionState::Open);
    h.advance(1);
    let effects = h.take();
    assert!(effects.contains(&Effect::CloseSocket(CLOSE_GAVE_UP)));
    assert!(effects.contains(&Effect::Emit(Event::Connection(
        ConnectionState::Reconnecting
    ))));
    h.wait_for_open_socket();
    h.socket_accepts();
    assert_eq!(h.core.state(), ConnectionState::Open);
}

#[test]
fn no_welcome_in_time_gives_up_on_the_socket() {
    let mut h = Harness::new();
    h.ok(Input::Connect);
    h.ok(Input::SocketOpened);
    h.take();
    h.advance(10_000);
    assert!(h.take().contains(&Effect::CloseSocket(CLOSE_GAVE_UP)));
    assert_eq!(h.core.state(), ConnectionState::Reconnecting);
}

#[test]
fn backoff_windows_double_up_to_the_cap() {
    let mut b = Backoff::new(1_000, 30_000);
    let mut rng = Rng::new(7);
    let mut ceilings = Vec::new();
    for _ in 0..8 {
        ceilings.push(b.ceiling_ms());
        b.next_delay_ms(&mut rng);
    }
    assert_eq!(
        ceilings,
        [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
    );
    b.reset();
    assert_eq!(b.ceiling_ms(), 1_000);
    // Far past any sensible attempt count the window stays at the cap.
    for _ in 0..200 {
        b.next_delay_ms(&mut rng);
    }
    assert_eq!(b.ceiling_ms(), 30_000);
}

#[test]
fn backoff_delays_use_full_jitter_over_the_whole_window() {
    for attempt in 0..7u32 {
        let mut delays = Vec::new();
        for seed in 0..2_000u64 {
            let mut b = Backoff::new(1_000, 30_000);
            let mut rng = Rng::new(seed);
            for _ in 0..attempt {
                b.next_delay_ms(&mut rng);
            }
            let ceiling = b.ceiling_ms();
            let d = b.next_delay_ms(&mut rng);
            assert!(d <= ceiling, "attempt {attempt}: {d} over {ceiling}");
            delays.push((d, ceiling));
        }
        let ceiling = delays[0].1;
        let min = delays.iter().map(|d| d.0).min().unwrap();
        let max = delays.iter().map(|d| d.0).max().unwrap();
        // Full jitter: the whole window is used, from near zero to near the ceiling.
        assert!(min < ceiling / 20, "attempt {attempt}: min {min}");
        assert!(max > ceiling - ceiling / 20, "attempt {attempt}: max {max}");
        let mean = delays.iter().map(|d| d.0).sum::<u64>() / delays.len() as u64;
        assert!(
            mean > ceiling * 4 / 10 && mean < ceiling * 6 / 10,
            "attempt {attempt}: mean {mean} of {ceiling}"
        );
    }
}

/// The delay the core chose for its next attempt.
fn scheduled_delay(h: &Harness) -> u64 {
    h.core.next_deadline().unwrap() - h.now
}

#[test]
fn a_connection_that_keeps_dropping_backs_off_further_each_time() {
    let mut h = Harness::with(
        Config {
            seed: 3,
            ..Config::default()
        },
        Some("t"),
    );
    h.open();
    for attempt in 0..6u32 {
        h.close(1006);
        assert_eq!(h.core.state(), ConnectionState::Reconnecting);
        let ceiling = (1_000u64 << attempt).min(30_000);
        assert!(scheduled_delay(&h) <= ceiling, "attempt {attempt}");
        h.wait_for_open_socket();
        // Dropped again right after the welcome: not a stable connection.
        h.socket_accepts();
    }
    assert_eq!(h.core.attempt(), 6);
}

#[test]
fn backoff_resets_after_a_stable_connection() {
    let mut h = Harness::new();
    h.open();
    for _ in 0..4 {
        h.close(1006);
        h.wait_for_open_socket();
        h.socket_accepts();
    }
    assert_eq!(h.core.attempt(), 4);
    // This one lives 10 s (the default stable_after_ms) before it drops.
    h.advance(10_000);
    h.frame(ServerFrame::Pong {
        server_time: h.now,
        r#ref: None,
    });
    h.close(1006);
    assert_eq!(h.core.attempt(), 1, "the first window again");
    assert!(scheduled_delay(&h) <= 1_000);
}

#[test]
fn close_1012_reconnects_at_once() {
    let mut h = Harness::new();
    h.open();
    h.close(1012);
    assert!(h.take().contains(&Effect::OpenSocket), "no waiting");
    assert_eq!(h.core.state(), ConnectionState::Reconnecting);
}

#[test]
fn a_normal_close_by_the_server_reconnects_after_a_backoff() {
    let mut h = Harness::new();
    h.open();
    h.close(1000);
    assert!(!h.take().contains(&Effect::OpenSocket));
    assert_eq!(h.core.state(), ConnectionState::Reconnecting);
    h.wait_for_open_socket();
}

#[test]
fn close_4401_without_get_token_stops_with_an_unauthorized_error() {
    let mut h = Harness::new();
    h.ok(Input::Connect);
    h.ok(Input::SocketOpened);
    // The server explains, then closes; only the close decides what happens.
    h.frame(ServerFrame::error(
        ErrorCode::Unauthorized,
        "token expired",
        None,
    ));
    assert!(errors(&h.events()).is_empty());
    h.close(4401);
    let events = h.events();
    assert_eq!(h.core.state(), ConnectionState::Closed);
    assert_eq!(states(&events), [ConnectionState::Closed]);
    assert_eq!(errors(&events)[0].code, "unauthorized");
    assert_eq!(
        h.core.next_deadline().map(|_| ()),
        Some(()),
        "idle timer only"
    );
    h.advance(60_000);
    assert!(!h.take().contains(&Effect::OpenSocket), "no retry");
}

#[test]
fn close_4401_with_get_token_fetches_a_fresh_token_and_reconnects() {
    let mut h = Harness::with(
        Config {
            can_fetch_token: true,
            ..Config::default()
        },
        Some("old"),
    );
    h.open();
    h.close(1006);
    h.wait_for_open_socket();
    h.ok(Input::SocketOpened);
    h.take();
    h.close(4401);
    assert_eq!(h.take(), [Effect::FetchToken], "fetched at once");
    h.ok(Input::TokenFetched(Ok("new".into())));
    assert!(h.take().contains(&Effect::OpenSocket));
    h.ok(Input::SocketOpened);
    assert!(matches!(
        &h.sent()[..],
        [ClientFrame::Hello { token, .. }] if token.0 == "new"
    ));
    h.frame(welcome());
    assert_eq!(h.core.state(), ConnectionState::Open);
}

#[test]
fn a_fresh_token_refused_again_waits_out_a_backoff_before_the_next_fetch() {
    let mut h = Harness::with(
        Config {
            can_fetch_token: true,
            ..Config::default()
        },
        None,
    );
    h.ok(Input::Connect);
    assert!(
        h.take().contains(&Effect::FetchToken),
        "no token: fetch first"
    );
    h.ok(Input::TokenFetched(Ok("bad".into())));
    h.ok(Input::SocketOpened);
    h.take();
    h.close(4401);
    assert!(!h.take().contains(&Effect::FetchToken), "not at once");
    assert_eq!(h.core.state(), ConnectionState::Reconnecting);
    h.advance(scheduled_delay(&h));
    assert!(h.take().contains(&Effect::FetchToken));
}

#[test]
fn a_failing_get_token_reports_an_error_and_retries_with_backoff() {
    let mut h = Harness::with(
        Config {
            can_fetch_token: true,
            ..Config::default()
        },
        None,
    );
    h.ok(Input::Connect);
    h.take();
    h.ok(Input::TokenFetched(Err("backend down".into())));
    let events = h.events();
    assert_eq!(errors(&events)[0].code, "token_failed");
    assert_eq!(errors(&events)[0].message, "backend down");
    assert_eq!(h.core.state(), ConnectionState::Reconnecting);
    h.advance(scheduled_delay(&h));
    assert!(h.take().contains(&Effect::FetchToken));
}

#[test]
fn close_4400_stops() {
    let mut h = Harness::new();
    h.open();
    h.close(4400);
    let events = h.events();
    assert_eq!(h.core.state(), ConnectionState::Closed);
    assert_eq!(errors(&events)[0].code, "bad_request");
}

#[test]
fn going_online_reconnects_at_once() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Offline);
    h.close(1006);
    // While offline the next attempt waits the whole cap…
    assert!(scheduled_delay(&h) >= 30_000);
    h.take();
    // …unless the network comes back first.
    h.ok(Input::Online);
    assert!(h.take().contains(&Effect::OpenSocket));
}

#[test]
fn going_online_with_an_open_socket_checks_it_with_a_ping() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Online);
    assert_eq!(h.sent_all(), [ClientFrame::Ping { r#ref: None }]);
    h.advance(10_000);
    assert!(h.take().contains(&Effect::CloseSocket(CLOSE_GAVE_UP)));
}

#[test]
fn pagehide_closes_the_socket_and_pageshow_reconnects() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Join("lobby".into()));
    h.take();
    h.ok(Input::PageHide);
    let effects = h.take();
    assert!(effects.contains(&Effect::CloseSocket(CLOSE_NORMAL)));
    // A plain close: the server's grace period covers a reload, so no `leave`.
    assert!(!effects
        .iter()
        .any(|e| matches!(e, Effect::Send(ClientFrame::Leave { .. }))));
    assert_eq!(h.core.state(), ConnectionState::Reconnecting);
    h.advance(120_000);
    assert!(!h.take().contains(&Effect::OpenSocket), "suspended");
    h.ok(Input::PageShow);
    assert!(h.take().contains(&Effect::OpenSocket));
    h.socket_accepts();
    assert!(join_ref(&h.sent(), "lobby").is_some(), "rooms come back");
}

#[test]
fn destroy_stops_typing_leaves_every_room_and_closes() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Join("a".into()));
    h.ok(Input::Join("b".into()));
    h.ok(Input::Typing("a".into()));
    h.take();
    h.ok(Input::Destroy);
    let effects = h.take();
    let close_at = effects
        .iter()
        .position(|e| *e == Effect::CloseSocket(CLOSE_NORMAL))
        .expect("closed");
    let frames: Vec<&ClientFrame> = effects[..close_at]
        .iter()
        .filter_map(|e| match e {
            Effect::Send(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(
        frames,
        [
            &typing("a", false),
            &ClientFrame::Leave {
                room: "a".into(),
                r#ref: None
            },
            &ClientFrame::Leave {
                room: "b".into(),
                r#ref: None
            },
        ]
    );
    assert_eq!(h.core.state(), ConnectionState::Closed);
    assert_eq!(h.core.next_deadline(), None, "no timer survives destroy");
}

#[test]
fn a_destroyed_client_refuses_calls_and_ignores_events() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Destroy);
    h.take();
    let e = h.input(Input::Join("x".into())).unwrap_err();
    assert_eq!(e.code, "destroyed");
    assert_eq!(h.input(Input::Connect).unwrap_err().code, "destroyed");
    h.ok(Input::Destroy); // idempotent
    h.ok(Input::UserActivity);
    h.ok(Input::SocketClosed { code: 1006 });
    assert!(h.take().is_empty());
}

#[test]
fn requests_made_before_connect_go_out_after_welcome() {
    let mut h = Harness::new();
    h.ok(Input::Join("lobby".into()));
    h.ok(Input::Watch(vec!["bob".into()]));
    h.ok(Input::SetStatus(
        presence_client::protocol::ChosenStatus::Busy,
    ));
    assert!(h.sent().is_empty(), "nothing to send on");
    h.ok(Input::Connect);
    h.socket_accepts();
    let sent = h.sent();
    assert!(matches!(sent[0], ClientFrame::Hello { .. }));
    assert_eq!(
        sent[1],
        ClientFrame::SetStatus {
            status: presence_client::protocol::ChosenStatus::Busy,
            r#ref: None
        }
    );
    assert!(join_ref(&sent, "lobby").is_some());
    assert!(matches!(&sent[3], ClientFrame::Watch { users, r#ref: Some(_) } if users == &["bob"]));
}

#[test]
fn ids_are_checked_before_anything_happens() {
    let mut h = Harness::new();
    h.open();
    for bad in ["", "a b", "é", &"x".repeat(129)] {
        let e = h.input(Input::Join(bad.into())).unwrap_err();
        assert_eq!(e.code, "invalid_argument");
        let e = h
            .input(Input::Watch(vec!["ok".into(), bad.into()]))
            .unwrap_err();
        assert_eq!(e.code, "invalid_argument");
    }
    assert!(h.sent().is_empty());
    assert_eq!(h.core.watched().count(), 0, "a refused watch adds no one");
}

#[test]
fn the_pacer_holds_frames_beyond_the_burst_and_sends_them_in_order() {
    let mut h = Harness::new();
    h.open();
    let n = PACE_BURST as usize + 10;
    for i in 0..n {
        h.ok(Input::Join(format!("room-{i:03}")));
    }
    let first = h.sent();
    assert_eq!(first.len(), PACE_BURST as usize);
    assert_eq!(h.core.queued_frames(), 10);
    let mut rest = Vec::new();
    for _ in 0..10 {
        h.advance(PACE_INTERVAL_MS);
        rest.extend(h.sent());
    }
    assert_eq!(rest.len(), 10);
    let rooms: Vec<String> = first
        .iter()
        .chain(&rest)
        .map(|f| match f {
            ClientFrame::Join { room, .. } => room.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let expected: Vec<String> = (0..n).map(|i| format!("room-{i:03}")).collect();
    assert_eq!(rooms, expected, "in order, none lost");
}

#[test]
fn many_watched_users_go_out_in_frames_of_at_most_100() {
    let mut h = Harness::new();
    h.open();
    let users: Vec<String> = (0..250).map(|i| format!("u{i}")).collect();
    h.ok(Input::Watch(users));
    let sizes: Vec<usize> = h
        .sent()
        .iter()
        .map(|f| match f {
            ClientFrame::Watch { users, .. } => users.len(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
}
