//! The room steps: one script each, atomic in the room's slot.

use futures_util::future::try_join_all;

use super::RedisStore;
use crate::store::{RoomEffect, StoreError};

impl RedisStore {
    pub(super) async fn room_join(
        &self,
        room: &str,
        user: &str,
        session: &str,
        visible: bool,
    ) -> Result<RoomEffect, StoreError> {
        let (was, count): (i64, u64) = self
            .invoke(
                "room_join",
                self.scripts
                    .room_join
                    .key(self.keys.room_members(room))
                    .key(self.keys.room_visible(room))
                    .arg(user)
                    .arg(session)
                    .arg(if visible { "1" } else { "0" }),
            )
            .await?;
        Ok(RoomEffect {
            room: room.to_owned(),
            count,
            was_member: was == 1,
            is_member: true,
            typing_ended: false,
        })
    }

    pub(super) async fn room_leave(
        &self,
        room: &str,
        user: &str,
        session: &str,
    ) -> Result<RoomEffect, StoreError> {
        let (was, is, count, ended): (i64, i64, u64, i64) = self
            .invoke(
                "room_leave",
                self.scripts
                    .room_leave
                    .key(self.keys.room_members(room))
                    .key(self.keys.room_visible(room))
                    .key(self.keys.room_typing(room))
                    .arg(user)
                    .arg(session),
            )
            .await?;
        Ok(RoomEffect {
            room: room.to_owned(),
            count,
            was_member: was == 1,
            is_member: is == 1,
            typing_ended: ended == 1,
        })
    }

    /// Brings the user's visibility up to date in each of `rooms` (concurrently: the
    /// connection pipelines them), ending `typing_of`'s typing there if given.
    pub(super) async fn sync_rooms(
        &self,
        rooms: impl IntoIterator<Item = String>,
        user: &str,
        visible: bool,
        typing_of: Option<&str>,
    ) -> Result<Vec<RoomEffect>, StoreError> {
        let calls = rooms.into_iter().map(|room| async move {
            let (is, count, ended): (i64, u64, i64) = self
                .invoke(
                    "room_sync",
                    self.scripts
                        .room_sync
                        .key(self.keys.room_members(&room))
                        .key(self.keys.room_visible(&room))
                        .key(self.keys.room_typing(&room))
                        .arg(user)
                        .arg(if visible { "1" } else { "0" })
                        .arg(typing_of.unwrap_or("")),
                )
                .await?;
            Ok::<_, StoreError>(RoomEffect {
                room,
                count,
                was_member: true,
                is_member: is == 1,
                typing_ended: ended == 1,
            })
        });
        try_join_all(calls).await
    }
}
