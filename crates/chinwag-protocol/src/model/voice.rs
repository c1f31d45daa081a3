//! Voice presence (state only; Chinwag carries no media).

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

/// One user's state in a voice channel or DM call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceState {
    /// User id.
    pub user_id: Id,
    /// Voice channel or DM channel id.
    pub channel_id: Id,
    /// Community, `None` for DM calls.
    pub community_id: Option<Id>,
    /// Self-muted.
    pub muted: bool,
    /// Self-deafened.
    pub deafened: bool,
    /// When the user joined.
    pub joined_at: Timestamp,
    /// Version of this user's voice state.
    pub version: i64,
}
