//! The `PresenceClient` class and the loop that runs the core in the browser.
//!
//! Re-entrancy: a listener may call back into the client (`join` from a `room`
//! listener, `destroy` from a `connection` listener). So the core is only ever borrowed
//! for the length of one [`Core::handle`] call, whose effects go into a queue; one
//! drain loop carries them out with no borrow held. A call that arrives while the loop
//! runs only adds to the queue, and the loop picks its effects up in order.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use gloo_timers::callback::Timeout;
use js_sys::{Function, Promise};
use presence_protocol::{ChosenStatus, CustomStatus, LastSeenPrivacy};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use super::handles::{callback, Listener, Socket};
use super::snapshots::Snapshots;
use super::{dom, js};
use crate::core::wire;
use crate::core::{
    ClientError, Config, ConnectionState, Core, Effect, Event, Input, DEFAULT_BACKOFF_BASE_MS,
    DEFAULT_BACKOFF_MAX_MS, DEFAULT_HIDDEN_IDLE_MS, DEFAULT_IDLE_AFTER_MS, DEFAULT_STABLE_AFTER_MS,
    DEFAULT_TYPING_STOP_MS,
};

/// The events `on()` accepts, in the order of [`EVENT_NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connection,
    Room,
    Presence,
    Typing,
    Me,
    Error,
}

const EVENT_NAMES: [(&str, Kind); 6] = [
    ("connection", Kind::Connection),
    ("room", Kind::Room),
    ("presence", Kind::Presence),
    ("typing", Kind::Typing),
    ("me", Kind::Me),
    ("error", Kind::Error),
];

/// What the class, the socket handlers, the DOM listeners and the timer share. They
/// hold it through `Weak`, the class through the one `Rc`.
pub(crate) struct Shared {
    core: RefCell<Core>,
    url: String,
    get_token: Option<Function>,
    queue: RefCell<Vec<Effect>>,
    draining: Cell<bool>,
    destroyed: Cell<bool>,
    /// Itself, for the callbacks it hands out.
    me: Weak<Shared>,
    socket: RefCell<Option<Socket>>,
    /// The one timer, armed for the core's next deadline.
    timer: RefCell<Option<(u64, Timeout)>>,
    dom: RefCell<Vec<Listener>>,
    listeners: RefCell<Vec<(u32, Kind, Function)>>,
    next_listener: Cell<u32>,
    snapshots: RefCell<Snapshots>,
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

impl Shared {
    fn weak(&self) -> Weak<Shared> {
        self.me.clone()
    }

    /// Feeds one input to the core and carries out what follows.
    fn input(&self, input: Input) -> Result<(), ClientError> {
        let result = {
            let mut core = self.core.borrow_mut();
            let result = core.handle(now_ms(), input);
            self.queue.borrow_mut().extend(core.take_effects());
            result
        };
        self.drain();
        result
    }

    fn drain(&self) {
        if self.draining.replace(true) {
            return; // the loop below, further up the stack, will get to it
        }
        loop {
            // Effects queued by a re-entrant call while a batch runs land in the next
            // batch, behind the rest of this one: the same order a FIFO would give.
            let batch = std::mem::take(&mut *self.queue.borrow_mut());
            if batch.is_empty() {
                break;
            }
            for effect in batch {
                self.run(effect);
            }
        }
        self.draining.set(false);
        if self.destroyed.get() {
            self.teardown();
        } else {
            self.arm_timer();
        }
    }

    /// After `destroy()`: lets go of every browser resource. It runs at the end of the
    /// drain loop, so a `destroy()` called from inside a listener still gets its
    /// goodbye frames (typing stops, leaves) out before the socket closes.
    fn teardown(&self) {
        // Taken out of their cells first: their drops call into the browser.
        let dom = std::mem::take(&mut *self.dom.borrow_mut());
        drop(dom);
        let timer = self.timer.borrow_mut().take();
        drop(timer);
        let socket = self.socket.borrow_mut().take();
        drop(socket);
        self.listeners.borrow_mut().clear();
    }

    fn run(&self, effect: Effect) {
        match effect {
            Effect::OpenSocket => self.open_socket(),
            Effect::CloseSocket(code) => {
                let socket = self.socket.borrow_mut().take();
                if let Some(socket) = socket {
                    socket.close(code);
                }
            }
            Effect::Send(frame) => {
                if let Some(socket) = &*self.socket.borrow() {
                    let _ = socket.ws.send_with_str(&wire::encode_client(&frame));
                }
            }
            Effect::FetchToken => self.fetch_token(),
            Effect::Emit(event) => self.emit(event),
        }
    }

