//! The Redis store's Lua scripts (`lua/`), one per atomic step that a single command
//! cannot do.

use redis::Script;

/// Every Lua script, loaded once per connection and then called by SHA (the `redis`
/// crate sends `EVALSHA` and falls back to loading the script when Redis answers
/// `NOSCRIPT`, as after a Redis restart). Each file opens with its KEYS and ARGV.
#[derive(Debug)]
pub(super) struct Scripts {
    pub(super) cas_user: Script,
    pub(super) room_join: Script,
    pub(super) room_leave: Script,
    pub(super) room_sync: Script,
    pub(super) typing_set: Script,
    pub(super) typing_clear: Script,
    pub(super) sweep_claim: Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            cas_user: Script::new(include_str!("lua/cas_user.lua")),
            room_join: Script::new(include_str!("lua/room_join.lua")),
            room_leave: Script::new(include_str!("lua/room_leave.lua")),
            room_sync: Script::new(include_str!("lua/room_sync.lua")),
            typing_set: Script::new(include_str!("lua/typing_set.lua")),
            typing_clear: Script::new(include_str!("lua/typing_clear.lua")),
            sweep_claim: Script::new(include_str!("lua/sweep_claim.lua")),
        }
    }
}
