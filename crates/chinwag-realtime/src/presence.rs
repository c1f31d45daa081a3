//! [`PresenceTracker`]: one presence per user, aggregated across every
//! connection on every node.
//!
//! - `USER_ONLINE` goes out when the user's first connection opens, and when
//!   the status (online, idle, dnd) changes while connected.
//! - `USER_OFFLINE` goes out when the last connection has been gone for the
//!   grace period, so a quick reconnect shows no flicker. A disconnect's
//!   check remembers the registry version it left; when it falls due it
//!   counts only if the version is still that one. Any later change on any
//!   node (a reconnect, a later disconnect with its own check) makes it a
//!   no-op, so the grace runs from the user's last disconnect cluster-wide.
//! - Each user's changes run under a per-user serializer, and each carries
//!   the registry version taken atomically with the change: the highest
//!   version always tells the truth, and a client applies only newer ones.
//! - After `USER_OFFLINE` the [`OfflineHook`] runs (the server takes the
//!   user out of voice), and a stopping node waits for the offline checks
//!   it has pending ([`PresenceTracker::finish_pending`]): they would
//!   otherwise die with the process, and nothing else would send them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chinwag_protocol::event::presence::PresenceChanged;
use chinwag_protocol::model::{Presence, PresenceStatus};
use chinwag_protocol::{Event, Id};
use tokio_util::task::TaskTracker;

use crate::engine::{Engine, PresenceOp, PresenceSnapshot};
use crate::{ConnId, Hub, HubError, KeyedSerializer, RoomId};

/// Finds the rooms a user's presence is published to, besides the user's
/// own `user:` room (e.g. the user's communities and DMs).
pub type PresenceRooms =
    Arc<dyn Fn(Id) -> Pin<Box<dyn Future<Output = Vec<RoomId>> + Send>> + Send + Sync>;

/// Runs for a user after their `USER_OFFLINE` went out.
pub type OfflineHook = Arc<dyn Fn(Id) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Tracks presence and publishes its changes.
pub struct PresenceTracker {
    hub: Hub,
    grace: Duration,
    rooms: PresenceRooms,
    on_offline: Option<OfflineHook>,
    serializer: KeyedSerializer<Id>,
    /// The offline checks waiting out their grace period.
    pending: TaskTracker,
}

impl std::fmt::Debug for PresenceTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresenceTracker")
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