    /// Keeps one timer at the core's next deadline. An earlier timer already armed is
    /// left alone: when it fires nothing is due yet and it re-arms for the real
    /// deadline. So a mouse move (which pushes the idle deadline back) costs no
    /// `setTimeout`.
    fn arm_timer(&self) {
        let next = self.core.borrow().next_deadline();
        let mut timer = self.timer.borrow_mut();
        let Some(at) = next else {
            *timer = None;
            return;
        };
        if timer.as_ref().is_some_and(|(armed, _)| *armed <= at) {
            return;
        }
        let delay = at.saturating_sub(now_ms()).min(i32::MAX as u64) as u32;
        let shared = self.weak();
        *timer = Some((
            at,
            Timeout::new(delay, move || {
                if let Some(shared) = shared.upgrade() {
                    // Spent: forget it before the core asks for the next one.
                    let spent = shared.timer.borrow_mut().take();
                    drop(spent);
                    let _ = shared.input(Input::Timer);
                }
            }),
        ));
    }

    fn open_socket(&self) {
        let old = self.socket.borrow_mut().take();
        drop(old);
        let weak = self.weak();
        let socket = Socket::open(
            &self.url,
            callback(&weak, |s, _| {
                let _ = s.input(Input::SocketOpened);
            }),
            callback(&weak, |s, event| {
                let text = js::get(&event, "data").as_string();
                if let Some(frame) = text.as_deref().and_then(js::decode) {
                    let _ = s.input(Input::SocketMessage(frame));
                }
            }),
            callback(&weak, |s, event| {
                let code = js::get(&event, "code").as_f64().map_or(1006, |c| c as u16);
                let closed = s.socket.borrow_mut().take();
                drop(closed);
                let _ = s.input(Input::SocketClosed { code });
            }),
        );
        match socket {
            Some(socket) => *self.socket.borrow_mut() = Some(socket),
            // `new WebSocket` threw (a malformed URL, a blocked port): like a failed
            // connection, it backs off and retries.
            None => {
                let _ = self.input(Input::SocketClosed { code: 1006 });
            }
        }
    }

    fn fetch_token(&self) {
        let Some(get_token) = &self.get_token else {
            return;
        };
        match get_token.call0(&JsValue::NULL) {
            Ok(answer) => {
                let on_ok = callback(&self.weak(), |s, token| {
                    let token = token
                        .as_string()
                        .ok_or_else(|| String::from("getToken must resolve to a string"));
                    let _ = s.input(Input::TokenFetched(token));
                });
                let on_failed = callback(&self.weak(), |s, thrown| {
                    let _ = s.input(Input::TokenFetched(Err(js::message_of(&thrown))));
                });
                let _ = Promise::resolve(&answer).then2(&on_ok, &on_failed);
                // The promise owns them now; the JS garbage collector frees them.
                let _ = on_ok.into_js_value();
                let _ = on_failed.into_js_value();
            }
            Err(thrown) => {
                let _ = self.input(Input::TokenFetched(Err(js::message_of(&thrown))));
            }
        }
    }

    fn emit(&self, event: Event) {
        let kind = match &event {
            Event::Connection(_) => Kind::Connection,
            Event::Room(_) => Kind::Room,
            Event::Presence(_) => Kind::Presence,
            Event::Typing { .. } => Kind::Typing,
            Event::Me => Kind::Me,
            Event::Error(_) => Kind::Error,
        };
        let callbacks: Vec<Function> = self
            .listeners
            .borrow()
            .iter()
            .filter(|(_, k, _)| *k == kind)
            .map(|(_, _, f)| f.clone())
            .collect();
        if callbacks.is_empty() {
            return;
        }
        let payload = match event {
            Event::Connection(state) => js::object(&[("state", &state.as_str().into())]),
            Event::Room(room) => {
                let snapshot = self.room(&room);
                js::object(&[("room", &room.into()), ("snapshot", &snapshot)])
            }
            Event::Presence(user) => {
                let presence = self.user(&user);
                js::object(&[("user", &user.into()), ("presence", &presence)])
            }
            Event::Typing { room, user, typing } => js::object(&[
                ("room", &room.into()),
                ("user", &user.into()),
                ("typing", &typing.into()),
            ]),
            Event::Me => self.me(),
            Event::Error(error) => js::error(&error),
        };
        for callback in callbacks {
            // A throwing listener must not stop the others or the client.
            let _ = callback.call1(&JsValue::NULL, &payload);
        }
    }

    fn room(&self, room: &str) -> JsValue {
        self.snapshots.borrow_mut().room(&self.core.borrow(), room)
    }

    fn user(&self, user: &str) -> JsValue {
        self.snapshots.borrow_mut().user(&self.core.borrow(), user)
    }

