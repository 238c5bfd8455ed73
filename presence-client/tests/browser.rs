//! Browser tests of the web layer, run by `wasm-pack test --headless --chrome`
//! (`scripts/test-wasm.sh` runs them). They use real DOM events, real timers and a real
//! presence-server, whose URL and dev tokens the script passes in at build time
//! (`PRESENCE_TEST_URL`, `PRESENCE_TEST_TOKENS="alice=…,bob=…"`). The server runs with
//! `--grace-ms 2000 --typing-ttl-ms 6000`; the tests below rely on those two.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use presence_client::web::PresenceClient;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

// --- helpers -------------------------------------------------------------------------

/// `target[key]`, or `undefined` when `target` is not an object (a `null` snapshot).
fn get(target: &JsValue, key: &str) -> JsValue {
    if !target.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(target, &key.into()).unwrap()
}

fn options(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        Reflect::set(&o, &(*k).into(), v).unwrap();
    }
    o.into()
}

fn client(fields: &[(&str, JsValue)]) -> PresenceClient {
    PresenceClient::new(options(fields)).unwrap()
}

/// A client for the test server, or `None` when the tests run without one.
fn server_client(user: &str, extra: &[(&str, JsValue)]) -> Option<PresenceClient> {
    let url = option_env!("PRESENCE_TEST_URL")?;
    let mut fields = vec![
        ("url", JsValue::from_str(url)),
        ("token", JsValue::from_str(&token(user))),
        ("backoffBaseMs", 100.into()),
    ];
    fields.extend(extra.iter().cloned());
    Some(client(&fields))
}

