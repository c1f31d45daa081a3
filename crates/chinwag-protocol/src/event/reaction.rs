//! Reaction and pin events.

use serde::{Deserialize, Serialize};

use crate::Id;
use crate::model::ReactionSummary;

/// `REACTION_ADDED` / `REACTION_REMOVED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionChanged {
    /// Message id.
    pub message_id: Id,
    /// Channel id.
    pub channel_id: Id,
    /// Who reacted or un-reacted.
    pub user_id: Id,
    /// The emoji's summary after the change (count 0 when the last went).
    pub reaction: ReactionSummary,
    /// The message's new version.
    pub version: i64,
}

/// `MESSAGE_PINNED` / `MESSAGE_UNPINNED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinChanged {
    /// Message id.
    pub message_id: Id,
    /// Channel id.
    pub channel_id: Id,
    /// Who pinned or unpinned.
    pub actor_id: Id,
    /// Pinned after the change.
    pub pinned: bool,
    /// The message's new version.
    pub version: i64,
}
