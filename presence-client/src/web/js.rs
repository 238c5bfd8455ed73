//! Crossing between Rust and JavaScript: frames through the browser's `JSON.parse`,
//! snapshot objects, reading options, errors.

use js_sys::{Array, Object, Reflect, JSON};
use presence_protocol::ServerFrame;
use wasm_bindgen::{JsCast, JsValue};

use crate::core::wire::{self, JsonValue, WireName};
use crate::core::ClientError;

/// The browser's parsed JSON, read by the core's codec.
impl JsonValue for JsValue {
    fn field(&self, key: &str) -> Option<Self> {
        if !self.is_object() {
            return None;
        }
        let v = get(self, key);
        (!v.is_undefined() && !v.is_null()).then_some(v)
    }

    fn string(&self) -> Option<String> {
        self.as_string()
    }

    fn uint(&self) -> Option<u64> {
        let n = self.as_f64()?;
        ((0.0..=9_007_199_254_740_992.0).contains(&n) && n == n.trunc()).then_some(n as u64)
    }

    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn items(&self) -> Option<Vec<Self>> {
        Array::is_array(self).then(|| self.unchecked_ref::<Array>().iter().collect())
    }
}

/// A WebSocket message as a frame; `None` for what this version does not understand
/// (a newer server's frame type), which the client skips.
pub(crate) fn decode(text: &str) -> Option<ServerFrame> {
    wire::decode_server(&JSON::parse(text).ok()?)
}

/// A snapshot object from its JSON: built once, frozen, handed out until it changes.
pub(crate) fn snapshot(json: &str) -> JsValue {
    let value = JSON::parse(json).unwrap_or(JsValue::NULL);
    // Object.freeze returns a primitive unchanged, so no type check is needed.
    Object::freeze(value.unchecked_ref::<Object>());
    value
}

/// `{key: value, …}`.
pub(crate) fn object(fields: &[(&str, &JsValue)]) -> JsValue {
    let object: JsValue = Object::new().into();
    for (key, value) in fields {
        set(&object, key, value);
    }
    object
}

pub(crate) fn set(target: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

pub(crate) fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// A `ClientError` as a JS `Error` with a `code` (and the `room` or `users` concerned).
pub(crate) fn error(e: &ClientError) -> JsValue {
    let error: JsValue = js_sys::Error::new(&e.message).into();
    set(&error, "code", &JsValue::from_str(e.code));
    if let Some(room) = &e.room {
        set(&error, "room", &JsValue::from_str(room));
    }
    if !e.users.is_empty() {
        set(&error, "users", &snapshot(&wire::encode_strings(&e.users)));
    }
    error
}

pub(crate) fn invalid(message: &str) -> JsValue {
    error(&ClientError::new("invalid_argument", message))
}

/// The message of whatever a JS callback threw or rejected with.
pub(crate) fn message_of(thrown: &JsValue) -> String {
    get(thrown, "message")
        .as_string()
        .or_else(|| thrown.as_string())
        .unwrap_or_else(|| String::from("getToken failed"))
}

/// One of a protocol enum's wire names, from the app.
pub(crate) fn wire_name<T: WireName>(value: &JsValue, message: &str) -> Result<T, JsValue> {
    value
        .as_string()
        .and_then(|s| T::from_wire_name(&s))
        .ok_or_else(|| invalid(message))
}

/// A user id or an array of them, from the app.
pub(crate) fn user_ids(value: &JsValue) -> Result<Vec<String>, JsValue> {
    if let Some(one) = value.as_string() {
        return Ok(vec![one]);
    }
    value
        .items()
        .and_then(|items| items.iter().map(JsValue::as_string).collect())
        .ok_or_else(|| invalid("users must be a user id or an array of user ids"))
}

/// An optional non-negative number of milliseconds from the options object.
pub(crate) fn option_ms(options: &JsValue, key: &str, default: u64) -> Result<u64, JsValue> {
    let value = get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(default);
    }
    match value.as_f64() {
        Some(ms) if ms.is_finite() && ms >= 0.0 => Ok(ms as u64),
        _ => Err(invalid(
            &(String::from(key) + " must be a number of milliseconds"),
        )),
    }
}

/// An optional string from the options object.
pub(crate) fn option_string(options: &JsValue, key: &str) -> Result<Option<String>, JsValue> {
    let value = get(options, key);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| invalid(&(String::from(key) + " must be a string")))
}