impl PresenceTracker {
    /// A tracker publishing through `hub`, waiting `grace` before offline,
    /// then running `on_offline`. On a distributed engine it also follows
    /// the connections reaped from dead nodes, so their users go offline
    /// too.
    pub fn new(
        hub: Hub,
        grace: Duration,
        rooms: PresenceRooms,
        on_offline: Option<OfflineHook>,
    ) -> Arc<PresenceTracker> {
        let tracker = Arc::new(PresenceTracker {
            hub,
            grace,
            rooms,
            on_offline,
            serializer: KeyedSerializer::new(),
            pending: TaskTracker::new(),
        });
        #[cfg(any(feature = "redis", feature = "nats"))]
        if let Some(mut reaped) = tracker.hub.engine().subscribe_reaped() {
            let weak = Arc::downgrade(&tracker);
            tokio::spawn(async move {
                use tokio::sync::broadcast::error::RecvError;
                loop {
                    match reaped.recv().await {
                        Ok(notice) => match weak.upgrade() {
                            Some(tracker) if notice.snapshot.connections == 0 => {
                                tracker.check_offline(notice.user, Some(notice.snapshot.version));
                            }
                            Some(_) => {}
                            None => break,
                        },
                        Err(RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "missed reaped-connection notices");
                        }
                        Err(RecvError::Closed) => break,
                    }
                }
            });
        }
        tracker
    }

    /// A connection of `user` opened, optionally setting the user's status
    /// (the last device to set one wins). `rooms` are the user's presence
    /// rooms if the caller already knows them (the connection was just
    /// joined to them); `None` looks them up if a change goes out.
    pub async fn connected(
        &self,
        user: Id,
        conn: ConnId,
        status: Option<PresenceStatus>,
        rooms: Option<Vec<RoomId>>,
    ) -> Result<(), HubError> {
        let _turn = self.serializer.lock(user).await;
        let engine = self.hub.engine();
        let mut snap = engine.presence(user, PresenceOp::Add(conn)).await?;
        let first = snap.connections == 1;
        let changed = status.filter(|s| *s != snap.status);
        if let Some(status) = changed {
            snap = engine.presence(user, PresenceOp::SetStatus(status)).await?;
        }
        if first || changed.is_some() {
            self.publish(user, snap, false, rooms).await;
        }
        Ok(())
    }

    /// A connection of `user` closed. After the grace period, if the user
    /// has no connection left anywhere, `USER_OFFLINE` goes out.
    pub async fn disconnected(self: &Arc<Self>, user: Id, conn: ConnId) -> Result<(), HubError> {
        let _turn = self.serializer.lock(user).await;
        let snap = self
            .hub
            .engine()
            .presence(user, PresenceOp::Remove(conn))
            .await?;
        if snap.connections == 0 {
            self.check_offline(user, Some(snap.version));
        }
        Ok(())
    }

    /// After the grace period, sends `USER_OFFLINE` if the user has no
    /// connection left anywhere and, given `since`, the registry still holds
    /// that version (nothing happened since the disconnect that scheduled
    /// this), then runs the offline hook. Disconnects schedule it with the
    /// version they left, and so does the reaper's notice. A starting node
    /// schedules it with `None` for the users its store still has in voice
    /// (a node that died may have left them there): then no connection is
    /// enough.
    pub fn check_offline(self: &Arc<Self>, user: Id, since: Option<i64>) {
        let this = self.clone();
        self.pending.spawn(async move {
            tokio::time::sleep(this.grace).await;
            // Boxed so the task stays small while it sleeps: a disconnect
            // storm parks one of these per user.
            Box::pin(async move {
                match this.offline_if_gone(user, since).await {
                    Ok(true) => {
                        if let Some(hook) = &this.on_offline {
                            hook(user).await;
                        }
                    }
                    Ok(false) => {}
                    Err(err) => tracing::error!(%user, %err, "presence check failed"),
                }
            })
            .await;
        });
    }

    /// Waits for the offline checks already scheduled (a stopping node
    /// calls this once its connections are closed). Checks scheduled
    /// meanwhile are waited for too.
    pub async fn finish_pending(&self) {
        self.pending.close();
        self.pending.wait().await;
    }

    /// Offline checks scheduled and not yet done.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Sets the user's status (online, idle, dnd) while connected; a change
    /// goes out as `USER_ONLINE`, a repeat of the current status does not.
    pub async fn set_status(&self, user: Id, status: PresenceStatus) -> Result<(), HubError> {
        let _turn = self.serializer.lock(user).await;
        let engine = self.hub.engine();
        if engine.presence(user, PresenceOp::Peek).await?.status == status {
            return Ok(());
        }
        let snap = engine.presence(user, PresenceOp::SetStatus(status)).await?;
        if snap.connections > 0 {
            self.publish(user, snap, false, None).await;
        }
        Ok(())
    }

    /// The user's presence now (read only: the version stays).
    pub async fn current(&self, user: Id) -> Result<Presence, HubError> {
        let snap = self.hub.engine().presence(user, PresenceOp::Peek).await?;
        Ok(presence_of(user, snap, snap.connections == 0))
    }

    /// Sends `USER_OFFLINE` if the user has no connection anywhere and the
    /// registry is still at version `since` (if given); whether it did. The
    /// state is peeked first, so a check that no longer counts writes
    /// nothing; a connection racing in between is caught by the bumping
    /// read, which goes out only if the user still has none.
    async fn offline_if_gone(&self, user: Id, since: Option<i64>) -> Result<bool, HubError> {
        let _turn = self.serializer.lock(user).await;
        let engine = self.hub.engine();
        let now = engine.presence(user, PresenceOp::Peek).await?;
        if now.connections > 0 || since.is_some_and(|v| v != now.version) {
            return Ok(false);
        }
        let snap = engine.presence(user, PresenceOp::Read).await?;
        let gone = snap.connections == 0;
        if gone {
            self.publish(user, snap, true, None).await;
        }
        Ok(gone)
    }

    /// Sends the change to the user's presence rooms (looked up unless
    /// `known`) and `user:` room, as one run.
    async fn publish(
        &self,
        user: Id,
        snap: PresenceSnapshot,
        offline: bool,
        known: Option<Vec<RoomId>>,
    ) {
        let payload = PresenceChanged {
            presence: presence_of(user, snap, offline),
        };
        let event = if offline {
            Event::UserOffline(payload)
        } else {
            Event::UserOnline(payload)
        };
        let mut rooms = match known {
            Some(rooms) => rooms,
            None => (self.rooms)(user).await,
        };
        rooms.push(RoomId::user(user));
        let results = self.hub.broadcast_each(&rooms, event).await;
        for (room, result) in rooms.iter().zip(results) {
            if let Err(err) = result {
                tracing::error!(%user, %room, %err, "presence publish failed");
            }
        }
    }
}

fn presence_of(user: Id, snap: PresenceSnapshot, offline: bool) -> Presence {
    Presence {
        user_id: user,
        status: if offline {
            PresenceStatus::Offline
        } else {
            snap.status
        },
        version: snap.version,
    }
}