    fn me(&self) -> JsValue {
        self.snapshots.borrow_mut().me(&self.core.borrow())
    }

    fn on_dom(&self, event: JsValue) {
        let _ = self.input(dom::input(&event));
    }
}

fn check(result: Result<(), ClientError>) -> Result<(), JsValue> {
    result.map_err(|e| js::error(&e))
}

// The presence client. Its TypeScript declaration is hand-written (`types.rs`).
// `missing_docs` is allowed on it and its methods: a `///` comment would be copied into
// the JS glue that ships to every browser (see below).
#[allow(missing_docs)]
#[wasm_bindgen(skip_typescript)]
pub struct PresenceClient {
    shared: Rc<Shared>,
}

impl std::fmt::Debug for PresenceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresenceClient")
            .field("state", &self.shared.core.borrow().state())
            .finish_non_exhaustive()
    }
}

// The methods carry `//` comments, not `///`: wasm-bindgen copies doc comments into
// the JS glue, which ships to every browser; the TypeScript declarations document
// them instead.
#[allow(missing_docs)]
#[wasm_bindgen]
impl PresenceClient {
    // `new PresenceClient({url, token | getToken, device, idleAfterMs, …})`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<PresenceClient, JsValue> {
        if !options.is_object() {
            return Err(js::invalid("options must be an object"));
        }
        let url = js::option_string(&options, "url")?
            .filter(|u| u.starts_with("ws://") || u.starts_with("wss://"))
            .ok_or_else(|| js::invalid("url must be a ws:// or wss:// URL"))?;
        let token = js::option_string(&options, "token")?;
        let get_token = Some(js::get(&options, "getToken"))
            .filter(JsValue::is_function)
            .map(JsCast::unchecked_into::<Function>);
        if token.is_none() && get_token.is_none() {
            return Err(js::invalid("give a token or a getToken function"));
        }
        let config = Config {
            device: js::option_string(&options, "device")?,
            idle_after_ms: js::option_ms(&options, "idleAfterMs", DEFAULT_IDLE_AFTER_MS)?,
            hidden_idle_ms: js::option_ms(&options, "hiddenIdleMs", DEFAULT_HIDDEN_IDLE_MS)?,
            typing_stop_ms: js::option_ms(&options, "typingStopMs", DEFAULT_TYPING_STOP_MS)?,
            pong_timeout_ms: js::option_ms(
                &options,
                "pongTimeoutMs",
                presence_protocol::limits::PONG_TIMEOUT_MS,
            )?,
            backoff_base_ms: js::option_ms(&options, "backoffBaseMs", DEFAULT_BACKOFF_BASE_MS)?,
            backoff_max_ms: js::option_ms(&options, "backoffMaxMs", DEFAULT_BACKOFF_MAX_MS)?,
            stable_after_ms: js::option_ms(&options, "stableAfterMs", DEFAULT_STABLE_AFTER_MS)?,
            can_fetch_token: get_token.is_some(),
            seed: (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64,
        };
        let shared = Rc::new_cyclic(|me| Shared {
            core: RefCell::new(Core::new(config, token, now_ms())),
            url,
            get_token,
            queue: RefCell::default(),
            draining: Cell::new(false),
            destroyed: Cell::new(false),
            me: me.clone(),
            socket: RefCell::default(),
            timer: RefCell::default(),
            dom: RefCell::default(),
            listeners: RefCell::default(),
            next_listener: Cell::new(0),
            snapshots: RefCell::default(),
        });
        *shared.dom.borrow_mut() = dom::listen(&shared.weak(), Shared::on_dom);
        if dom::page_hidden() {
            let _ = shared.input(Input::Visibility { hidden: true });
        }
        if dom::offline() {
            let _ = shared.input(Input::Offline);
        }
        // The idle deadline runs from the start, before any input or call.
        shared.arm_timer();
        Ok(PresenceClient { shared })
    }

    // Starts connecting; it keeps the connection up (reconnecting as needed) until
    // `destroy()`.
    pub fn connect(&self) -> Result<(), JsValue> {
        check(self.shared.input(Input::Connect))
    }

    // Stops typing, leaves every room (others see the leave at once), closes the
    // socket and removes every listener and timer. Idempotent.
    pub fn destroy(&self) {
        let s = &self.shared;
        if s.destroyed.get() {
            return;
        }
        s.destroyed.set(true);
        // The drain loop tears everything down once the goodbyes are out.
        let _ = s.input(Input::Destroy);
    }

