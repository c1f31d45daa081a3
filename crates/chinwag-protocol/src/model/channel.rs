//! Channels and read state.

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

/// What a channel is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A community text channel.
    Text,
    /// A community voice channel.
    Voice,
    /// A one-to-one direct message conversation.
    Dm,
    /// A direct message conversation of up to ten users.
    GroupDm,
}

/// A channel: a community text or voice channel, or a DM conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Channel id.
    pub id: Id,
    /// The community, or `None` for DMs.
    pub community_id: Option<Id>,
    /// Kind.
    pub kind: ChannelKind,
    /// Name (empty for one-to-one DMs).
    pub name: String,
    /// Topic line.
    pub topic: Option<String>,
    /// Order in the channel list.
    pub position: i32,
    /// Private channels are visible only to their member list.
    pub private: bool,
    /// DM participants (empty for community channels).
    pub recipient_ids: Vec<Id>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Channel version.
    pub version: i64,
}

/// A user's read position and unread counters in one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadState {
    /// Channel id.
    pub channel_id: Id,
    /// Last message read.
    pub last_read_message_id: Option<Id>,
    /// Messages after the read position.
    pub unread_count: i64,
    /// Messages after the read position that mention the user.
    pub mention_count: i64,
    /// Read-state version for this (user, channel).
    pub version: i64,
}
