//! Server→client frames. Every frame is an object with an `op` field.

use serde::{Deserialize, Serialize};

use crate::model::{PresenceStatus, UserRole};
use crate::stream::{ResumeSummary, RoomPosition, StreamPos};
use crate::{ErrorCode, Event, Id, Timestamp};

/// A frame from the server.
// Frames are built once per send (events once per fan-out, shared behind an
// `Arc`), so the size of the largest variant costs nothing on a hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on every connection: the limits and deadlines.
    Hello(Hello),
    /// `identify` succeeded: who the connection is and where its rooms are.
    Ready(Ready),
    /// An event in a room.
    Event(EventFrame),
    /// A resume finished: what was replayed and what must be refetched.
    Resumed(ResumeSummary),
    /// The client fell behind: ephemeral events were dropped, or durable
    /// ones could not be queued (then a close with 4010 follows).
    Lagged(Lagged),
    /// The server joined the connection to a room.
    RoomJoined(RoomJoined),
    /// The server removed the connection from a room.
    RoomLeft(RoomLeft),
    /// A command with a nonce succeeded.
    Ack(Ack),
    /// A command failed. The connection stays open.
    Error(ErrorFrame),
    /// Answer to `ping`.
    Pong(Pong),
    /// The user's permissions changed: fetch a new token and send `reauth`.
    ReauthRequired(ReauthRequired),
    /// `reauth` succeeded.
    Reauthed(Reauthed),
    /// The server is going away: reconnect (to any node) and resume.
    Reconnect(Reconnect),
}

/// The `hello` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Send `ping` at least this often.
    pub heartbeat_interval_ms: u64,
    /// `identify` must arrive within this many milliseconds.
    pub identify_timeout_ms: u64,
    /// The largest frame the server accepts, in bytes.
    pub max_frame_bytes: usize,
    /// The node that holds this connection.
    pub node_id: String,
}

/// The `ready` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    /// This connection's id (usable with `to_conn` from any node).
    pub conn_id: String,
    /// The authenticated user.
    pub user_id: Id,
    /// The user's role.
    pub role: UserRole,
    /// The user's presence status as set by this connection.
    pub status: PresenceStatus,
    /// Every room the connection was joined to, with the stream position
    /// it starts from.
    pub rooms: Vec<RoomPosition>,
    /// When the token expires; send `reauth` before then.
    pub token_expires_at: Timestamp,
}

/// The `event` frame: an [`Event`] delivered in a room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventFrame {
    /// The room it was delivered in.
    pub room: String,
    /// The stream epoch (durable events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// The offset within the room's stream (durable events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The event: `type` and `data`.
    #[serde(flatten)]
    pub event: Event,
}

/// The `event` frame from borrowed parts: serializes exactly like
/// [`ServerFrame::Event`], so a shared event need not keep a second copy of
/// its room and epoch just to be encoded.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "op", rename = "event")]
pub struct EventFrameRef<'a> {
    /// The room it was delivered in.
    pub room: &'a str,
    /// The stream epoch (durable events only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<&'a str>,
    /// The offset within the room's stream (durable events only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The event: `type` and `data`.
    #[serde(flatten)]
    pub event: &'a Event,
}

/// The `lagged` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lagged {
    /// Ephemeral events dropped since the last `lagged`.
    pub dropped_ephemeral: u64,
    /// Rooms where durable events were dropped, with the last position
    /// delivered: resume from there.
    pub rooms: Vec<RoomPosition>,
}

/// The `room_joined` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomJoined {
    /// Room name.
    pub room: String,
    /// The stream position live delivery starts after.
    pub position: StreamPos,
}

/// The `room_left` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomLeft {
    /// Room name.
    pub room: String,
    /// Why, e.g. `kicked`, `banned`, `left`, `access_revoked`, `unsubscribed`.
    pub reason: String,
}

/// The `ack` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// The command's nonce.
    pub nonce: String,
    /// Command-specific result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// The `error` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable detail.
    pub message: String,
    /// The failed command's nonce, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// The `pong` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    /// The `ping`'s nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// The `reauth_required` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReauthRequired {
    /// Why, e.g. `permissions_changed`, `token_expiring`.
    pub reason: String,
}

/// The `reauthed` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reauthed {
    /// Rooms the new authorization added.
    pub rooms_added: Vec<RoomPosition>,
    /// Rooms it removed.
    pub rooms_removed: Vec<String>,
    /// When the new token expires.
    pub token_expires_at: Timestamp,
}

/// The `reconnect` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconnect {
    /// Why, e.g. `shutdown`.
    pub reason: String,
}
