//! Thread events.

use serde::{Deserialize, Serialize};

use crate::model::Message;
use crate::{Id, Timestamp};

/// `NEW_THREAD_REPLY` / `UPDATE_THREAD_REPLY`: the full reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadReply {
    /// The reply; `thread_parent_id` names its parent.
    pub message: Message,
}

/// `DELETE_THREAD_REPLY`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteThreadReply {
    /// Reply id.
    pub id: Id,
    /// Parent message id.
    pub parent_id: Id,
    /// Channel id.
    pub channel_id: Id,
    /// The reply's version after deletion.
    pub version: i64,
}

/// `THREAD_REPLY_COUNT_UPDATED`: new metadata for the parent message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadReplyCountUpdated {
    /// Parent message id.
    pub message_id: Id,
    /// Channel id.
    pub channel_id: Id,
    /// Replies now.
    pub reply_count: i64,
    /// Time of the latest reply.
    pub last_reply_at: Option<Timestamp>,
    /// The parent's new version.
    pub version: i64,
}
