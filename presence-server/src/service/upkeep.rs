//! The node's upkeep: its lease, the reassertion of its sessions when the store lost
//! them, fresh state for its sessions after an outage, the sweep of dead nodes, and
//! the background loop that runs all of it with the timers and the coalescing flush.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use presence_protocol::{limits::LARGE_ROOM_MEMBERS_SHOWN, ServerFrame};
use tokio_util::sync::CancellationToken;

use super::{LiveSession, Service};
use crate::events::Event;
use crate::metrics;
use crate::presence::Viewer;
use crate::store::NewSession;

/// How long a node owns the cleanup of a dead node before another may retry it.
const SWEEP_CLAIM_MS: u64 = 30_000;

impl Service {
    /// Renews this node's lease. `first` is the node's first renewal. When the store
    /// had lost the lease (it lost its data, or swept this node after a long outage),
    /// the node asserts its live sessions again; after any outage, or when events from
    /// other nodes may have been lost, local sessions get fresh state. Returns whether
    /// the store answered.
    pub async fn maintain_lease(&self, first: bool, was_up: bool) -> bool {
        let Some(leases) = &self.leases else {
            return true;
        };
        let now = self.clock.now_ms();
        let renewed = leases
            .renew_lease(&self.node_id, self.config.lease_ttl_ms, now)
            .await;
        metrics::redis_up(renewed.is_ok());
        let lease_was_there = match renewed {
            Ok(existed) => existed,
            Err(e) => {
                if was_up {
                    tracing::warn!("store unreachable, serving local sessions only: {e}");
                }
                return false;
            }
        };
        let lost_messages = self.broker.take_lost_messages();
        let recovering = (!lease_was_there && !first) || !was_up || lost_messages;
        if recovering {
            self.broker.recover().await;
        }
        if !lease_was_there && !first {
            tracing::warn!("this node's lease was gone: asserting its sessions again");
            self.reassert().await;
        }
        let again = self.resync_again.swap(recovering, Ordering::AcqRel);
        if recovering || again {
            if !was_up {
                tracing::info!("store reachable again: resyncing local sessions");
            }
            self.resync_local().await;
        }
        true
    }

    /// Writes every live session of this node, and its rooms, to the store again.
    async fn reassert(&self) {
        let Some(leases) = &self.leases else {
            return;
        };
        let sessions: Vec<(String, LiveSession)> = self
            .live()
            .iter()
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect();
        let now = self.clock.now_ms();
        for (id, s) in sessions {
            let rooms: Vec<String> = s.rooms.into_iter().collect();
            let session = NewSession {
                id,
                user: s.user,
                name: s.name,
                device: s.device,
                node: self.node_id.clone(),
            };
            match leases
                .assert_session(session, s.activity, &rooms, now)
                .await
            {
                Ok(Some(change)) => self.publish_change(&change, now).await,
                Ok(None) => {}
                Err(e) => tracing::warn!("asserting a session failed: {e}"),
            }
        }
    }

    /// Sends fresh state to every local session: a `room_state` for each room, a
    /// `presence` for each watched user.
    async fn resync_local(&self) {
        for room in self.hub.room_names() {
            self.resync_room(&room).await;
        }
        let users = self.hub.watched_users();
        let now = self.clock.now_ms();
        for chunk in users.chunks(100) {
            match self.store.users(chunk).await {
                Ok(records) => {
                    for r in records {
                        self.hub.deliver(&Event::User {
                            user: r.id.clone(),
                            public: Some(r.view(Viewer::Others, now)),
                            own: Some(r.view(Viewer::Own, now)),
                        });
                    }
                }
                Err(e) => tracing::warn!("resync of watched users failed: {e}"),
            }
        }
    }

    /// Sends a fresh `room_state` (no `ref`) to the local members of `room`.
    pub async fn resync_room(&self, room: &str) {
        // Held first, so that no diff delivered while the state is read overtakes it.
        let held = self.hub.hold_room(room);
        if held.is_empty() {
            return;
        }
        let snapshot_at = tokio::time::Instant::now();
        let snapshot = match self
            .store
            .room_snapshot(
                room,
                self.config.large_room_threshold,
                LARGE_ROOM_MEMBERS_SHOWN,
            )
            .await
        {
            Ok(snapshot) => snapshot,
            Err(e) => {
                tracing::warn!(room, "resync failed: {e}");
                self.hub.resync_room(room, &held, None, snapshot_at);
                return;
            }
        };
        let now = self.clock.now_ms();
        let state = ServerFrame::RoomState {
            room: room.to_owned(),
            count: snapshot.count,
            members: snapshot
                .members
                .iter()
                .map(|m| m.view(Viewer::Others, now))
                .collect(),
            typing: snapshot.typing,
            r#ref: None,
        };
        self.hub
            .resync_room(room, &held, Some((&state, snapshot.count)), snapshot_at);
    }