fn token(user: &str) -> String {
    option_env!("PRESENCE_TEST_TOKENS")
        .unwrap_or_default()
        .split(',')
        .find_map(|pair| pair.strip_prefix(user)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no token for {user} in PRESENCE_TEST_TOKENS"))
        .to_owned()
}

fn skip() {
    console_log!("skipped: no PRESENCE_TEST_URL at build time (run scripts/test-wasm.sh)");
}

async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// Polls `cond` every 20 ms for up to `ms`; whether it came true.
async fn until(ms: u32, cond: impl Fn() -> bool) -> bool {
    for _ in 0..=ms / 20 {
        if cond() {
            return true;
        }
        sleep(20).await;
    }
    cond()
}

fn now() -> f64 {
    js_sys::Date::now()
}

fn eval(code: &str) {
    js_sys::eval(code).unwrap();
}

fn dispatch_on_window(kind: &str) {
    let event = web_sys::Event::new(kind).unwrap();
    web_sys::window().unwrap().dispatch_event(&event).unwrap();
}

fn set_page_hidden(hidden: bool) {
    if hidden {
        eval(
            "Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});\
             Object.defineProperty(document, 'hidden', {value: true, configurable: true});",
        );
    } else {
        eval("delete document.visibilityState; delete document.hidden;");
    }
    let event = web_sys::Event::new("visibilitychange").unwrap();
    web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .dispatch_event(&event)
        .unwrap();
}

/// Collects what one event passes to its listeners.
struct Recorder {
    seen: Rc<RefCell<Vec<JsValue>>>,
    unsubscribe: Function,
    _callback: Closure<dyn FnMut(JsValue)>,
}

impl Recorder {
    fn new(client: &PresenceClient, event: &str) -> Self {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let sink = seen.clone();
        let callback = Closure::<dyn FnMut(JsValue)>::new(move |v: JsValue| {
            sink.borrow_mut().push(v);
        });
        let unsubscribe = client
            .on(event, callback.as_ref().unchecked_ref::<Function>().clone())
            .unwrap();
        Self {
            seen,
            unsubscribe,
            _callback: callback,
        }
    }

    fn len(&self) -> usize {
        self.seen.borrow().len()
    }

    fn all(&self) -> Vec<JsValue> {
        self.seen.borrow().clone()
    }

    /// The `field` of every payload, as strings.
    fn field(&self, field: &str) -> Vec<String> {
        self.all()
            .iter()
            .map(|v| get(v, field).as_string().unwrap_or_default())
            .collect()
    }
}

fn activity(c: &PresenceClient) -> String {
    get(&c.me(), "activity").as_string().unwrap()
}

fn strings(list: &JsValue) -> Vec<String> {
    Array::from(list)
        .iter()
        .map(|v| v.as_string().unwrap_or_default())
        .collect()
}

fn member(c: &PresenceClient, room: &str, user: &str) -> Option<JsValue> {
    let snapshot = c.room(room);
    if snapshot.is_null() {
        return None;
    }
    Array::from(&get(&snapshot, "members"))
        .iter()
        .find(|m| get(m, "user").as_string().as_deref() == Some(user))
}

fn members(c: &PresenceClient, room: &str) -> Vec<String> {
    let snapshot = c.room(room);
    if snapshot.is_null() {
        return Vec::new();
    }
    Array::from(&get(&snapshot, "members"))
        .iter()
        .map(|m| get(&m, "user").as_string().unwrap())
        .collect()
}

fn typists(c: &PresenceClient, room: &str) -> Vec<String> {
    let snapshot = c.room(room);
    if snapshot.is_null() {
        return Vec::new();
    }
    strings(&get(&snapshot, "typing"))
}

fn status_in(c: &PresenceClient, room: &str, user: &str) -> Option<String> {
    get(&member(c, room, user)?, "status").as_string()
}

/// A room name no other run or test uses.
fn unique(prefix: &str) -> String {
    let n = (js_sys::Math::random() * 1e9) as u64;
    format!("{prefix}-{n}")
}

fn open(c: &PresenceClient) -> bool {
    c.connection_state() == "open"
}

// --- without a server ---------------------------------------------------------------

#[wasm_bindgen_test]
async fn idle_after_inactivity_and_active_again_on_the_next_dom_input() {
    let c = client(&[
        ("url", "ws://127.0.0.1:9/v1/ws".into()),
        ("token", "t".into()),
        ("idleAfterMs", 300.into()),
    ]);
    let me_events = Recorder::new(&c, "me");
    assert_eq!(activity(&c), "active");
    // Input keeps it active past idleAfterMs.
    for _ in 0..5 {
        sleep(100).await;
        dispatch_on_window("keydown");
    }
    assert_eq!(activity(&c), "active");
    assert!(until(1_000, || activity(&c) == "idle").await, "never idle");
    assert_eq!(me_events.len(), 1);
    for kind in ["mousemove", "mousedown", "scroll", "touchstart", "focus"] {
        dispatch_on_window(kind);
        assert_eq!(activity(&c), "active", "{kind} is input");
        assert!(until(1_000, || activity(&c) == "idle").await);
    }
    c.destroy();
}

#[wasm_bindgen_test]
async fn a_hidden_page_turns_idle_and_showing_it_turns_active() {
    let c = client(&[
        ("url", "ws://127.0.0.1:9/v1/ws".into()),
        ("token", "t".into()),
        ("hiddenIdleMs", 300.into()),
    ]);
    set_page_hidden(true);
    sleep(150).await;
    assert_eq!(activity(&c), "active");
    assert!(until(1_000, || activity(&c) == "idle").await, "never idle");
    set_page_hidden(false);
    assert_eq!(activity(&c), "active", "shown at once");
    sleep(500).await;
    assert_eq!(
        activity(&c),
        "active",
        "visible: the 5 min rule applies again"
    );
    c.destroy();
}

#[wasm_bindgen_test]
fn snapshots_are_the_same_object_until_something_changes() {
    let c = client(&[
        ("url", "ws://127.0.0.1:9/v1/ws".into()),
        ("token", "t".into()),
    ]);
    let me = c.me();
    assert!(Object::is(&me, &c.me()), "same object");
    assert!(Object::is_frozen(me.unchecked_ref::<Object>()));
    c.set_status("busy".into()).unwrap();
    let busy = c.me();
    assert!(!Object::is(&me, &busy), "a new object after a change");
    assert_eq!(get(&busy, "status").as_string().as_deref(), Some("busy"));
    assert!(Object::is(&busy, &c.me()));
    c.set_status("busy".into()).unwrap();
    assert!(Object::is(&busy, &c.me()), "no change, same object");
    assert!(c.room("nowhere").is_null());
    assert!(c.user("nobody").is_null());
    assert_eq!(c.connection_state(), "closed");
    c.destroy();
}

#[wasm_bindgen_test]
fn errors_are_js_errors_with_a_code() {
    let c = client(&[
        ("url", "ws://127.0.0.1:9/v1/ws".into()),
        ("token", "t".into()),
    ]);
    for result in [
        c.join("not a room id".into()),
        c.set_status("sleepy".into()),
        c.set_privacy(5.into()),
        c.watch(JsValue::from(3)),
        c.on("nonsense", Function::new_no_args("")).map(|_| ()),
        c.set_custom_status(options(&[("text", 5.into())])),
    ] {
        let e = result.unwrap_err();
        assert!(e.is_instance_of::<js_sys::Error>());
        assert_eq!(
            get(&e, "code").as_string().as_deref(),
            Some("invalid_argument")
        );
    }
    for bad in [
        options(&[("token", "t".into())]),
        options(&[("url", "http://x".into()), ("token", "t".into())]),
        options(&[("url", "ws://x".into())]),
        options(&[
            ("url", "ws://x".into()),
            ("token", "t".into()),
            ("idleAfterMs", "soon".into()),
        ]),
        JsValue::from("ws://x"),
    ] {
        let e = PresenceClient::new(bad).unwrap_err();
        assert_eq!(
            get(&e, "code").as_string().as_deref(),
            Some("invalid_argument")
        );
    }
    c.destroy();
    let e = c.join("lobby".into()).unwrap_err();
    assert_eq!(get(&e, "code").as_string().as_deref(), Some("destroyed"));
}

#[wasm_bindgen_test]
async fn listeners_may_call_back_into_the_client_and_unsubscribe() {
    let c = Rc::new(client(&[
        ("url", "ws://127.0.0.1:9/v1/ws".into()),
        ("token", "t".into()),
    ]));
    let calls = Rc::new(Cell::new(0));
    let (inner, counter) = (c.clone(), calls.clone());
    // A listener that reads snapshots, changes state and destroys the client from
    // inside the event: queued callbacks make that safe.
    let reentrant = Closure::<dyn FnMut(JsValue)>::new(move |me: JsValue| {
        counter.set(counter.get() + 1);
        assert!(Object::is(&me, &inner.me()));
        if get(&me, "status").as_string().as_deref() == Some("away") {
            inner.set_status("busy".into()).unwrap();
            inner.join("lobby".into()).unwrap();
            let _ = inner.room("lobby");
        }
    });
    c.on("me", reentrant.as_ref().unchecked_ref::<Function>().clone())
        .unwrap();
    let recorder = Recorder::new(&c, "me");
    c.set_status("away".into()).unwrap();
    assert_eq!(calls.get(), 2, "away, then the busy set from inside");
    assert_eq!(get(&c.me(), "status").as_string().as_deref(), Some("busy"));
    assert_eq!(recorder.len(), 2);
    recorder.unsubscribe.call0(&JsValue::NULL).unwrap();
    recorder.unsubscribe.call0(&JsValue::NULL).unwrap(); // twice is harmless
    c.set_status("online".into()).unwrap();
    assert_eq!(recorder.len(), 2, "unsubscribed");
    assert_eq!(calls.get(), 3);

    let destroyer = c.clone();
    let destroy_inside = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| destroyer.destroy());
    c.on(
        "me",
        destroy_inside.as_ref().unchecked_ref::<Function>().clone(),
    )
    .unwrap();
    c.set_status("away".into()).unwrap();
    assert_eq!(c.connection_state(), "closed");
    assert_eq!(c.debug_handles(), (0, 0, 0, 0));
}

