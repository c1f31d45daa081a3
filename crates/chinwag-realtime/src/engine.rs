//! The [`Engine`]: what a cluster shares. It assigns each durable event its
//! offset in the room's stream, keeps the bounded history that resume reads,
//! carries room traffic to every node with local interest, routes `to_conn`
//! and membership changes to the right nodes, and keeps the presence
//! registry.
//!
//! Engines deliver room traffic straight into
//! [`Local::deliver`](crate::local::Local::deliver), in offset
//! order, and control traffic (membership changes) into the hub's control
//! channel. The hub never needs to know which engine it runs on.
//!
//! # Layout
//! - [`memory`]: the single-process engine (the default).
//! - `redis` (feature `redis`) and `nats` (feature `nats`): the distributed
//!   engines.

#[cfg(any(feature = "redis", feature = "nats"))]
pub mod broker;
#[cfg(any(feature = "redis", feature = "nats"))]
pub(crate) mod control_log;
pub mod memory;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "redis")]
pub mod redis;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chinwag_protocol::model::{PresenceStatus, UserRole};
use chinwag_protocol::stream::ResyncReason;
use chinwag_protocol::{Event, Id, StreamPos};
use tokio::sync::mpsc;

use crate::{ConnId, HubError, RoomId, SharedFrame};

pub use memory::MemoryEngine;

/// How much history each room stream keeps.
///
/// The default length is sized by time: a client closed as a slow consumer
/// at the fan-out ceiling of `docs/benchmarks.md` (about 3000 events/s to
/// one room, with seconds of lag) can still resume without a resync.
#[derive(Debug, Clone, Copy)]
pub struct HistoryConfig {
    /// Events kept per room.
    pub max_len: usize,
    /// Events older than this are dropped.
    pub max_age: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            max_len: 10_000,
            max_age: Duration::from_secs(600),
        }
    }
}

/// The answer to a replay request.
#[derive(Debug)]
pub enum Replay {
    /// Every event after the requested offset, in order (maybe none).
    Events(Vec<Arc<SharedFrame>>),
    /// History cannot satisfy the request; refetch and continue from `head`.
    Resync {
        /// Why.
        reason: ResyncReason,
        /// The stream's position now.
        head: StreamPos,
    },
}

/// A membership change for all of a user's connections, on every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipChange {
    /// Join the room.
    Join,
    /// Leave the room, for this reason (e.g. `kicked`).
    Leave(String),
}

/// Control traffic an engine hands to the hub on each node.
#[derive(Debug)]
pub enum ControlMsg {
    /// Apply a membership change to the user's local connections.
    Membership {
        /// The user.
        user: Id,
        /// The room.
        room: RoomId,
        /// Join or leave.
        change: MembershipChange,
    },
    /// Ask the user's local connections to fetch a new token.
    ReauthRequired {
        /// The user.
        user: Id,
        /// Why.
        reason: String,
    },
    /// Close the user's local connections whose token names `session`
    /// (every connection of the user when `None`): the session was signed
    /// out.
    SessionRevoked {
        /// The user.
        user: Id,
        /// The session, or `None` for all of them.
        session: Option<Id>,
    },
    /// This node missed control messages it cannot recover: every local
    /// connection must reconnect so its rooms are computed again. Engines
    /// send it to their own node only.
    Lost,
}

/// A change to the presence registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceOp {
    /// A connection of the user opened.
    Add(ConnId),
    /// A connection of the user closed.
    Remove(ConnId),
    /// Read the state, bumping the version: for a state that is then
    /// published (an offline check), so its event has a version of its own.
    Read,
    /// Read the state without changing anything: for what is not
    /// published (a status shown in `ready`, a REST read, a check).
    Peek,
    /// The user set a status (online, idle, dnd).
    SetStatus(PresenceStatus),
}

/// A user's registry state after a [`PresenceOp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceSnapshot {
    /// Connections cluster-wide.
    pub connections: usize,
    /// The status the user chose (meaningful while connected).
    pub status: PresenceStatus,
    /// The presence version after this operation.
    pub version: i64,
}

/// One event of a run given to [`Engine::publish_many`].
#[derive(Debug)]
pub struct Publication {
    /// The room.
    pub room: RoomId,
    /// The event.
    pub event: Event,
    /// Restricts delivery (and replay) to one role.
    pub only_role: Option<UserRole>,
}

/// Sender for [`ControlMsg`]s, given to an engine at construction.
pub type ControlSender = mpsc::UnboundedSender<ControlMsg>;