    /// Cleans up after nodes whose lease expired: closes their sessions (their users
    /// leave and go offline everywhere). Exactly one live node sweeps each dead node.
    pub async fn sweep_dead_nodes(&self) {
        let Some(leases) = &self.leases else {
            return;
        };
        let now = self.clock.now_ms();
        let Ok(expired) = leases.expired_nodes(now).await else {
            return;
        };
        for node in expired.into_iter().filter(|n| *n != self.node_id) {
            match leases
                .claim_sweep(&node, &self.node_id, SWEEP_CLAIM_MS)
                .await
            {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(%node, "sweep claim failed: {e}");
                    continue;
                }
            }
            let sessions = match leases.node_sessions(&node).await {
                Ok(sessions) => sessions,
                Err(e) => {
                    tracing::warn!(%node, "listing a dead node's sessions failed: {e}");
                    continue;
                }
            };
            let mut closed = 0;
            let mut complete = true;
            for (user, session) in &sessions {
                match self
                    .store
                    .close_session(user, session, self.clock.now_ms())
                    .await
                {
                    Ok(Some(change)) => {
                        closed += 1;
                        self.publish_change(&change, self.clock.now_ms()).await;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        complete = false;
                        tracing::warn!(%node, %user, "closing a dead node's session failed: {e}");
                    }
                }
            }
            // An incomplete sweep is left for the claim to expire; then it runs again.
            if complete {
                if let Err(e) = leases.forget_node(&node).await {
                    tracing::warn!(%node, "forgetting a swept node failed: {e}");
                }
            }
            tracing::info!(%node, sessions = closed, "swept a dead node");
            metrics::node_swept(closed);
        }
    }

    /// At shutdown: the node's sessions linger for the grace period, then the other
    /// nodes sweep the ones that did not come back.
    pub async fn release_lease(&self) {
        let Some(leases) = &self.leases else {
            return;
        };
        if let Err(e) = leases
            .release_lease(&self.node_id, self.config.grace_ms, self.clock.now_ms())
            .await
        {
            tracing::warn!("releasing the lease failed: {e}");
        }
    }
}

/// The node's periodic work until `stop`: the timers, the coalescing flush, the
/// resync of rooms that became small again, and (with shared leases) the lease and
/// the sweeps.
pub(crate) async fn background_tasks(service: Arc<Service>, stop: CancellationToken) {
    let timers = {
        let service = service.clone();
        let stop = stop.clone();
        async move {
            let timers = service.timers.clone();
            timers.run(stop, |key, at| service.on_timer(key, at)).await;
        }
    };
    let flush = async {
        // The first change in a quiet room goes out from `deliver` at once; this sends
        // what waited for the window since a room's last send. It runs five times a
        // window, so such a diff goes out at most a fifth of a window late (10 ms at
        // the default 50), and a tick with nothing due only takes the lock and looks
        // at the dirty rooms.
        let mut tick = tokio::time::interval(flush_tick(service.config.coalesce_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => service.hub.flush(),
            }
        }
    };
    let stale_rooms = {
        let service = service.clone();
        let stop = stop.clone();
        async move {
            // Large rooms that became small again: their members need the list.
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = tick.tick() => {
                        metrics::outbound_bytes(service.outbound.get());
                        for room in service.hub.take_stale_rooms() {
                            service.resync_room(&room).await;
                        }
                    }
                }
            }
        }
    };
    let leases = {
        let service = service.clone();
        let stop = stop.clone();
        async move {
            if !service.shared_store() {
                return;
            }
            let mut tick =
                tokio::time::interval(Duration::from_millis(service.config.lease_renew_ms));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut sweep = tokio::time::interval(Duration::from_millis(
                service.config.lease_renew_ms.min(1_000),
            ));
            sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let (mut first, mut up) = (true, true);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = tick.tick() => {
                        up = service.maintain_lease(first, up).await;
                        if up {
                            first = false;
                        }
                    }
                    _ = sweep.tick() => {
                        if up && !first {
                            service.sweep_dead_nodes().await;
                        }
                    }
                }
            }
        }
    };
    tokio::join!(timers, flush, stale_rooms, leases);
}

/// How often the flush task runs for a coalescing window of `coalesce_ms`: a fifth of
/// the window, at least 1 ms.
fn flush_tick(coalesce_ms: u64) -> Duration {
    (Duration::from_millis(coalesce_ms) / 5).max(Duration::from_millis(1))
}
