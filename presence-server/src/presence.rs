//! What the store keeps about a user, and the rules that turn it into the
//! [`Presence`] others see. Pure functions of the record and the clock: the memory
//! store calls them directly, and a store that runs its updates elsewhere (a Redis
//! script) must follow the same rules; the store conformance tests check that.

use presence_protocol::{
    ActivityState, ChosenStatus, CustomStatus, EffectiveStatus, LastSeenApprox, LastSeenPrivacy,
    Presence,
};
use serde::{Deserialize, Serialize};

/// One live session of a user, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    pub id: String,
    pub device: String,
    #[serde(default)]
    pub activity: ActivityState,
    /// The socket is gone and the grace period runs: the session still counts as a
    /// device until it is closed or resumed.
    #[serde(default)]
    pub lingering: bool,
}

/// Everything the store keeps about one user.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UserRecord {
    pub id: String,
    pub name: String,
    pub chosen: ChosenStatus,
    pub custom: Option<CustomStatus>,
    pub privacy: LastSeenPrivacy,
    /// When the public status last went from something to `offline` (epoch ms).
    pub last_seen: Option<u64>,
    /// When the public status took its current value (epoch ms).
    pub since: u64,
    pub sessions: Vec<SessionState>,
}

/// Who looks at a presence: the user's own sessions see through `invisible`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Others,
    Own,
}

