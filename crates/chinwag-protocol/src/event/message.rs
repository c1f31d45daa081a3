//! Message events.

use serde::{Deserialize, Serialize};

use crate::Id;
use crate::model::{Channel, Message};

/// `NEW_MESSAGE`: the full message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    /// The message.
    pub message: Message,
}

/// `NEW_DM`: the full message and its DM channel, so a client can show a
/// conversation it has not seen before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDm {
    /// The message.
    pub message: Message,
    /// The DM channel.
    pub channel: Channel,
}

/// `UPDATE_MESSAGE`: the full edited message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateMessage {
    /// The message after the edit.
    pub message: Message,
}

/// `DELETE_MESSAGE`: which message to drop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMessage {
    /// Message id.
    pub id: Id,
    /// Channel id.
    pub channel_id: Id,
    /// Community id, `None` in DMs.
    pub community_id: Option<Id>,
    /// The message's version after deletion.
    pub version: i64,
}
