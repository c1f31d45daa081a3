//! [`Hub`]: the API the rest of the server uses to address rooms,
//! connections and users, whatever the engine.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chinwag_protocol::event::topic::TopicMessage;
use chinwag_protocol::model::UserRole;
use chinwag_protocol::server::{ReauthRequired, ServerFrame};
use chinwag_protocol::{Audience, CloseCode, Event, Id, StreamPos};
use tokio::sync::{broadcast, mpsc};

use crate::conn::{Control, OutboxConfig, lock};
use crate::engine::{
    ControlMsg, ControlSender, Engine, HistoryConfig, MembershipChange, MemoryEngine, Publication,
};
use crate::local::Local;
use crate::{
    AnyEngine, ConnHandle, ConnId, HubError, KeyedSerializer, NodeId, Outbox, Replay, Revocations,
    RoomId, RoomKind, SharedFrame,
};

/// The pieces an engine needs before the hub exists.
#[derive(Debug)]
pub struct HubSeed {
    /// This node's state; engines deliver into it.
    pub local: Arc<Local>,
    /// Where engines hand control traffic.
    pub control: ControlSender,
    control_rx: mpsc::UnboundedReceiver<ControlMsg>,
}

/// A message on the server-side bus (a topic room seen from the server).
pub type BusMessage = Arc<SharedFrame>;

/// The hub. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    local: Arc<Local>,
    engine: AnyEngine,
    interest: KeyedSerializer<RoomId>,
    subscribed: Mutex<HashSet<RoomId>>,
    revocations: Revocations,
}

impl Hub {
    /// Creates this node's state; build the engine from it, then
    /// [`Hub::start`].
    pub fn seed(node: NodeId, outbox: OutboxConfig) -> HubSeed {
        let (control, control_rx) = mpsc::unbounded_channel();
        HubSeed {
            local: Arc::new(Local::new(node, outbox)),
            control,
            control_rx,
        }
    }

    /// Starts the hub on an engine (spawns the control task).
    pub fn start(seed: HubSeed, engine: AnyEngine) -> Hub {
        let hub = Hub {
            inner: Arc::new(Inner {
                local: seed.local,
                engine,
                interest: KeyedSerializer::new(),
                revocations: Revocations::default(),
                subscribed: Mutex::default(),
            }),
        };
        tokio::spawn(control_loop(Arc::downgrade(&hub.inner), seed.control_rx));
        hub
    }

    /// A single-process hub on the in-memory engine.
    pub fn memory(node: NodeId, outbox: OutboxConfig, history: HistoryConfig) -> Hub {
        Self::memory_with(node, outbox, |local, control| {
            MemoryEngine::new(local, control, history)
        })
    }

    /// A hub on the engine an URL names: `memory` (or empty), `redis://…`
    /// (feature `redis`) or `nats://…` (feature `nats`). `prefix` namespaces
    /// the broker's keys and subjects, so clusters can share a broker.
    pub async fn connect(
        url: &str,
        node: NodeId,
        outbox: OutboxConfig,
        history: HistoryConfig,
        prefix: &str,
    ) -> Result<Hub, HubError> {
        let seed = Hub::seed(node, outbox);
        let (local, control) = (seed.local.clone(), seed.control.clone());
        let engine = match url.split_once("://").map_or(url, |(scheme, _)| scheme) {
            "" | "memory" => AnyEngine::Memory(MemoryEngine::new(local, control, history)),
            #[cfg(feature = "redis")]
            "redis" | "rediss" => AnyEngine::Redis(
                crate::engine::redis::RedisEngine::connect(url, local, control, history, prefix)
                    .await?,
            ),
            #[cfg(feature = "nats")]
            "nats" | "tls" => AnyEngine::Nats(
                crate::engine::nats::NatsEngine::connect(url, local, control, history, prefix)
                    .await?,
            ),
            other => {
                let _ = prefix;
                return Err(HubError::Engine(format!(
                    "engine `{other}` is not supported by this build (features: redis, nats)"
                )));
            }
        };
        Ok(Hub::start(seed, engine))
    }

