use serde::{Deserialize, Serialize};

/// The status a user chose (`set_status`); it applies to all their devices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChosenStatus {
    /// The default: `online` while any device is active, `away` when all are idle.
    #[default]
    Online,
    /// Shown as `away` whatever the devices do.
    Away,
    /// Shown as `busy` (do not disturb).
    Busy,
    /// Looks `offline` to everyone but the user's own sessions.
    Invisible,
}

/// The status others see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectiveStatus {
    /// Connected, and active (or chose `online` with a device active).
    Online,
    /// Chose `away`, or every device is idle.
    Away,
    /// Chose `busy`.
    Busy,
    /// No live session, or invisible.
    Offline,
}

/// One device's idle detection result (`activity`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityState {
    /// The user is at this device; new sessions start here.
    #[default]
    Active,
    /// No input on this device for a while, or its page was hidden.
    Idle,
}

/// How others see a user's last seen (`set_privacy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastSeenPrivacy {
    /// Others see the exact `last_seen`.
    #[default]
    Exact,
    /// Others see only a bucket ([`LastSeenApprox`]).
    Approximate,
    /// Others see neither.
    Hidden,
}

/// The coarse last seen shown under [`LastSeenPrivacy::Approximate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastSeenApprox {
    /// Under 3 days ago.
    Recently,
    /// Under a week ago.
    Week,
    /// Under a month (30 days) ago.
    Month,
    /// A month ago or longer.
    LongAgo,
}

impl LastSeenApprox {
    /// The bucket of a last seen that lies `age_ms` in the past.
    pub fn from_age_ms(age_ms: u64) -> Self {
        use crate::limits::{MONTH_MS, RECENTLY_MS, WEEK_MS};
        if age_ms < RECENTLY_MS {
            Self::Recently
        } else if age_ms < WEEK_MS {
            Self::Week
        } else if age_ms < MONTH_MS {
            Self::Month
        } else {
            Self::LongAgo
        }
    }
}

/// A custom status (`set_custom`). At least one of `text` and `emoji` is non-empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CustomStatus {
    /// At most 128 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// At most 16 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    /// When it disappears by itself (epoch ms); `None` keeps it until changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

/// A user's presence, as every frame shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// The user id.
    pub user: String,
    /// The display name from the token of the user's most recent session; `""` for a
    /// user the server has never seen.
    #[serde(default)]
    pub name: String,
    /// The status the viewer sees.
    pub status: EffectiveStatus,
    /// When `status` took its current value (epoch ms).
    #[serde(default)]
    pub since: u64,
    /// The custom status; an expired one is never shown.
    #[serde(default)]
    pub custom: Option<CustomStatus>,
    /// When the user was last online (epoch ms); `None` while online and unless the
    /// user's privacy is `exact`.
    #[serde(default)]
    pub last_seen: Option<u64>,
    /// Set only under `approximate` privacy while offline.
    #[serde(default)]
    pub last_seen_approx: Option<LastSeenApprox>,
    /// Live sessions (0 when offline).
    #[serde(default)]
    pub devices: u32,
}
