//! The Chinwag hub: everything real-time that does not depend on a transport.
//!
//! Connections register with the [`Hub`] and receive an [`Outbox`] receiver;
//! the transport (the WebSocket gateway, later gRPC) drains it onto the wire.
//! Rooms are the only addressing: `user:`, `community:`, `channel:`, `dm:` and
//! opt-in `topic:` rooms. Durable events get an offset in their room's stream
//! from the [`Engine`]; the stream keeps a bounded history for resume.
//!
//! # Layout
//! - [`room`]: room names ([`RoomId`], [`RoomKind`]).
//! - [`conn`]: connection ids and the hub-side handle ([`ConnHandle`]), with
//!   the outbox overflow policy.
//! - [`outbox`]: the bounded per-connection queue ([`Outbox`]).
//! - [`frame`]: [`SharedFrame`], an event serialized once per fan-out.
//! - [`local`]: this node's connections and room memberships.
//! - [`engine`]: the [`Engine`] trait (offsets, history, cross-node fan-out,
//!   presence registry) and its implementations.
//! - [`hub`]: the [`Hub`] API: join, leave, broadcast, `to_user`, `to_conn`,
//!   topics, the server bus and replay.
//! - [`serializer`]: the per-key serializer for ordered writes.
//! - [`presence`]: presence aggregated across connections and nodes.
//! - [`error`]: the [`HubError`] type.

pub mod conn;
pub mod engine;
pub mod error;
pub mod frame;
pub mod hub;
pub mod local;
pub mod outbox;
pub mod presence;
pub mod revoked;
pub mod room;
pub mod serializer;

pub use conn::{ConnHandle, ConnId, NodeId, OutboxConfig, Outgoing};
pub use engine::{AnyEngine, Engine, HistoryConfig, Replay};
pub use error::HubError;
pub use frame::SharedFrame;
pub use hub::{BusMessage, Hub};
pub use outbox::Outbox;
pub use presence::{OfflineHook, PresenceTracker};
pub use revoked::Revocations;
pub use room::{RoomId, RoomKind};
pub use serializer::{KeyedSerializer, SerialGuard};
