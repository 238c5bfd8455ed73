//! What happens when a deadline passes: a grace period, typing, a custom status, or
//! the carry-over of a resumed session's rooms runs out.

use std::sync::Arc;

use super::{Failure, Service};
use crate::events::Event;
use crate::store::UserUpdate;
use crate::timers::TimerKey;

impl Service {
    /// A deadline passed. Runs on the timer task, so it only spawns.
    pub fn on_timer(self: &Arc<Self>, key: TimerKey, at: u64) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.fire(key.clone(), at).await {
                // The store is away: try again, or a lingering session would never
                // close. Its deadline stays `at`, so the retry does the same work.
                tracing::warn!(?key, "timer work failed, retrying in 1 s: {}", e.message);
                this.timers.retry(key, at, this.clock.now_ms() + 1_000);
            }
        });
    }

    async fn fire(&self, key: TimerKey, at: u64) -> Result<(), Failure> {
        let now = self.clock.now_ms();
        match key {
            TimerKey::Grace { user, session } => {
                self.carried().remove(&session);
                if let Some(change) = self.store.close_session(&user, &session, now).await? {
                    self.publish_change(&change, now).await;
                }
            }
            TimerKey::Typing { room, user } => {
                if self.store.clear_typing(&user, &room, Some(at)).await? {
                    self.publish(Event::Typing {
                        room,
                        user,
                        typing: false,
                    })
                    .await;
                }
            }
            TimerKey::Custom { user } => {
                let change = self
                    .store
                    .update_user(&user, UserUpdate::ExpireCustom { expires_at: at }, now)
                    .await?;
                // Seen at `now`, the expired status is hidden already: compare with the
                // moment before it expired, or the change would look like no change.
                self.publish_change_seen(&change, at.saturating_sub(1), now)
                    .await;
            }
            TimerKey::Carried { user, session } => {
                let rooms = self.carried().remove(&session).unwrap_or_default();
                for room in rooms {
                    let change = self.store.leave(&user, &session, &room, now).await?;
                    self.publish_change(&change, now).await;
                }
            }
        }
        Ok(())
    }
}
