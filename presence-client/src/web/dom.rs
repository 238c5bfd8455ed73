//! The page as inputs: the DOM listeners of activity (mouse, keyboard, scroll, touch,
//! focus), visibility, online/offline and the back-forward cache, and what each event
//! means to the core.

use std::rc::Weak;

use wasm_bindgen::{JsCast, JsValue};

use super::handles::{callback, Listener};
use super::js;
use crate::core::Input;

/// The window events the client listens to, with their capture flag. Scroll events of
/// inner elements do not bubble, so they are caught on the way down; focus and blur are
/// the window's own (an element's blur does not bubble), which is what "the user left
/// the window" means.
const WINDOW_EVENTS: [(&str, bool); 11] = [
    ("mousemove", true),
    ("mousedown", true),
    ("keydown", true),
    ("scroll", true),
    ("touchstart", true),
    ("focus", false),
    ("blur", false),
    ("online", false),
    ("offline", false),
    ("pagehide", false),
    ("pageshow", false),
];

/// Listens to the window and the document, handing every event to `on` while `shared`
/// is alive. None outside a page (in a worker there is no DOM to watch).
pub(crate) fn listen<T: 'static>(shared: &Weak<T>, on: fn(&T, JsValue)) -> Vec<Listener> {
    let mut dom = Vec::new();
    let window = js_sys::global();
    let document = js::get(&window, "document");
    if !document.is_object() {
        return dom; // not a page (a worker): no DOM to watch
    }
    for (kind, capture) in WINDOW_EVENTS {
        let callback = callback(shared, on);
        dom.push(Listener::new(
            window.unchecked_ref(),
            kind,
            capture,
            callback,
        ));
    }
    let callback = callback(shared, on);
    dom.push(Listener::new(
        document.unchecked_ref(),
        "visibilitychange",
        false,
        callback,
    ));
    dom
}

/// What a DOM event means to the core.
pub(crate) fn input(event: &JsValue) -> Input {
    let kind = js::get(event, "type").as_string().unwrap_or_default();
    match kind.as_str() {
        "visibilitychange" => Input::Visibility {
            hidden: page_hidden(),
        },
        "blur" => Input::Blur,
        "online" => Input::Online,
        "offline" => Input::Offline,
        "pagehide" => Input::PageHide,
        "pageshow" => Input::PageShow,
        _ => Input::UserActivity,
    }
}

/// `document.visibilityState == "hidden"` (read as a property: a typed web-sys binding
/// would cost an import and an enum table in the glue for one string).
pub(crate) fn page_hidden() -> bool {
    let document = js::get(&js_sys::global(), "document");
    js::get(&document, "visibilityState").as_string().as_deref() == Some("hidden")
}

/// `navigator.onLine` is `false`.
pub(crate) fn offline() -> bool {
    let navigator = js::get(&js_sys::global(), "navigator");
    js::get(&navigator, "onLine").as_bool() == Some(false)
}
