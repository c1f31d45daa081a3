//! [`Chat`]: the service handle, and how it emits events and changes live
//! room membership.

use chinwag_protocol::{Event, Id};
use std::sync::Arc;

use chinwag_realtime::{Hub, KeyedSerializer, RoomId, SerialGuard};
use chinwag_store::Store;

use crate::access::SendAccessCache;
use crate::error::Result;

/// The reason given to connections removed from a room because they lost
/// access to it.
pub const ACCESS_REVOKED: &str = "access_revoked";
/// The reason given when the room's resource was deleted.
pub const DELETED: &str = "deleted";

/// The chat services. Cheap to clone; every method lives in an area module
/// ([`accounts`](crate::accounts), [`messages`](crate::messages), ...).
#[derive(Debug, Clone)]
pub struct Chat {
    pub(crate) store: Store,
    pub(crate) hub: Hub,
    pub(crate) refresh_ttl_ms: i64,
    /// Message writes to one channel run one at a time, persist then emit,
    /// so the stream's order is the id order.
    pub(crate) channel_writes: Arc<KeyedSerializer<Id>>,
    /// Changes to who is in a community's rooms, one at a time per
    /// community (see [`CommunityTurn`]).
    pub(crate) community_turns: Arc<KeyedSerializer<Id>>,
    /// The checks that let users send, reused while still current.
    pub(crate) send_access: Arc<SendAccessCache>,
}

/// A community's turn at changing who is in its rooms: joining, kicks and
/// bans, channel creation, deletion and privacy, the private lists, roles,
/// overrides, and deleting the community. Each holds it from its reads,
/// through its write, to its last room change and event, so no change
/// works from a view another has made stale: a kick racing a new channel
/// still takes the user out of it, and a join racing a ban does not put
/// the banned user back. Taken once per call: it is not reentrant.
pub(crate) struct CommunityTurn<'a> {
    _turn: SerialGuard<'a, Id>,
    /// The community.
    pub(crate) community_id: Id,
}

/// Default refresh token lifetime: 30 days.
pub const DEFAULT_REFRESH_TTL_SECS: u64 = 30 * 24 * 3600;

impl Chat {
    /// Chat over a store and a hub.
    pub fn new(store: Store, hub: Hub) -> Chat {
        Chat {
            store,
            hub,
            refresh_ttl_ms: (DEFAULT_REFRESH_TTL_SECS * 1000) as i64,
            channel_writes: Arc::new(KeyedSerializer::new()),
            community_turns: Arc::new(KeyedSerializer::new()),
            send_access: Arc::default(),
        }
    }

    /// Chat over `store` and a fresh in-memory hub, for unit tests.
    #[cfg(test)]
    pub(crate) fn on_memory_hub(store: Store) -> Chat {
        let hub = Hub::memory(
            chinwag_realtime::NodeId::generate(Some("test")),
            chinwag_realtime::OutboxConfig::default(),
            chinwag_realtime::engine::HistoryConfig::default(),
        );
        Chat::new(store, hub)
    }

    /// Waits for `community_id`'s turn at room membership changes.
    pub(crate) async fn community_turn(&self, community_id: Id) -> CommunityTurn<'_> {
        CommunityTurn {
            _turn: self.community_turns.lock(community_id).await,
            community_id,
        }
    }

    /// Sets how long refresh tokens live.
    pub fn with_refresh_ttl(mut self, secs: u64) -> Chat {
        self.refresh_ttl_ms = i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        self
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The hub.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Broadcasts an event to a room. The change is already stored, so a
    /// failure to emit is logged, not returned: clients that miss it are
    /// told to resync by the stream's offsets.
    pub(crate) async fn emit(&self, room: &RoomId, event: Event) {
        if let Err(err) = self.hub.broadcast(room, event).await {
            tracing::error!(%room, %err, "emitting an event failed");
        }
    }

    /// Joins every connection of `user` to `room`: at once on this node
    /// (so the next event in the room reaches them), and on every other
    /// node through the engine.
    pub(crate) async fn join_user(&self, user: Id, room: &RoomId) -> Result<()> {
        for conn in self.hub.local().user_conns(user) {
            self.hub.join_and_notify(&conn, room).await?;
        }
        self.hub.join_user(user, room).await?;
        Ok(())
    }

    /// Joins `user` to rooms of `community_id` they were found to see, then
    /// checks they are still a member. Another node's kick, ban or
    /// deletion may have committed after that was read and already taken
    /// them out of every room it knew of: then these joins are undone
    /// (reason `access_revoked`), and the answer is false.
    pub(crate) async fn join_member(
        &self,
        user: Id,
        community_id: Id,
        rooms: &[RoomId],
    ) -> Result<bool> {
        for room in rooms {
            self.join_user(user, room).await?;
        }
        if self.store.is_member(community_id, user).await? {
            return Ok(true);
        }
        for room in rooms {
            self.leave_user(user, room, ACCESS_REVOKED).await?;
        }
        Ok(false)
    }

    /// Removes every connection of `user` from `room`: at once on this
    /// node (so no later event in the room reaches them), and on every
    /// other node through the engine.
    pub(crate) async fn leave_user(&self, user: Id, room: &RoomId, reason: &str) -> Result<()> {
        for conn in self.hub.local().user_conns(user) {
            self.hub.leave(&conn, room, reason).await;
        }
        self.hub.leave_user(user, room, reason).await?;
        Ok(())
    }
}
