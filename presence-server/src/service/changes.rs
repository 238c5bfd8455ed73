//! From a store change to events: who sees what after a user's record and rooms
//! changed. A pure function of the change and the clock, so the rules are tested here
//! without a store or a broker.

use presence_protocol::Presence;

use crate::events::{Event, RoomChange};
use crate::presence::Viewer;
use crate::store::UserChange;

/// The events a store change makes, in the order they must be published: a
/// `presence` for watchers if the user's presence changed, then per room the end of
/// typing and a join, leave or update. Empty when nothing visible changed.
///
/// The record before the change is viewed as at `before_ms`, the record after as at
/// `now_ms`; they are the same moment except for an expiry (a custom status that ran
/// out is hidden already at `now_ms`, so its change is seen against the moment before).
pub(crate) fn change_events(change: &UserChange, before_ms: u64, now_ms: u64) -> Vec<Event> {
    let (before, after) = (&change.before, &change.after);
    let user = &after.id;
    let before_public = before.view(Viewer::Others, before_ms);
    let after_public = after.view(Viewer::Others, now_ms);
    let before_own = before.view(Viewer::Own, before_ms);
    let after_own = after.view(Viewer::Own, now_ms);
    let mut events = Vec::new();
    let public_changed = before_public != after_public;
    let own_changed = before_own != after_own;
    if public_changed || own_changed {
        events.push(Event::User {
            user: user.clone(),
            public: public_changed.then(|| after_public.clone()),
            own: own_changed.then(|| after_own.clone()),
        });
    }
    for effect in &change.rooms {
        let seen_before = effect.was_member && before.visible();
        let seen_after = effect.is_member && after.visible();
        if effect.typing_ended && seen_before {
            events.push(Event::Typing {
                room: effect.room.clone(),
                user: user.clone(),
                typing: false,
            });
        }
        let public = room_change(seen_before, seen_after, &before_public, &after_public);
        let own = room_change(effect.was_member, effect.is_member, &before_own, &after_own);
        if public.is_some() || own.is_some() {
            events.push(Event::Room {
                room: effect.room.clone(),
                user: user.clone(),
                public,
                own,
                count: effect.count,
            });
        }
    }
    events
}