#[wasm_bindgen_test]
async fn destroy_removes_every_listener_and_timer() {
    let c = client(&[
        ("url", "ws://127.0.0.1:9/v1/ws".into()),
        ("token", "t".into()),
        ("idleAfterMs", 200.into()),
        ("backoffBaseMs", 50.into()),
    ]);
    let (dom, timers, _, _) = c.debug_handles();
    assert_eq!(dom, 12, "11 window listeners and visibilitychange");
    assert_eq!(timers, 1, "the idle deadline");
    let _recorder = Recorder::new(&c, "connection");
    // Nothing listens on port 9: the client keeps retrying until destroyed.
    c.connect().unwrap();
    sleep(300).await;
    assert_eq!(c.connection_state(), "reconnecting");
    c.destroy();
    assert_eq!(c.debug_handles(), (0, 0, 0, 0));
    assert_eq!(c.connection_state(), "closed");
    let me = c.me();
    dispatch_on_window("mousemove");
    set_page_hidden(true);
    set_page_hidden(false);
    sleep(400).await;
    assert!(
        Object::is(&me, &c.me()),
        "no listener or timer reached the client"
    );
    c.destroy(); // idempotent
}

// --- against the real server --------------------------------------------------------

#[wasm_bindgen_test]
async fn two_clients_see_each_other_type_change_status_and_survive_a_dropped_socket() {
    let (Some(alice), Some(bob)) = (server_client("alice", &[]), server_client("bob", &[])) else {
        return skip();
    };
    let room = unique("lobby");
    let later_room = unique("later");
    let alice_connection = Recorder::new(&alice, "connection");
    let bob_typing = Recorder::new(&bob, "typing");
    let bob_rooms = Recorder::new(&bob, "room");

    alice.join(room.clone()).unwrap();
    bob.join(room.clone()).unwrap();
    bob.watch("alice".into()).unwrap();
    alice.connect().unwrap();
    bob.connect().unwrap();
    assert!(
        until(5_000, || open(&alice) && open(&bob)).await,
        "both open"
    );
    assert!(
        until(3_000, || members(&alice, &room) == ["alice", "bob"]
            && members(&bob, &room) == ["alice", "bob"])
        .await,
        "both see both: {:?} {:?}",
        members(&alice, &room),
        members(&bob, &room)
    );
    assert!(bob_rooms.field("room").contains(&room));
    assert_eq!(
        get(&get(&alice.me(), "user"), "id").as_string().as_deref(),
        Some("alice")
    );

    // Typing: starts at once, stays on while alice types for longer than the server's
    // typing TTL (6 s) thanks to the refresh every 3 s, stops 1.5 s after her last key.
    alice.typing(room.clone()).unwrap();
    assert!(
        until(2_000, || typists(&bob, &room) == ["alice"]).await,
        "typing seen"
    );
    let started = now();
    while now() - started < 7_500.0 {
        alice.typing(room.clone()).unwrap();
        sleep(200).await;
    }
    let last_key = now();
    assert_eq!(
        bob_typing.field("user"),
        ["alice"],
        "one start, no stop meanwhile"
    );
    assert!(
        until(4_000, || typists(&bob, &room).is_empty()).await,
        "typing stopped"
    );
    let stopped_after = now() - last_key;
    assert!(
        (1_200.0..2_900.0).contains(&stopped_after),
        "the client's 1.5 s debounce stopped it (not the server's expiry): {stopped_after} ms"
    );
    let flags: Vec<bool> = bob_typing
        .all()
        .iter()
        .map(|e| get(e, "typing").as_bool().unwrap())
        .collect();
    assert_eq!(flags, [true, false]);
    // stopTyping stops at once.
    alice.typing(room.clone()).unwrap();
    assert!(until(2_000, || typists(&bob, &room) == ["alice"]).await);
    alice.stop_typing(room.clone()).unwrap();
    assert!(
        until(600, || typists(&bob, &room).is_empty()).await,
        "stopTyping"
    );

    // Statuses.
    alice.set_status("busy".into()).unwrap();
    alice
        .set_custom_status(options(&[("text", "Lunch".into()), ("emoji", "🍜".into())]))
        .unwrap();
    assert!(
        until(2_000, || status_in(&bob, &room, "alice").as_deref()
            == Some("busy"))
        .await
    );
    assert!(
        until(2_000, || {
            member(&bob, &room, "alice").map(|m| get(&get(&m, "custom"), "text").as_string())
                == Some(Some("Lunch".into()))
        })
        .await
    );
    assert!(
        until(2_000, || get(&bob.user("alice"), "status")
            .as_string()
            .as_deref()
            == Some("busy"))
        .await,
        "bob watches alice"
    );

    // The server drops alice's socket (an oversized frame: close 1009). The network
    // "goes offline" first, so alice stays away long enough for the room to change
    // behind her back.
    dispatch_on_window("offline");
    assert!(alice.debug_send_raw(&"x".repeat(9_000)));
    assert!(until(3_000, || alice.connection_state() == "reconnecting").await);
    bob.leave(room.clone()).unwrap();
    bob.join(later_room.clone()).unwrap();
    alice.join(later_room.clone()).unwrap(); // asked for while away
    sleep(300).await;
    assert_eq!(alice.connection_state(), "reconnecting", "offline: waiting");
    assert_eq!(
        members(&alice, &room),
        ["alice", "bob"],
        "the old view while away"
    );
    dispatch_on_window("online");
    assert!(
        until(3_000, || open(&alice)).await,
        "reconnected at once when online"
    );
    assert_eq!(
        alice_connection.field("state"),
        ["connecting", "open", "reconnecting", "open"]
    );
    assert!(
        until(3_000, || members(&alice, &room) == ["alice"]).await,
        "resynced, bob is gone: {:?}",
        members(&alice, &room)
    );
    assert!(
        until(3_000, || members(&alice, &later_room) == ["alice", "bob"]).await,
        "the room joined while away: {:?}",
        members(&alice, &later_room)
    );
    assert_eq!(
        get(&alice.me(), "status").as_string().as_deref(),
        Some("busy")
    );
    assert_eq!(
        status_in(&bob, &later_room, "alice").as_deref(),
        Some("busy")
    );

    // destroy() leaves first: bob sees alice go at once, not after the 2 s grace.
    alice.destroy();
    assert!(
        until(1_200, || members(&bob, &later_room) == ["bob"]).await,
        "leave seen before the grace period ends"
    );
    assert_eq!(alice.debug_handles(), (0, 0, 0, 0));
    bob.destroy();
}