/// What every engine provides. Implementations must deliver each room's
/// events to [`crate::local::Local::deliver`] on every interested node in
/// offset order.
pub trait Engine: Send + Sync + 'static {
    /// Publishes an event to a room. Durable events get the next offset in
    /// the room's stream and go into its history; the position is returned.
    /// `only_role` restricts delivery (and replay) to one role.
    fn publish(
        &self,
        room: &RoomId,
        event: Event,
        only_role: Option<UserRole>,
    ) -> impl Future<Output = Result<Option<StreamPos>, HubError>> + Send;

    /// Publishes a run of events in order, with the same effect as calling
    /// [`Engine::publish`] for each in turn: one result per event, and an
    /// event that fails does not stop the rest. A distributed engine may
    /// send the whole run in one round trip.
    fn publish_many(
        &self,
        run: Vec<Publication>,
    ) -> impl Future<Output = Vec<Result<Option<StreamPos>, HubError>>> + Send {
        async move {
            let mut results = Vec::with_capacity(run.len());
            for p in run {
                results.push(self.publish(&p.room, p.event, p.only_role).await);
            }
            results
        }
    }

    /// The stream's current position (the last offset assigned).
    fn head(&self, room: &RoomId) -> impl Future<Output = Result<StreamPos, HubError>> + Send;

    /// Events after `since`, or a resync.
    fn replay(
        &self,
        room: &RoomId,
        since: &StreamPos,
    ) -> impl Future<Output = Result<Replay, HubError>> + Send;

    /// Starts or stops carrying a room's traffic to this node. Called with
    /// the room's local interest after each change, serialized per room.
    fn set_interest(
        &self,
        room: &RoomId,
        interested: bool,
    ) -> impl Future<Output = Result<(), HubError>> + Send;

    /// Delivers an event (no offset) to one connection on whichever node
    /// holds it. `room` names the frame's room on the wire.
    fn send_to_conn(
        &self,
        conn: ConnId,
        room: &RoomId,
        event: Event,
    ) -> impl Future<Output = Result<(), HubError>> + Send;

    /// Sends a control message to every node (including this one).
    fn control(&self, msg: ControlMsg) -> impl Future<Output = Result<(), HubError>> + Send;

    /// Applies a presence operation to the cluster-wide registry and
    /// returns the user's state after it. Every operation bumps the user's
    /// presence version atomically with the change, so the snapshot with the
    /// highest version always describes the latest registry state.
    fn presence(
        &self,
        user: Id,
        op: PresenceOp,
    ) -> impl Future<Output = Result<PresenceSnapshot, HubError>> + Send;

    /// The engine's name, for logs and health (`memory`, `redis`, `nats`).
    fn name(&self) -> &'static str;
}

/// The engines this build supports, dispatched statically.
#[derive(Debug)]
pub enum AnyEngine {
    /// Single process.
    Memory(MemoryEngine),
    /// Nodes sharing a Redis.
    #[cfg(feature = "redis")]
    Redis(redis::RedisEngine),
    /// Nodes sharing a NATS (JetStream) server.
    #[cfg(feature = "nats")]
    Nats(nats::NatsEngine),
}

macro_rules! dispatch {
    ($self:ident, $e:ident => $body:expr) => {
        match $self {
            AnyEngine::Memory($e) => $body,
            #[cfg(feature = "redis")]
            AnyEngine::Redis($e) => $body,
            #[cfg(feature = "nats")]
            AnyEngine::Nats($e) => $body,
        }
    };
}

impl Engine for AnyEngine {
    async fn publish(
        &self,
        room: &RoomId,
        event: Event,
        only_role: Option<UserRole>,
    ) -> Result<Option<StreamPos>, HubError> {
        dispatch!(self, e => e.publish(room, event, only_role).await)
    }

    async fn publish_many(
        &self,
        run: Vec<Publication>,
    ) -> Vec<Result<Option<StreamPos>, HubError>> {
        dispatch!(self, e => e.publish_many(run).await)
    }

    async fn head(&self, room: &RoomId) -> Result<StreamPos, HubError> {
        dispatch!(self, e => e.head(room).await)
    }

    async fn replay(&self, room: &RoomId, since: &StreamPos) -> Result<Replay, HubError> {
        dispatch!(self, e => e.replay(room, since).await)
    }

    async fn set_interest(&self, room: &RoomId, interested: bool) -> Result<(), HubError> {
        dispatch!(self, e => e.set_interest(room, interested).await)
    }

    async fn send_to_conn(
        &self,
        conn: ConnId,
        room: &RoomId,
        event: Event,
    ) -> Result<(), HubError> {
        dispatch!(self, e => e.send_to_conn(conn, room, event).await)
    }

    async fn control(&self, msg: ControlMsg) -> Result<(), HubError> {
        dispatch!(self, e => e.control(msg).await)
    }

    async fn presence(&self, user: Id, op: PresenceOp) -> Result<PresenceSnapshot, HubError> {
        dispatch!(self, e => e.presence(user, op).await)
    }

    fn name(&self) -> &'static str {
        dispatch!(self, e => e.name())
    }
}

impl AnyEngine {
    /// Notices of connections this node removed from the presence registry
    /// because their node stopped heartbeating (distributed engines only).
    #[cfg(any(feature = "redis", feature = "nats"))]
    pub fn subscribe_reaped(&self) -> Option<tokio::sync::broadcast::Receiver<broker::Reaped>> {
        match self {
            AnyEngine::Memory(_) => None,
            #[cfg(feature = "redis")]
            AnyEngine::Redis(e) => Some(e.subscribe_reaped()),
            #[cfg(feature = "nats")]
            AnyEngine::Nats(e) => Some(e.subscribe_reaped()),
        }
    }
}
