//! Messages, reactions and notifications.

use serde::{Deserialize, Serialize};

use crate::model::User;
use crate::{Id, Timestamp};

/// A message in a channel, DM or thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Message id; ids grow with time within a channel.
    pub id: Id,
    /// Channel id.
    pub channel_id: Id,
    /// Community id, `None` in DMs.
    pub community_id: Option<Id>,
    /// The author's profile.
    pub author: User,
    /// Text content.
    pub content: String,
    /// Users mentioned with `<@id>`.
    pub mention_ids: Vec<Id>,
    /// For a thread reply, the parent message.
    pub thread_parent_id: Option<Id>,
    /// For a parent message, the number of thread replies.
    pub reply_count: i64,
    /// Reactions, one entry per emoji.
    pub reactions: Vec<ReactionSummary>,
    /// Whether the message is pinned.
    pub pinned: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last edit time.
    pub edited_at: Option<Timestamp>,
    /// The sender's nonce, echoed so it can match its pending message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Message version; every edit, reaction, pin or reply bumps it.
    pub version: i64,
}

/// The reactions with one emoji on one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionSummary {
    /// The emoji (a Unicode string or a custom name).
    pub emoji: String,
    /// How many users reacted.
    pub count: i64,
    /// Who reacted.
    pub user_ids: Vec<Id>,
}

/// Why a notification was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// The user was mentioned.
    Mention,
    /// Someone replied in a thread the user started.
    Reply,
    /// A direct message.
    Dm,
}

/// A notification for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Notification id.
    pub id: Id,
    /// Recipient.
    pub user_id: Id,
    /// Kind.
    pub kind: NotificationKind,
    /// Who caused it.
    pub actor_id: Id,
    /// Channel of the message.
    pub channel_id: Id,
    /// Community, `None` for DMs.
    pub community_id: Option<Id>,
    /// The message that caused it.
    pub message_id: Id,
    /// A short excerpt of the message.
    pub excerpt: String,
    /// Whether it was read.
    pub read: bool,
    /// Creation time.
    pub created_at: Timestamp,
}
