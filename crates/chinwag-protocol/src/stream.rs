//! Stream positions, resume requests and summaries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A position in one room's stream: the last offset seen within an epoch.
/// An epoch names one incarnation of a stream; offsets restart when it
/// changes, and a client holding an old epoch must resync that room.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamPos {
    /// Stream incarnation.
    pub epoch: String,
    /// Last offset seen (offsets start at 1).
    pub offset: u64,
}

/// A room and a position in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPosition {
    /// Room name, e.g. `channel:42`.
    pub room: String,
    /// Position in it.
    #[serde(flatten)]
    pub pos: StreamPos,
}

/// What a client asks to resume: the last position it saw per room.
pub type ResumeRequest = BTreeMap<String, StreamPos>;

/// Why a room needs a resync instead of a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResyncReason {
    /// History no longer reaches back to the client's offset.
    HistoryTruncated,
    /// The stream was recreated; the client's epoch is gone.
    EpochChanged,
    /// Live events after the client's join were already delivered on this
    /// connection, so what it missed before the join cannot be replayed in
    /// order. Resume before subscribing (or name the topic in the resume).
    LiveAhead,
}

/// A room the client must refetch over REST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resync {
    /// Room name.
    pub room: String,
    /// Why.
    pub reason: ResyncReason,
    /// The stream's position now; continue from here after refetching.
    pub position: StreamPos,
}

/// The answer to a resume: what was replayed, what must be refetched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeSummary {
    /// Events replayed, per room.
    pub replayed: BTreeMap<String, u64>,
    /// Rooms that need a resync.
    pub resync: Vec<Resync>,
    /// Rooms asked for that this connection may not (or no longer) see;
    /// nothing was replayed for them.
    pub denied: Vec<String>,
}
