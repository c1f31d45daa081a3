//! Channel structure events (invalidate), and group DM departures.

use serde::{Deserialize, Serialize};

use crate::Id;

/// `CHANNEL_CREATED` / `CHANNEL_UPDATED` / `CHANNEL_DELETED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRef {
    /// Community id.
    pub community_id: Id,
    /// Channel id.
    pub channel_id: Id,
}

/// `CHANNELS_REORDERED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelsReordered {
    /// Community id.
    pub community_id: Id,
}

/// `DM_RECIPIENT_LEFT`: a participant left a group DM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmRecipientLeft {
    /// The group DM's channel id.
    pub channel_id: Id,
    /// Who left.
    pub user_id: Id,
}