    #[wasm_bindgen(js_name = setStatus)]
    pub fn set_status(&self, status: JsValue) -> Result<(), JsValue> {
        let status: ChosenStatus =
            js::wire_name(&status, "status must be online, away, busy or invisible")?;
        check(self.shared.input(Input::SetStatus(status)))
    }

    #[wasm_bindgen(js_name = setCustomStatus)]
    pub fn set_custom_status(&self, custom: JsValue) -> Result<(), JsValue> {
        let custom: Option<CustomStatus> = if custom.is_null() || custom.is_undefined() {
            None
        } else {
            Some(wire::decode_custom(&custom).ok_or_else(|| {
                js::invalid("custom status must be {text?, emoji?, expires_at?} or null")
            })?)
        };
        check(self.shared.input(Input::SetCustom(custom)))
    }

    #[wasm_bindgen(js_name = setPrivacy)]
    pub fn set_privacy(&self, last_seen: JsValue) -> Result<(), JsValue> {
        let last_seen: LastSeenPrivacy =
            js::wire_name(&last_seen, "privacy must be exact, approximate or hidden")?;
        check(self.shared.input(Input::SetPrivacy(last_seen)))
    }

    pub fn join(&self, room: String) -> Result<(), JsValue> {
        check(self.shared.input(Input::Join(room)))
    }

    pub fn leave(&self, room: String) -> Result<(), JsValue> {
        check(self.shared.input(Input::Leave(room)))
    }

    pub fn watch(&self, users: JsValue) -> Result<(), JsValue> {
        check(self.shared.input(Input::Watch(js::user_ids(&users)?)))
    }

    pub fn unwatch(&self, users: JsValue) -> Result<(), JsValue> {
        check(self.shared.input(Input::Unwatch(js::user_ids(&users)?)))
    }

    // Call on every input event of the message box; the client debounces.
    pub fn typing(&self, room: String) -> Result<(), JsValue> {
        check(self.shared.input(Input::Typing(room)))
    }

    #[wasm_bindgen(js_name = stopTyping)]
    pub fn stop_typing(&self, room: String) -> Result<(), JsValue> {
        check(self.shared.input(Input::StopTyping(room)))
    }

    // Subscribes to an event; returns the function that unsubscribes.
    pub fn on(&self, event: &str, callback: Function) -> Result<Function, JsValue> {
        let kind = EVENT_NAMES
            .iter()
            .find(|(name, _)| *name == event)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| {
                js::invalid("event must be connection, room, presence, typing, me or error")
            })?;
        let s = &self.shared;
        let id = s.next_listener.get().wrapping_add(1);
        s.next_listener.set(id);
        s.listeners.borrow_mut().push((id, kind, callback));
        let weak = Rc::downgrade(s);
        let unsubscribe = callback_fn(move || {
            if let Some(s) = weak.upgrade() {
                s.listeners.borrow_mut().retain(|(i, _, _)| *i != id);
            }
        });
        Ok(unsubscribe)
    }

    #[wasm_bindgen(getter = connectionState)]
    pub fn connection_state(&self) -> String {
        let state: ConnectionState = self.shared.core.borrow().state();
        state.as_str().into()
    }

    // The room snapshot `{members, count, typing}`, or `null` when not joined (or its
    // state has not arrived yet). The same object until the room changes.
    pub fn room(&self, room: &str) -> JsValue {
        self.shared.room(room)
    }

    // A watched user's presence, or `null`. The same object until it changes.
    pub fn user(&self, user: &str) -> JsValue {
        self.shared.user(user)
    }

    // The client's own presence. The same object until it changes.
    #[wasm_bindgen(getter)]
    pub fn me(&self) -> JsValue {
        self.shared.me()
    }
}

fn callback_fn(f: impl FnMut() + 'static) -> Function {
    let mut f = f;
    Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| f())
        .into_js_value()
        .unchecked_into()
}

/// Hooks for the browser tests; not exported to JavaScript, so the release build
/// drops them.
impl PresenceClient {
    /// Sends raw text on the socket, bypassing the core (a test makes the server drop
    /// the connection with an oversized frame this way).
    #[doc(hidden)]
    pub fn debug_send_raw(&self, text: &str) -> bool {
        match &*self.shared.socket.borrow() {
            Some(socket) => socket.ws.send_with_str(text).is_ok(),
            None => false,
        }
    }

    /// (DOM listeners, armed timers, open sockets, event listeners) held now.
    #[doc(hidden)]
    pub fn debug_handles(&self) -> (usize, usize, usize, usize) {
        let s = &self.shared;
        (
            s.dom.borrow().len(),
            usize::from(s.timer.borrow().is_some()),
            usize::from(s.socket.borrow().is_some()),
            s.listeners.borrow().len(),
        )
    }
}
