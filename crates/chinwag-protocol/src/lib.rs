//! The Chinwag wire contract: every frame that crosses the WebSocket, every
//! event the stream carries, and the error and close codes.
//!
//! This crate has no runtime dependencies (no tokio, axum or sqlx), so the
//! server, the bench and a future client SDK all share it. The prose version
//! of the contract is `docs/protocol.md`.
//!
//! # Layout
//! - [`id`]: the [`Id`] type (64-bit, a string on the wire).
//! - [`model`]: the resources that payloads carry (users, messages, ...).
//! - [`event`]: the [`Event`] enum, one file per event family, and the
//!   per-event metadata ([`EventKind`], [`EventClass`], [`CachePattern`]).
//! - [`permissions`]: the permission bits roles grant.
//! - [`server`]: server→client frames ([`ServerFrame`]).
//! - [`client`]: client→server commands ([`ClientFrame`]).
//! - [`stream`]: stream positions, resume requests and summaries.
//! - [`error`]: [`ErrorCode`] and [`CloseCode`].
//! - [`codec`]: JSON and MessagePack encoding ([`Encoding`]).

pub mod client;
pub mod codec;
pub mod error;
pub mod event;
pub mod id;
pub mod model;
pub mod permissions;
pub mod server;
pub mod stream;

pub use client::ClientFrame;
pub use codec::{CodecError, Encoding};
pub use error::{CloseCode, ErrorCode};
pub use event::{Audience, CachePattern, Event, EventClass, EventKind};
pub use id::Id;
pub use server::ServerFrame;
pub use stream::{RoomPosition, StreamPos};

/// Milliseconds since the Unix epoch, the one timestamp format on the wire.
pub type Timestamp = i64;