    /// A single-process hub on an in-memory engine built by `make`.
    pub fn memory_with(
        node: NodeId,
        outbox: OutboxConfig,
        make: impl FnOnce(Arc<Local>, ControlSender) -> MemoryEngine,
    ) -> Hub {
        let seed = Hub::seed(node, outbox);
        let engine = make(seed.local.clone(), seed.control.clone());
        Hub::start(seed, AnyEngine::Memory(engine))
    }

    /// This node.
    pub fn node(&self) -> &NodeId {
        self.inner.local.node()
    }

    /// The engine.
    pub fn engine(&self) -> &AnyEngine {
        &self.inner.engine
    }

    /// This node's state.
    pub fn local(&self) -> &Arc<Local> {
        &self.inner.local
    }

    /// Registers a connection. Drain the returned outbox onto the wire, and
    /// call [`Hub::unregister`] when the connection ends.
    pub fn register(&self, user: Id, role: UserRole) -> (Arc<ConnHandle>, Outbox) {
        self.inner.local.register(user, role)
    }

    /// Removes a connection from every room and forgets it.
    pub async fn unregister(&self, conn: &ConnHandle) {
        for room in self.inner.local.unregister(conn) {
            self.sync_interest(&room).await;
        }
    }

    /// Joins a connection to a room. Live delivery starts at once; the
    /// returned position is the stream head read after the join, so every
    /// event after it reaches the connection.
    pub async fn join(&self, conn: &Arc<ConnHandle>, room: &RoomId) -> Result<StreamPos, HubError> {
        self.inner.local.add_member(conn, room);
        self.sync_interest(room).await;
        self.inner.engine.head(room).await
    }

    /// Like [`Hub::join`], and tells the connection (`room_joined`).
    pub async fn join_and_notify(
        &self,
        conn: &Arc<ConnHandle>,
        room: &RoomId,
    ) -> Result<StreamPos, HubError> {
        let newly = !conn.in_room(room);
        let pos = self.join(conn, room).await?;
        if newly {
            conn.push_control(Control::Joined(room.clone(), pos.clone()));
        }
        Ok(pos)
    }

    /// Removes a connection from a room and tells it (`room_left`).
    pub async fn leave(&self, conn: &ConnHandle, room: &RoomId, reason: &str) {
        if self.inner.local.remove_member(conn, room) {
            conn.push_control(Control::Left(room.clone(), reason.to_string()));
            self.sync_interest(room).await;
        }
    }

    /// Joins every connection of `user`, on every node, to `room`.
    pub async fn join_user(&self, user: Id, room: &RoomId) -> Result<(), HubError> {
        self.inner
            .engine
            .control(ControlMsg::Membership {
                user,
                room: room.clone(),
                change: MembershipChange::Join,
            })
            .await
    }

    /// Removes every connection of `user`, on every node, from `room`.
    pub async fn leave_user(&self, user: Id, room: &RoomId, reason: &str) -> Result<(), HubError> {
        self.inner
            .engine
            .control(ControlMsg::Membership {
                user,
                room: room.clone(),
                change: MembershipChange::Leave(reason.to_string()),
            })
            .await
    }

    /// Asks every connection of `user`, on every node, for a new token.
    pub async fn require_reauth(&self, user: Id, reason: &str) -> Result<(), HubError> {
        self.inner
            .engine
            .control(ControlMsg::ReauthRequired {
                user,
                reason: reason.to_string(),
            })
            .await
    }

    /// Closes, on every node, the connections of `user` whose token names
    /// `session` (all of the user's when `None`) with 4012 SessionRevoked.
    /// This node refuses the session's tokens from now on; the others do
    /// once the message reaches them ([`Hub::revocations`]).
    pub async fn revoke_session(&self, user: Id, session: Option<Id>) -> Result<(), HubError> {
        self.inner.revocations.record(user, session);
        self.inner
            .engine
            .control(ControlMsg::SessionRevoked { user, session })
            .await
    }