impl UserRecord {
    /// A user the store has never seen: offline, no last seen.
    pub fn unknown(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            ..Self::default()
        }
    }

    /// One of the user's sessions.
    pub fn session_mut(&mut self, id: &str) -> Option<&mut SessionState> {
        self.sessions.iter_mut().find(|s| s.id == id)
    }

    /// The status others see (`docs/protocol.md`, "Effective status").
    pub fn public_status(&self) -> EffectiveStatus {
        if self.sessions.is_empty() || self.chosen == ChosenStatus::Invisible {
            return EffectiveStatus::Offline;
        }
        self.status_ignoring_invisible()
    }

    fn status_ignoring_invisible(&self) -> EffectiveStatus {
        match self.chosen {
            _ if self.sessions.is_empty() => EffectiveStatus::Offline,
            ChosenStatus::Busy => EffectiveStatus::Busy,
            ChosenStatus::Away => EffectiveStatus::Away,
            ChosenStatus::Online | ChosenStatus::Invisible => {
                if self
                    .sessions
                    .iter()
                    .any(|s| s.activity == ActivityState::Active)
                {
                    EffectiveStatus::Online
                } else {
                    EffectiveStatus::Away
                }
            }
        }
    }

    /// Whether others see this user in the rooms they are a member of.
    pub fn visible(&self) -> bool {
        self.public_status() != EffectiveStatus::Offline
    }

    /// The custom status unless it has expired by `now_ms`.
    pub fn live_custom(&self, now_ms: u64) -> Option<&CustomStatus> {
        self.custom
            .as_ref()
            .filter(|c| c.expires_at.is_none_or(|at| at > now_ms))
    }

    /// The presence as `viewer` sees it at `now_ms`.
    pub fn view(&self, viewer: Viewer, now_ms: u64) -> Presence {
        let status = match viewer {
            Viewer::Others => self.public_status(),
            Viewer::Own => self.status_ignoring_invisible(),
        };
        let offline = status == EffectiveStatus::Offline;
        let (last_seen, last_seen_approx) = match (offline, self.last_seen, viewer, self.privacy) {
            (false, ..) | (true, None, ..) => (None, None),
            (true, Some(at), Viewer::Own, _) | (true, Some(at), _, LastSeenPrivacy::Exact) => {
                (Some(at), None)
            }
            (true, Some(at), Viewer::Others, LastSeenPrivacy::Approximate) => (
                None,
                Some(LastSeenApprox::from_age_ms(now_ms.saturating_sub(at))),
            ),
            (true, Some(_), Viewer::Others, LastSeenPrivacy::Hidden) => (None, None),
        };
        Presence {
            user: self.id.clone(),
            name: self.name.clone(),
            status,
            since: self.since,
            // An invisible user's custom status would give them away; a user who is
            // really offline keeps theirs ("On vacation").
            custom: if viewer == Viewer::Others && self.chosen == ChosenStatus::Invisible {
                None
            } else {
                self.live_custom(now_ms).cloned()
            },
            last_seen,
            last_seen_approx,
            devices: if offline {
                0
            } else {
                u32::try_from(self.sessions.len()).unwrap_or(u32::MAX)
            },
        }
    }

    /// Keeps `since` and `last_seen` true after a change: call it with the public
    /// status from before the change, once the change is applied.
    pub fn settle(&mut self, before: EffectiveStatus, now_ms: u64) {
        let after = self.public_status();
        if after != before {
            self.since = now_ms;
            if after == EffectiveStatus::Offline {
                self.last_seen = Some(now_ms);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(chosen: ChosenStatus, activities: &[ActivityState]) -> UserRecord {
        UserRecord {
            id: "u".into(),
            name: "U".into(),
            chosen,
            sessions: activities
                .iter()
                .enumerate()
                .map(|(i, a)| SessionState {
                    id: format!("s{i}"),
                    device: "web".into(),
                    activity: *a,
                    lingering: false,
                })
                .collect(),
            ..UserRecord::default()
        }
    }

    use ActivityState::{Active, Idle};
    use ChosenStatus as C;
    use EffectiveStatus as E;

    #[test]
    fn effective_status_rules() {
        assert_eq!(user(C::Online, &[]).public_status(), E::Offline);
        assert_eq!(user(C::Busy, &[]).public_status(), E::Offline);
        assert_eq!(user(C::Online, &[Active]).public_status(), E::Online);
        assert_eq!(user(C::Online, &[Idle, Active]).public_status(), E::Online);
        assert_eq!(user(C::Online, &[Idle, Idle]).public_status(), E::Away);
        assert_eq!(user(C::Busy, &[Idle]).public_status(), E::Busy);
        assert_eq!(user(C::Away, &[Active]).public_status(), E::Away);
        assert_eq!(user(C::Invisible, &[Active]).public_status(), E::Offline);
    }

    #[test]
    fn invisible_user_sees_itself() {
        let u = user(C::Invisible, &[Active, Active]);
        let own = u.view(Viewer::Own, 0);
        assert_eq!(own.status, E::Online);
        assert_eq!(own.devices, 2);
        let others = u.view(Viewer::Others, 0);
        assert_eq!(others.status, E::Offline);
        assert_eq!(others.devices, 0);
    }

    #[test]
    fn settle_records_last_seen_when_going_offline() {
        let mut u = user(C::Online, &[Active]);
        let before = u.public_status();
        u.chosen = C::Invisible;
        u.settle(before, 1_000);
        assert_eq!((u.since, u.last_seen), (1_000, Some(1_000)));
        let before = u.public_status();
        u.chosen = C::Online;
        u.settle(before, 2_000);
        assert_eq!((u.since, u.last_seen), (2_000, Some(1_000)));
        // No change of status, no change of since.
        let before = u.public_status();
        u.custom = Some(CustomStatus::default());
        u.settle(before, 3_000);
        assert_eq!(u.since, 2_000);
    }

    #[test]
    fn last_seen_privacy_buckets() {
        let day = 24 * 3600 * 1000;
        let mut u = user(C::Online, &[]);
        u.last_seen = Some(10 * day);
        u.privacy = LastSeenPrivacy::Exact;
        assert_eq!(u.view(Viewer::Others, 11 * day).last_seen, Some(10 * day));
        u.privacy = LastSeenPrivacy::Approximate;
        let p = u.view(Viewer::Others, 11 * day);
        assert_eq!(
            (p.last_seen, p.last_seen_approx),
            (None, Some(LastSeenApprox::Recently))
        );
        let p = u.view(Viewer::Others, 15 * day);
        assert_eq!(p.last_seen_approx, Some(LastSeenApprox::Week));
        let p = u.view(Viewer::Others, 30 * day);
        assert_eq!(p.last_seen_approx, Some(LastSeenApprox::Month));
        let p = u.view(Viewer::Others, 50 * day);
        assert_eq!(p.last_seen_approx, Some(LastSeenApprox::LongAgo));
        u.privacy = LastSeenPrivacy::Hidden;
        let p = u.view(Viewer::Others, 11 * day);
        assert_eq!((p.last_seen, p.last_seen_approx), (None, None));
        // The user always sees their own exact last seen.
        assert_eq!(u.view(Viewer::Own, 11 * day).last_seen, Some(10 * day));
    }

    #[test]
    fn expired_custom_status_is_not_shown() {
        let mut u = user(C::Online, &[Active]);
        u.custom = Some(CustomStatus {
            text: Some("Lunch".into()),
            emoji: None,
            expires_at: Some(100),
        });
        assert!(u.view(Viewer::Others, 99).custom.is_some());
        assert!(u.view(Viewer::Others, 100).custom.is_none());
    }
}
