//! The snapshot objects handed to JavaScript. Each is built once per version of what it
//! shows (see `core::cache`) and handed out again until that version moves, so the app
//! (React's `useSyncExternalStore`) sees the same object while nothing changed.

use wasm_bindgen::JsValue;

use super::js;
use crate::core::{wire, Core, VecMap};

/// Snapshot objects with the version they were built from.
#[derive(Default)]
pub(crate) struct Snapshots {
    rooms: VecMap<(u64, JsValue)>,
    users: VecMap<(u64, JsValue)>,
    me: Option<(u64, JsValue)>,
}

impl Snapshots {
    /// The room snapshot, or `null` when the core has no such room.
    pub(crate) fn room(&mut self, core: &Core, room: &str) -> JsValue {
        let Some(view) = core.room(room) else {
            self.rooms.remove(room);
            return JsValue::NULL;
        };
        match self.rooms.get(room) {
            Some((version, js)) if *version == view.version => js.clone(),
            _ => {
                let js = js::snapshot(&wire::encode_room(view));
                self.rooms
                    .insert(room.to_owned(), (view.version, js.clone()));
                js
            }
        }
    }

    /// A watched user's presence, or `null` when the user is not watched.
    pub(crate) fn user(&mut self, core: &Core, user: &str) -> JsValue {
        let Some(view) = core.user(user) else {
            self.users.remove(user);
            return JsValue::NULL;
        };
        match self.users.get(user) {
            Some((version, js)) if *version == view.version => js.clone(),
            _ => {
                let js = js::snapshot(&wire::encode_presence(&view.presence));
                self.users
                    .insert(user.to_owned(), (view.version, js.clone()));
                js
            }
        }
    }

    /// The client's own presence.
    pub(crate) fn me(&mut self, core: &Core) -> JsValue {
        let version = core.me_version();
        match &self.me {
            Some((v, js)) if *v == version => js.clone(),
            _ => {
                let js = js::snapshot(&wire::encode_me(&core.me()));
                self.me = Some((version, js.clone()));
                js
            }
        }
    }
}