    /// The signed-out sessions this node knows of, to refuse their tokens.
    pub fn revocations(&self) -> &Revocations {
        &self.inner.revocations
    }

    /// Broadcasts an event to a room. Only events every role understands
    /// may go to a room that can mix roles; a `user:` room holds one user's
    /// connections, so any event may go there.
    pub async fn broadcast(
        &self,
        room: &RoomId,
        event: Event,
    ) -> Result<Option<StreamPos>, HubError> {
        may_broadcast(room, &event)?;
        self.inner.engine.publish(room, event, None).await
    }

    /// Sends one event to several rooms as one run (one round trip on a
    /// distributed engine). One result per room, in order; if the event
    /// may not go to one of them, it goes to none.
    pub async fn broadcast_each(
        &self,
        rooms: &[RoomId],
        event: Event,
    ) -> Vec<Result<Option<StreamPos>, HubError>> {
        if let Some(err) = rooms
            .iter()
            .find_map(|room| may_broadcast(room, &event).err())
        {
            return vec![Err(err); rooms.len()];
        }
        let run = rooms
            .iter()
            .map(|room| Publication {
                room: room.clone(),
                event: event.clone(),
                only_role: None,
            })
            .collect();
        self.inner.engine.publish_many(run).await
    }

    /// Publishes to a room's connections of one role only (a role-scoped
    /// topic publish); any event is accepted.
    pub async fn publish_for_role(
        &self,
        room: &RoomId,
        role: UserRole,
        event: Event,
    ) -> Result<Option<StreamPos>, HubError> {
        self.inner.engine.publish(room, event, Some(role)).await
    }

    /// Sends an event to every connection of a user, on every node.
    pub async fn to_user(&self, user: Id, event: Event) -> Result<Option<StreamPos>, HubError> {
        self.broadcast(&RoomId::user(user), event).await
    }

    /// Sends an event to one connection, on whichever node holds it. The
    /// frame's room is `conn:{id}` and it has no offset.
    pub async fn to_conn(&self, conn: ConnId, event: Event) -> Result<(), HubError> {
        self.inner
            .engine
            .send_to_conn(conn, &RoomId::conn(conn), event)
            .await
    }

    /// Publishes on the cluster bus: every node's server-side subscribers
    /// and every client subscribed to `topic:{topic}` receive it.
    pub async fn bus_publish(
        &self,
        topic: &str,
        from: Option<Id>,
        data: serde_json::Value,
    ) -> Result<Option<StreamPos>, HubError> {
        let p = self.bus_message(RoomId::topic(topic)?, from, data);
        self.inner.engine.publish(&p.room, p.event, None).await
    }

    /// Publishes a run of bus messages from one sender, in order, each to
    /// a topic room (made by [`RoomId::topic`]); a distributed engine
    /// sends the run in one round trip. One result per message.
    pub async fn bus_publish_many(
        &self,
        from: Option<Id>,
        messages: Vec<(RoomId, serde_json::Value)>,
    ) -> Vec<Result<Option<StreamPos>, HubError>> {
        let run = messages
            .into_iter()
            .map(|(room, data)| self.bus_message(room, from, data))
            .collect();
        self.inner.engine.publish_many(run).await
    }

    fn bus_message(&self, room: RoomId, from: Option<Id>, data: serde_json::Value) -> Publication {
        Publication {
            event: Event::TopicMessage(TopicMessage {
                topic: room.key().to_string(),
                from,
                origin_node: self.node().name().to_string(),
                data,
            }),
            room,
            only_role: None,
        }
    }

