//! Browser tests of the web layer, run by `wasm-pack test --headless --chrome`
//! (`scripts/test-wasm.sh` runs them). They use real DOM events, real timers and a real
//! presence-server, whose URL and dev tokens the script passes in at build time
//! (`PRESENCE_TEST_URL`, `PRESENCE_TEST_TOKENS="alice=…,bob=…"`). The server runs with
//! `--grace-ms 2000 --typing-ttl-ms 6000`; the tests below rely on those two.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod local;
mod server;

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