#[wasm_bindgen_test]
async fn a_refused_token_is_replaced_through_get_token() {
    let Some(url) = option_env!("PRESENCE_TEST_URL") else {
        return skip();
    };
    let calls = Rc::new(Cell::new(0));
    let counter = calls.clone();
    let carol = token("carol");
    let get_token = Closure::<dyn FnMut() -> Promise>::new(move || {
        counter.set(counter.get() + 1);
        Promise::resolve(&JsValue::from_str(&carol))
    });
    let c = client(&[
        ("url", url.into()),
        ("token", "expired-or-forged".into()),
        ("getToken", get_token.as_ref().clone()),
    ]);
    let errors = Recorder::new(&c, "error");
    c.connect().unwrap();
    assert!(until(5_000, || open(&c)).await, "{}", c.connection_state());
    assert_eq!(calls.get(), 1);
    assert_eq!(errors.len(), 0, "a refresh the app handled is no error");
    assert_eq!(
        get(&get(&c.me(), "user"), "id").as_string().as_deref(),
        Some("carol")
    );
    c.destroy();

    // Without getToken, the same refusal is final and reported.
    let d = client(&[("url", url.into()), ("token", "forged".into())]);
    let errors = Recorder::new(&d, "error");
    d.connect().unwrap();
    assert!(until(5_000, || errors.len() == 1).await);
    assert_eq!(errors.field("code"), ["unauthorized"]);
    assert_eq!(d.connection_state(), "closed");
    d.destroy();
}

