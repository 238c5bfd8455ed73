//! Frames from the server: state and events go into the cache (each change emitted
//! once), refusals undo the request they answer.

use presence_protocol::{ErrorCode, Presence, ServerFrame};

use super::machine::{Core, Pending};
use super::vocab::{ClientError, Event};

impl Core {
    /// One frame from the server.
    pub(super) fn on_frame(&mut self, now: u64, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome {
                user,
                heartbeat_ms,
                typing_ttl_ms,
                server_time,
                ..
            } => self.on_welcome(now, user, heartbeat_ms, typing_ttl_ms, server_time),
            ServerFrame::Error {
                code,
                message,
                r#ref,
            } => self.on_error(code, message, r#ref),
            // Anything else belongs to an open session.
            _ if !self.is_open() => {}
            ServerFrame::RoomState {
                room,
                count,
                members,
                typing,
                r#ref,
            } => {
                if let Some(r) = r#ref {
                    self.take_pending(r);
                }
                // A state for a room left meanwhile is stale.
                if self.rooms.contains(&room) {
                    self.cache
                        .replace_room(room.clone(), count, members, typing);
                    self.emit(Event::Room(room));
                }
            }
            ServerFrame::RoomCount { room, count } => {
                if self.cache.set_count(&room, count) {
                    self.emit(Event::Room(room));
                }
            }
            ServerFrame::RoomDiff {
                room,
                joins,
                leaves,
                updates,
            } => {
                if self.cache.apply_diff(&room, joins, leaves, updates) {
                    self.emit(Event::Room(room));
                }
            }
            ServerFrame::PresenceState { users, r#ref } => {
                if let Some(r) = r#ref {
                    self.take_pending(r);
                }
                for presence in users {
                    self.set_user(presence);
                }
            }
            ServerFrame::Presence { presence } => self.set_user(presence),
            ServerFrame::Typing { room, user, typing } => {
                if self.cache.set_typing(&room, &user, typing) {
                    self.emit(Event::Typing {
                        room: room.clone(),
                        user,
                        typing,
                    });
                    self.emit(Event::Room(room));
                }
            }
            ServerFrame::Pong { .. } => self.live_due = None,
            ServerFrame::Ack { .. } => {}
        }
    }

    /// An `error` frame: the refused request (found by its `ref`) is forgotten, unless
    /// the server could merely not do it now.
    fn on_error(&mut self, code: ErrorCode, message: String, r#ref: Option<u64>) {
        let mut error = ClientError::new(code.as_str(), message);
        // A refusal is final; a server that could not do it now may manage on the next
        // resync, so the request stays wanted.
        let final_refusal = !matches!(
            code,
            ErrorCode::Internal | ErrorCode::Busy | ErrorCode::RateLimited | ErrorCode::Unknown
        );
        match r#ref.and_then(|r| self.take_pending(r)) {
            Some(Pending::Join(room)) => {
                if final_refusal {
                    self.rooms.remove(&room);
                    if self.cache.remove_room(&room) {
                        self.emit(Event::Room(room.clone()));
                    }
                }
                error.room = Some(room);
            }
            Some(Pending::Watch(users)) => {
                if final_refusal {
                    for user in &users {
                        self.watched.remove(user);
                        if self.cache.remove_user(user) {
                            self.emit(Event::Presence(user.clone()));
                        }
                    }
                }
                error.users = users;
            }
            // A refused `hello`: the close (4401) follows and decides what happens.
            None if code == ErrorCode::Unauthorized => return,
            None => {}
        }
        self.emit(Event::Error(error));
    }

    /// A watched user's presence; one no longer watched is stale.
    fn set_user(&mut self, presence: Presence) {
        if !self.watched.contains(&presence.user) {
            return;
        }
        let user = presence.user.clone();
        if self.cache.set_user(presence) {
            self.emit(Event::Presence(user));
        }
    }
}