/// The room event one side sees, from whether it saw the user as a member before and
/// after, and the presences it saw.
fn room_change(
    seen_before: bool,
    seen_after: bool,
    before: &Presence,
    after: &Presence,
) -> Option<RoomChange> {
    match (seen_before, seen_after) {
        (false, true) => Some(RoomChange::Join(after.clone())),
        (true, false) => Some(RoomChange::Leave),
        (true, true) if before != after => Some(RoomChange::Update(after.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use presence_protocol::{
        ActivityState, ChosenStatus, CustomStatus, EffectiveStatus, LastSeenPrivacy,
    };

    use super::*;
    use crate::presence::{SessionState, UserRecord};
    use crate::store::RoomEffect;

    fn offline(id: &str) -> UserRecord {
        UserRecord {
            name: id.to_uppercase(),
            ..UserRecord::unknown(id)
        }
    }

    fn with_sessions(mut rec: UserRecord, n: usize) -> UserRecord {
        rec.sessions = (0..n)
            .map(|i| SessionState {
                id: format!("s{i}"),
                device: format!("d{i}"),
                activity: ActivityState::Active,
                lingering: false,
            })
            .collect();
        rec
    }

    fn effect(room: &str, was: bool, is: bool) -> RoomEffect {
        RoomEffect {
            room: room.into(),
            count: u64::from(is),
            was_member: was,
            is_member: is,
            typing_ended: false,
        }
    }

    fn change(before: UserRecord, after: UserRecord, rooms: Vec<RoomEffect>) -> UserChange {
        UserChange {
            before,
            after,
            rooms,
        }
    }

    fn status(p: &Option<Presence>) -> Option<EffectiveStatus> {
        p.as_ref().map(|p| p.status)
    }

    #[test]
    fn nothing_visible_changed_means_no_events() {
        let rec = with_sessions(offline("a"), 1);
        let events = change_events(
            &change(rec.clone(), rec, vec![effect("r", true, true)]),
            10,
            10,
        );
        assert_eq!(events, []);
    }

    #[test]
    fn coming_online_in_a_room_is_a_presence_then_a_join_for_both_views() {
        let before = offline("a");
        let after = with_sessions(offline("a"), 1);
        let events = change_events(&change(before, after, vec![effect("r", false, true)]), 5, 5);
        let [Event::User { user, public, own }, Event::Room {
            room,
            public: room_public,
            own: room_own,
            count,
            ..
        }] = events.as_slice()
        else {
            panic!("expected a presence then a room event: {events:?}");
        };
        assert_eq!((user.as_str(), room.as_str(), *count), ("a", "r", 1));
        assert_eq!(status(public), Some(EffectiveStatus::Online));
        assert_eq!(status(own), Some(EffectiveStatus::Online));
        assert!(matches!(room_public, Some(RoomChange::Join(p)) if p.devices == 1));
        assert!(matches!(room_own, Some(RoomChange::Join(_))));
    }

    #[test]
    fn a_second_device_is_an_update_not_a_join() {
        let before = with_sessions(offline("a"), 1);
        let after = with_sessions(offline("a"), 2);
        let events = change_events(&change(before, after, vec![effect("r", true, true)]), 5, 5);
        assert!(matches!(
            events.as_slice(),
            [
                Event::User { .. },
                Event::Room {
                    public: Some(RoomChange::Update(p)),
                    own: Some(RoomChange::Update(_)),
                    ..
                }
            ] if p.devices == 2
        ));
    }

    #[test]
    fn going_invisible_is_a_leave_for_others_and_an_update_of_nothing_for_oneself() {
        let before = with_sessions(offline("a"), 1);
        let after = UserRecord {
            chosen: ChosenStatus::Invisible,
            ..before.clone()
        };
        let events = change_events(&change(before, after, vec![effect("r", true, true)]), 5, 5);
        let [Event::User { public, own, .. }, Event::Room {
            public: room_public,
            own: room_own,
            ..
        }] = events.as_slice()
        else {
            panic!("expected a presence then a room event: {events:?}");
        };
        assert_eq!(status(public), Some(EffectiveStatus::Offline));
        assert_eq!(*own, None, "their own sessions still see them online");
        assert_eq!(*room_public, Some(RoomChange::Leave));
        assert_eq!(*room_own, None);
    }

    #[test]
    fn an_invisible_users_join_is_seen_by_their_own_sessions_only() {
        let invisible = UserRecord {
            chosen: ChosenStatus::Invisible,
            ..with_sessions(offline("a"), 1)
        };
        let events = change_events(
            &change(invisible.clone(), invisible, vec![effect("r", false, true)]),
            5,
            5,
        );
        assert!(matches!(
            events.as_slice(),
            [Event::Room {
                public: None,
                own: Some(RoomChange::Join(_)),
                ..
            }]
        ));
    }

    #[test]
    fn ended_typing_goes_before_the_leave_and_only_if_others_saw_the_user() {
        let before = with_sessions(offline("a"), 1);
        let after = offline("a");
        let mut left = effect("r", true, false);
        left.typing_ended = true;
        let events = change_events(
            &change(before.clone(), after.clone(), vec![left.clone()]),
            5,
            5,
        );
        assert!(matches!(
            events.as_slice(),
            [
                Event::User { .. },
                Event::Typing { typing: false, .. },
                Event::Room {
                    public: Some(RoomChange::Leave),
                    ..
                }
            ]
        ));
        let invisible = UserRecord {
            chosen: ChosenStatus::Invisible,
            ..before
        };
        let events = change_events(&change(invisible, after, vec![left]), 5, 5);
        assert!(
            !events.iter().any(|e| matches!(e, Event::Typing { .. })),
            "others never saw an invisible user type: {events:?}"
        );
    }

    #[test]
    fn an_expired_custom_status_is_compared_with_the_moment_before_it_expired() {
        let custom = CustomStatus {
            text: Some("lunch".into()),
            emoji: None,
            expires_at: Some(100),
        };
        let before = UserRecord {
            custom: Some(custom),
            ..with_sessions(offline("a"), 1)
        };
        let after = UserRecord {
            custom: None,
            ..before.clone()
        };
        let rooms = vec![effect("r", true, true)];
        // Seen at 100 both records look the same: the status is hidden already.
        let c = change(before, after, rooms);
        assert_eq!(change_events(&c, 100, 100), []);
        let events = change_events(&c, 99, 100);
        assert!(matches!(
            events.as_slice(),
            [Event::User { .. }, Event::Room { public: Some(RoomChange::Update(p)), .. }]
                if p.custom.is_none()
        ));
    }

    #[test]
    fn last_seen_privacy_shapes_what_others_see_of_an_offline_user() {
        let before = with_sessions(offline("a"), 1);
        let after = UserRecord {
            privacy: LastSeenPrivacy::Hidden,
            last_seen: Some(50),
            ..offline("a")
        };
        let events = change_events(&change(before, after, vec![]), 60, 60);
        let [Event::User { public, own, .. }] = events.as_slice() else {
            panic!("expected one presence: {events:?}");
        };
        let (public, own) = (public.as_ref().unwrap(), own.as_ref().unwrap());
        assert_eq!((public.last_seen, public.last_seen_approx), (None, None));
        assert_eq!(own.last_seen, Some(50));
    }
}