#[wasm_bindgen_test]
async fn an_idle_device_shows_as_away_to_watchers() {
    let (Some(dave), Some(erin)) = (
        server_client("dave", &[("idleAfterMs", 800.into())]),
        server_client("erin", &[]),
    ) else {
        return skip();
    };
    erin.watch(Array::of1(&"dave".into()).into()).unwrap();
    dave.connect().unwrap();
    erin.connect().unwrap();
    let status = || get(&erin.user("dave"), "status").as_string();
    assert!(until(3_000, || status().as_deref() == Some("online")).await);
    assert!(
        until(3_000, || status().as_deref() == Some("away")).await,
        "idle after 0.8 s: {:?}",
        status()
    );
    dispatch_on_window("mousemove");
    assert!(until(2_000, || status().as_deref() == Some("online")).await);
    dave.destroy();
    erin.destroy();
}

#[wasm_bindgen_test]
async fn destroy_from_inside_a_listener_still_leaves_first() {
    let (Some(carol), Some(dave)) = (server_client("carol", &[]), server_client("dave", &[]))
    else {
        return skip();
    };
    let carol = Rc::new(carol);
    let room = unique("goodbye");
    carol.join(room.clone()).unwrap();
    dave.join(room.clone()).unwrap();
    carol.connect().unwrap();
    dave.connect().unwrap();
    assert!(until(5_000, || members(&dave, &room) == ["carol", "dave"]).await);
    // Carol's app destroys the client when dave starts typing, inside the event.
    let inner = carol.clone();
    let on_typing = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| inner.destroy());
    carol
        .on(
            "typing",
            on_typing.as_ref().unchecked_ref::<Function>().clone(),
        )
        .unwrap();
    dave.typing(room.clone()).unwrap();
    assert!(until(2_000, || carol.connection_state() == "closed").await);
    assert_eq!(carol.debug_handles(), (0, 0, 0, 0));
    assert!(
        until(1_200, || members(&dave, &room) == ["dave"]).await,
        "the leave went out before the socket closed (no 2 s grace wait)"
    );
    dave.destroy();
}
