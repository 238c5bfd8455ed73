//! Timelines of the typing debounce and of the idle rules, on a hand-moved clock.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use presence_client::core::{Config, Event, Input};
use presence_client::protocol::{ActivityState, ClientFrame};

fn joined(room: &str) -> Harness {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Join(room.into()));
    h.take();
    h
}

fn activity(state: ActivityState) -> ClientFrame {
    ClientFrame::Activity { state, r#ref: None }
}

// --- typing --------------------------------------------------------------------------

#[test]
fn the_first_keystroke_sends_typing_true_at_once() {
    let mut h = joined("r");
    h.ok(Input::Typing("r".into()));
    assert_eq!(h.sent(), [typing("r", true)]);
    assert!(h.core.is_typing("r"));
}

#[test]
fn continuous_typing_refreshes_every_half_ttl_and_nothing_in_between() {
    let mut h = joined("r");
    // A keystroke every 200 ms for 6 s.
    let mut timeline = Vec::new();
    for i in 0..=30u64 {
        h.ok(Input::Typing("r".into()));
        for f in h.sent() {
            timeline.push((i * 200, f));
        }
        h.advance(200);
    }
    let at: Vec<u64> = timeline.iter().map(|(t, _)| *t).collect();
    // TTL 5 s: true at 0, then each time 2.5 s have passed since the last one.
    assert_eq!(at, [0, 2_600, 5_200]);
    assert!(timeline.iter().all(|(_, f)| *f == typing("r", true)));
}

#[test]
fn typing_false_goes_out_1500ms_after_the_last_keystroke() {
    let mut h = joined("r");
    h.ok(Input::Typing("r".into()));
    h.advance(1_000);
    h.ok(Input::Typing("r".into()));
    h.sent();
    h.advance(1_499);
    assert!(h.sent().is_empty(), "1.5 s counts from the last keystroke");
    h.advance(1);
    assert_eq!(h.sent(), [typing("r", false)]);
    assert!(!h.core.is_typing("r"));
    h.advance(10_000);
    assert!(
        !h.sent()
            .iter()
            .any(|f| matches!(f, ClientFrame::Typing { .. })),
        "only once"
    );
    // The next keystroke starts afresh.
    h.ok(Input::Typing("r".into()));
    assert_eq!(h.sent(), [typing("r", true)]);
}

#[test]
fn stop_typing_sends_false_at_once_and_only_when_typing() {
    let mut h = joined("r");
    h.ok(Input::StopTyping("r".into()));
    assert!(h.sent().is_empty());
    h.ok(Input::Typing("r".into()));
    h.advance(300);
    h.sent();
    h.ok(Input::StopTyping("r".into()));
    assert_eq!(h.sent(), [typing("r", false)]);
    h.advance(5_000);
    assert!(h.sent().is_empty(), "no second false from the debounce");
}

#[test]
fn leave_sends_typing_false_before_the_leave() {
    let mut h = joined("r");
    h.ok(Input::Typing("r".into()));
    h.sent();
    h.ok(Input::Leave("r".into()));
    assert_eq!(
        h.sent(),
        [
            typing("r", false),
            ClientFrame::Leave {
                room: "r".into(),
                r#ref: None
            }
        ]
    );
}

#[test]
fn leaving_the_window_stops_typing_everywhere() {
    let mut h = joined("a");
    h.ok(Input::Join("b".into()));
    h.ok(Input::Typing("a".into()));
    h.ok(Input::Typing("b".into()));
    h.sent();
    h.ok(Input::Blur);
    assert_eq!(h.sent(), [typing("a", false), typing("b", false)]);
}

#[test]
fn each_room_has_its_own_debounce() {
    let mut h = joined("a");
    h.ok(Input::Join("b".into()));
    h.take();
    h.ok(Input::Typing("a".into()));
    h.advance(1_000);
    h.ok(Input::Typing("b".into()));
    assert_eq!(h.sent(), [typing("a", true), typing("b", true)]);
    h.advance(500);
    assert_eq!(h.sent(), [typing("a", false)]);
    h.advance(1_000);
    assert_eq!(h.sent(), [typing("b", false)]);
}

#[test]
fn typing_in_a_room_not_joined_sends_nothing() {
    let mut h = joined("r");
    h.ok(Input::Typing("elsewhere".into()));
    assert!(h.sent().is_empty());
}

#[test]
fn typing_while_disconnected_sends_nothing_and_a_drop_forgets_typing() {
    let mut h = joined("r");
    h.ok(Input::Typing("r".into()));
    h.sent();
    h.close(1006);
    assert!(
        !h.core.is_typing("r"),
        "the server ended it with the session"
    );
    h.ok(Input::Typing("r".into()));
    assert!(h.sent().is_empty());
}

#[test]
fn the_typing_refresh_follows_the_servers_ttl() {
    let mut h = Harness::new();
    h.ok(Input::Connect);
    h.ok(Input::SocketOpened);
    h.frame(presence_client::protocol::ServerFrame::Welcome {
        session: "s".into(),
        user: presence_client::protocol::UserInfo {
            id: "alice".into(),
            name: String::new(),
        },
        heartbeat_ms: 25_000,
        typing_ttl_ms: 1_000,
        server_time: T0,
    });
    h.ok(Input::Join("r".into()));
    h.take();
    let mut sent_at = Vec::new();
    for i in 0..12u64 {
        h.ok(Input::Typing("r".into()));
        if !h.sent().is_empty() {
            sent_at.push(i * 100);
        }
        h.advance(100);
    }
    assert_eq!(sent_at, [0, 500, 1_000]);
}

// --- idle ----------------------------------------------------------------------------

#[test]
fn the_device_turns_idle_after_five_minutes_without_input() {
    let mut h = Harness::new();
    h.open();
    h.advance(5 * 60_000 - 1);
    assert!(h
        .sent()
        .iter()
        .all(|f| matches!(f, ClientFrame::Ping { .. })));
    assert_eq!(h.core.me().activity, ActivityState::Active);
    h.advance(1);
    assert_eq!(h.core.me().activity, ActivityState::Idle);
    let events = h.take();
    assert!(
        events.contains(&presence_client::core::Effect::Send(activity(
            ActivityState::Idle
        )))
    );
    assert!(events.contains(&presence_client::core::Effect::Emit(Event::Me)));
}

#[test]
fn input_keeps_the_device_active_and_costs_no_frame() {
    let mut h = Harness::new();
    h.open();
    for _ in 0..20 {
        h.advance(60_000);
        h.ok(Input::UserActivity);
    }
    let activity_frames = h
        .sent()
        .into_iter()
        .filter(|f| matches!(f, ClientFrame::Activity { .. }))
        .count();
    assert_eq!(activity_frames, 0, "activity goes out only on a change");
    assert_eq!(h.core.me().activity, ActivityState::Active);
}

#[test]
fn the_next_input_after_idle_makes_it_active_with_one_frame() {
    let mut h = idle_after_one_second();
    h.open();
    h.advance(1_000);
    assert_eq!(h.sent(), [activity(ActivityState::Idle)]);
    h.ok(Input::UserActivity);
    h.ok(Input::UserActivity);
    h.ok(Input::UserActivity);
    assert_eq!(h.sent(), [activity(ActivityState::Active)]);
}

#[test]
fn a_page_hidden_for_60_seconds_turns_idle_and_showing_it_turns_active() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Visibility { hidden: true });
    h.advance(59_999);
    assert_eq!(h.core.me().activity, ActivityState::Active);
    h.advance(1);
    assert_eq!(h.sent(), [activity(ActivityState::Idle)]);
    h.ok(Input::Visibility { hidden: false });
    assert_eq!(h.sent(), [activity(ActivityState::Active)]);
}

