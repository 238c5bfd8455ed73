//! Frames to the server: requests that await an answer carry a `ref`, everything goes
//! through the pacer, and a new connection re-sends what the app chose.

use presence_protocol::{ActivityState, ClientFrame};

use super::machine::{Core, Pending};
use super::vocab::{Effect, USERS_PER_FRAME};

impl Core {
    /// A new connection: re-send what the app chose, in an order where nothing depends
    /// on a later frame. The `room_state` and `presence_state` answers then replace the
    /// cache entries one by one.
    pub(super) fn resync(&mut self, now: u64, server_time: u64) {
        if self.idle.state() == ActivityState::Idle {
            self.send(
                now,
                ClientFrame::Activity {
                    state: ActivityState::Idle,
                    r#ref: None,
                },
            );
        }
        if let Some(status) = self.status {
            self.send(
                now,
                ClientFrame::SetStatus {
                    status,
                    r#ref: None,
                },
            );
        }
        if let Some(custom) = self.custom.clone() {
            let expired = custom
                .as_ref()
                .and_then(|c| c.expires_at)
                .is_some_and(|at| at <= server_time);
            if expired {
                // The server cleared it by itself while the client was away.
                self.custom = None;
                self.me_changed();
            } else {
                self.send(
                    now,
                    ClientFrame::SetCustom {
                        custom,
                        r#ref: None,
                    },
                );
            }
        }
        if let Some(last_seen) = self.privacy {
            self.send(
                now,
                ClientFrame::SetPrivacy {
                    last_seen,
                    r#ref: None,
                },
            );
        }
        let rooms: Vec<String> = self.rooms.keys().map(str::to_owned).collect();
        for room in rooms {
            self.send_join(now, room);
        }
        let watched: Vec<String> = self.watched.keys().map(str::to_owned).collect();
        self.send_watch(now, watched);
    }

    /// `join` with a `ref`, on an open connection.
    pub(super) fn send_join(&mut self, now: u64, room: String) {
        if !self.is_open() {
            return;
        }
        let r = self.new_ref(Pending::Join(room.clone()));
        self.send(
            now,
            ClientFrame::Join {
                room,
                r#ref: Some(r),
            },
        );
    }

    /// `watch` with a `ref` per frame of at most the protocol's users per frame, on an
    /// open connection.
    pub(super) fn send_watch(&mut self, now: u64, users: Vec<String>) {
        if !self.is_open() {
            return;
        }
        for chunk in users.chunks(USERS_PER_FRAME) {
            let users = chunk.to_vec();
            let r = self.new_ref(Pending::Watch(users.clone()));
            self.send(
                now,
                ClientFrame::Watch {
                    users,
                    r#ref: Some(r),
                },
            );
        }
    }

    /// `typing` on or off in a room.
    pub(super) fn send_typing(&mut self, now: u64, room: String, typing: bool) {
        self.send(
            now,
            ClientFrame::Typing {
                room,
                typing,
                r#ref: None,
            },
        );
    }

    /// Sends through the pacer on an open connection; otherwise the frame is dropped,
    /// as the resync on the next connection re-sends what still matters.
    pub(super) fn send(&mut self, now: u64, frame: ClientFrame) {
        if !self.is_open() {
            return;
        }
        if let Some(frame) = self.pacer.offer(now, frame) {
            self.effects.push(Effect::Send(frame));
        }
    }

    /// A fresh `ref`, remembered with what a refusal must undo.
    fn new_ref(&mut self, pending: Pending) -> u64 {
        self.next_ref += 1;
        self.pending.push((self.next_ref, pending));
        self.next_ref
    }

    /// The request this `ref` answers, which is no longer pending.
    pub(super) fn take_pending(&mut self, r: u64) -> Option<Pending> {
        let i = self.pending.iter().position(|(p, _)| *p == r)?;
        Some(self.pending.swap_remove(i).1)
    }
}