    /// Subscribes this server to a bus topic, on this node.
    pub async fn bus_subscribe(
        &self,
        topic: &str,
    ) -> Result<broadcast::Receiver<BusMessage>, HubError> {
        let room = RoomId::topic(topic)?;
        let rx = self.inner.local.bus_subscribe(&room);
        self.sync_interest(&room).await;
        Ok(rx)
    }

    /// Events in `room` after `since`, or a resync.
    pub async fn replay(&self, room: &RoomId, since: &StreamPos) -> Result<Replay, HubError> {
        self.inner.engine.replay(room, since).await
    }

    /// A room's current stream position.
    pub async fn head(&self, room: &RoomId) -> Result<StreamPos, HubError> {
        self.inner.engine.head(room).await
    }

    /// Members of a room on this node.
    pub fn room_size(&self, room: &RoomId) -> usize {
        self.inner.local.room_size(room)
    }

    /// Asks every local connection to close with `code` (e.g. on shutdown).
    pub fn close_all(&self, code: CloseCode) {
        self.inner.local.for_each_conn(|conn| {
            conn.request_close(code);
        });
    }

    /// Calls `f` with every local connection, under the registry lock: `f`
    /// must be quick (the transport's reaper checks two atomics).
    pub fn for_each_conn(&self, f: impl FnMut(&ConnHandle)) {
        self.inner.local.for_each_conn(f);
    }

    /// Brings the engine's subscription for `room` in line with this node's
    /// interest. Serialized per room, so racing joins and leaves settle on
    /// the right state.
    async fn sync_interest(&self, room: &RoomId) {
        sync_interest(&self.inner, room).await;
    }
}

async fn sync_interest(inner: &Inner, room: &RoomId) {
    let _turn = inner.interest.lock(room.clone()).await;
    let want = inner.local.has_interest(room);
    let have = lock(&inner.subscribed).contains(room);
    if want == have {
        return;
    }
    match inner.engine.set_interest(room, want).await {
        Ok(()) => {
            let mut subscribed = lock(&inner.subscribed);
            if want {
                subscribed.insert(room.clone());
            } else {
                subscribed.remove(room);
            }
        }
        Err(err) => tracing::error!(%room, want, %err, "engine subscription change failed"),
    }
}

async fn control_loop(inner: std::sync::Weak<Inner>, mut rx: mpsc::UnboundedReceiver<ControlMsg>) {
    while let Some(msg) = rx.recv().await {
        let Some(inner) = inner.upgrade() else { break };
        let hub = Hub { inner };
        match msg {
            ControlMsg::Membership { user, room, change } => {
                for conn in hub.local().user_conns(user) {
                    conn.note_membership_change();
                    match &change {
                        MembershipChange::Join => {
                            if let Err(err) = hub.join_and_notify(&conn, &room).await {
                                tracing::error!(%room, %err, "join failed");
                            }
                        }
                        MembershipChange::Leave(reason) => hub.leave(&conn, &room, reason).await,
                    }
                }
            }
            ControlMsg::ReauthRequired { user, reason } => {
                hub.local().control_user(user, || {
                    Control::Frame(ServerFrame::ReauthRequired(ReauthRequired {
                        reason: reason.clone(),
                    }))
                });
            }
            ControlMsg::SessionRevoked { user, session } => {
                hub.inner.revocations.record(user, session);
                for conn in hub.local().user_conns(user) {
                    if session.is_none() || conn.session() == session {
                        conn.request_close(CloseCode::SessionRevoked);
                        tracing::info!(conn = %conn.id(), %user, "session revoked: closing");
                    }
                }
            }
            ControlMsg::Lost => hub.close_all(CloseCode::Rejoin),
        }
    }
}

/// A per-connection event (`audience` other than shared) goes only to a
/// `user:` room.
fn may_broadcast(room: &RoomId, event: &Event) -> Result<(), HubError> {
    let kind = event.kind();
    if kind.audience() != Audience::Shared && room.kind() != RoomKind::User {
        return Err(HubError::NotShared(kind.name(), room.to_string()));
    }
    Ok(())
}
