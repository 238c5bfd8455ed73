//! Browser resources as Rust values that let go of themselves on drop (gloo's
//! `EventListener` idea): dropping a [`Listener`] removes the DOM listener, dropping a
//! [`Socket`] detaches its handlers and closes it. `destroy()` (or freeing the client)
//! drops them all, so nothing keeps calling into a dead client.

use std::rc::Weak;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{EventTarget, WebSocket};

use super::js::set;

/// Every callback the client hands to the browser (gloo's timer aside) has this one
/// type, so the wasm carries one closure shim instead of one per event kind.
pub(crate) type Callback = Closure<dyn FnMut(JsValue)>;

/// A callback that reaches the client only while it is alive: it holds a `Weak`, never
/// an `Rc`, so the browser's reference cannot keep a freed client running. Generic over
/// what it reaches (the client's shared state), so this module needs nothing of
/// `client.rs`; `on` stays a plain `fn`, so there is still one closure type per `T`.
pub(crate) fn callback<T: 'static>(shared: &Weak<T>, on: fn(&T, JsValue)) -> Callback {
    let shared = shared.clone();
    Closure::new(move |event: JsValue| {
        if let Some(shared) = shared.upgrade() {
            on(&shared, event);
        }
    })
}

/// A DOM event listener, removed on drop.
pub(crate) struct Listener {
    target: EventTarget,
    kind: &'static str,
    capture: bool,
    callback: Callback,
}

impl Listener {
    pub(crate) fn new(
        target: &EventTarget,
        kind: &'static str,
        capture: bool,
        callback: Callback,
    ) -> Self {
        // Adding a listener only fails for a non-function, which a Closure never is.
        let _ = target.add_event_listener_with_callback_and_bool(
            kind,
            callback.as_ref().unchecked_ref(),
            capture,
        );
        Self {
            target: target.clone(),
            kind,
            capture,
            callback,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback_and_bool(
            self.kind,
            self.callback.as_ref().unchecked_ref(),
            self.capture,
        );
    }
}

const HANDLERS: [&str; 3] = ["onopen", "onmessage", "onclose"];

/// The WebSocket and its handlers. Dropping it detaches the handlers first, so a
/// socket the client gave up on can never deliver a late event, then closes it.
pub(crate) struct Socket {
    pub(crate) ws: WebSocket,
    close_code: u16,
    _handlers: [Callback; 3],
}

impl Socket {
    pub(crate) fn open(
        url: &str,
        on_open: Callback,
        on_message: Callback,
        on_close: Callback,
    ) -> Option<Self> {
        let ws = WebSocket::new(url).ok()?;
        // Handlers set as properties through the one `Reflect.set` import the client
        // already has, rather than three more typed imports in the glue.
        for (name, handler) in HANDLERS.iter().zip([&on_open, &on_message, &on_close]) {
            set(&ws, name, handler.as_ref());
        }
        Some(Self {
            ws,
            close_code: crate::core::CLOSE_NORMAL,
            _handlers: [on_open, on_message, on_close],
        })
    }

    /// Closes with this code (1000 or 3000–4999): the drop at the end of this call
    /// does it.
    pub(crate) fn close(mut self, code: u16) {
        self.close_code = code;
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        for name in HANDLERS {
            set(&self.ws, name, &JsValue::NULL);
        }
        // A no-op on a socket that is already closed.
        let _ = self.ws.close_with_code(self.close_code);
    }
}