#[test]
fn a_page_shown_again_within_60_seconds_never_goes_idle() {
    let mut h = Harness::new();
    h.open();
    h.ok(Input::Visibility { hidden: true });
    h.advance(30_000);
    h.ok(Input::Visibility { hidden: false });
    h.advance(59_000);
    assert!(!h
        .sent()
        .iter()
        .any(|f| matches!(f, ClientFrame::Activity { .. })));
}

#[test]
fn idle_detection_runs_while_disconnected_and_is_sent_after_connecting() {
    let mut h = idle_after_one_second();
    h.advance(1_000);
    assert_eq!(h.core.me().activity, ActivityState::Idle);
    h.ok(Input::Connect);
    h.socket_accepts();
    let sent = h.sent();
    assert_eq!(sent[1], activity(ActivityState::Idle), "first after hello");
}

#[test]
fn typing_counts_as_input() {
    let mut h = idle_after_one_second();
    h.open();
    h.ok(Input::Join("r".into()));
    h.advance(1_000);
    h.sent();
    h.ok(Input::Typing("r".into()));
    assert_eq!(
        h.sent(),
        [activity(ActivityState::Active), typing("r", true)]
    );
}

/// A harness whose client goes idle after 1 s without input.
fn idle_after_one_second() -> Harness {
    Harness::with(
        Config {
            idle_after_ms: 1_000,
            ..Config::default()
        },
        Some("t"),
    )
}
